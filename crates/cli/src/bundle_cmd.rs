//! `verify-bundle`: the Sigstore conformance command line over the verification engine.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use sigil_crypto::hash::hash_reader_multi;
use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{self, AnyBundle, Bundle};
use sigil_formats::trust_root::TrustedRoot;
use sigil_verify::{Artifact, Matcher, Options, Report, Requirement, TrustMaterial, verify_bundle};

use crate::cli::{OutputFormat, SignerArgs, VerifyBundle};
use crate::support::{
    Input, VerificationFailed, load_public_key, print_json, progress, read_limited,
};

/// The trust material from `--trusted-root` / `--staging` / the embedded public-good root.
pub fn trust_material(args: &SignerArgs) -> Result<TrustMaterial> {
    if let Some(path) = &args.trusted_root {
        let bytes = read_limited(
            path,
            sigil_formats::trust_root::MAX_TRUSTED_ROOT_LEN,
            "trusted root",
        )?;
        let root = TrustedRoot::parse(&bytes)
            .with_context(|| format!("trusted root {}", path.display()))?;
        return Ok(TrustMaterial::new(root));
    }
    Ok(if args.staging {
        TrustMaterial::staging()
    } else {
        TrustMaterial::public_good()
    })
}

fn matcher(exact: &Option<String>, regexp: &Option<String>, what: &str) -> Result<Option<Matcher>> {
    Ok(match (exact, regexp) {
        (Some(e), _) => Some(Matcher::Exact(e.clone())),
        (None, Some(r)) => {
            Some(Matcher::Regex(regex::Regex::new(r).with_context(|| {
                format!("invalid {what} regular expression")
            })?))
        }
        (None, None) => None,
    })
}

/// The requirement from `--key` or the identity flags.
pub fn requirement(args: &SignerArgs) -> Result<Requirement> {
    let identity = matcher(
        &args.certificate_identity,
        &args.certificate_identity_regexp,
        "--certificate-identity",
    )?;
    let issuer = matcher(
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
        "--certificate-oidc-issuer",
    )?;
    match (&args.key, identity, issuer) {
        (Some(k), None, None) => Ok(Requirement::Key(load_public_key(k)?)),
        (Some(_), _, _) => bail!(
            "pass either --key or the --certificate-identity/--certificate-oidc-issuer flags, not both"
        ),
        (None, Some(identity), Some(issuer)) => Ok(Requirement::Identity { identity, issuer }),
        (None, Some(_), None) => bail!(
            "--certificate-oidc-issuer (or --certificate-oidc-issuer-regexp) is required with --certificate-identity"
        ),
        (None, None, Some(_)) => bail!(
            "--certificate-identity (or --certificate-identity-regexp) is required with --certificate-oidc-issuer"
        ),
        (None, None, None) => bail!(
            "say who must have signed: --key, or --certificate-identity and --certificate-oidc-issuer"
        ),
    }
}

/// Reads a Sigstore bundle file.
pub fn read_bundle(path: &Path) -> Result<Bundle> {
    let bytes = read_limited(path, bundle::MAX_BUNDLE_LEN, "bundle")?;
    match bundle::parse_any(&bytes).with_context(|| format!("bundle {}", path.display()))? {
        AnyBundle::Sigstore(b) => Ok(*b),
        AnyBundle::Cosign(_) => bail!(
            "bundle {} is cosign's old --bundle format, not a Sigstore bundle; use verify-blob",
            path.display()
        ),
    }
}

/// The artefact's digests: a file is hashed (SHA-256, plus the bundle's digest algorithm);
/// `sha256:<hex>` is taken as given when no file of that name exists.
pub fn artifact(file_or_digest: &str, bundle: &Bundle) -> Result<Artifact> {
    if let Some(hex) = file_or_digest.strip_prefix("sha256:") {
        if !Path::new(file_or_digest).exists() {
            // from_bytes checks the length (32 bytes, 64 hex digits).
            let d = sigil_crypto::hash::hex_decode(hex)
                .and_then(|b| Digest::from_bytes(HashAlgorithm::Sha256, &b))
                .ok_or_else(|| {
                    anyhow!("{file_or_digest:?} is not a sha256 digest (64 hex digits) nor an existing file")
                })?;
            return Ok(Artifact::from_digests(vec![d]));
        }
    }
    let mut algs = vec![HashAlgorithm::Sha256];
    if let Some(alg) = bundle
        .message_signature
        .as_ref()
        .and_then(|m| m.message_digest.as_ref())
        .and_then(|d| HashAlgorithm::from_sigstore_name(&d.algorithm))
    {
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    let path = Path::new(file_or_digest);
    let input = Input::open(path)?;
    let pb = progress(input.len(), "hashing");
    let digests = hash_reader_multi(&algs, input.reader(), |n| pb.inc(n))
        .with_context(|| format!("cannot read {}", path.display()))?;
    pb.finish_and_clear();
    Ok(Artifact::from_digests(digests))
}

/// Prints the report and turns a failure into exit code 1.
pub fn finish(report: &Report, output: OutputFormat, subject: &str) -> Result<()> {
    if output == OutputFormat::Json {
        print_json(
            &json!({"verified": report.verified(), "subject": subject, "checks": report.checks}),
        )?;
    }
    match crate::logreq::explain(report) {
        None if report.verified() => {
            if output == OutputFormat::Text {
                errln!("Verified OK");
            }
            Ok(())
        }
        None => Err(VerificationFailed("nothing was verified".into()).into()),
        Some(why) => Err(VerificationFailed(why).into()),
    }
}

pub fn verify(args: VerifyBundle) -> Result<()> {
    let trust = trust_material(&args.signer)?;
    let req = requirement(&args.signer)?;
    let b = read_bundle(&args.bundle)?;
    let artifact = artifact(&args.file_or_digest, &b)?;
    let options = Options {
        require_tlog: args.signer.tlog.required(),
        predicate_type: None,
        require_sct: !args.signer.insecure_ignore_sct,
        require_timestamp: args.signer.use_signed_timestamps,
        certificate_extensions: args.signer.certificate_extensions(),
    };
    let report = verify_bundle(&b, &artifact, &trust, &req, &options);
    finish(&report, args.output, &args.file_or_digest)
}

/// `sign-bundle`: keyless signing of a file (or, with `--in-toto`, of an in-toto statement)
/// into a bundle, through the same flow as `sign-blob --identity-token`.
pub fn sign(a: crate::cli::SignBundle) -> Result<()> {
    let (fulcio, rekor) = match (&a.signing_config, a.staging) {
        (None, true) => (
            Some("https://fulcio.sigstage.dev".to_owned()),
            "https://rekor.sigstage.dev".to_owned(),
        ),
        (None, false) => (
            Some("https://fulcio.sigstore.dev".to_owned()),
            crate::cli::DEFAULT_REKOR_URL.to_owned(),
        ),
        (Some(_), _) => (None, crate::cli::DEFAULT_REKOR_URL.to_owned()),
    };
    let cert = crate::cli::CertificateArgs {
        identity_token: Some(a.identity_token.clone()),
        fulcio_url: fulcio,
        signing_config: a.signing_config.clone(),
        ..Default::default()
    };
    let tlog = crate::cli::TlogUploadArgs {
        tlog_upload: true,
        rekor_url: rekor,
        timestamp_server_url: None,
    };
    let input = Input::open(&a.file)?;
    let s = crate::support::signing(None, &cert, &tlog)?;
    if let Some(path) = &a.trusted_root {
        check_sct(path, s.signer.certificate_chain())?;
    }
    let bundle = if a.in_toto {
        let bytes = read_limited(&a.file, 16 << 20, "in-toto statement")?;
        let statement: sigil_formats::dsse::Statement = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an in-toto statement", a.file.display()))?;
        sigil_sign::blob::attest_stamped(
            s.signer.as_ref(),
            &statement,
            s.log.as_ref(),
            s.tsa.as_ref(),
        )?
        .bundle
    } else {
        let pb = progress(input.len(), "hashing");
        let digest =
            sigil_crypto::hash::hash_reader(s.signer.signing_hash(), input.reader(), |n| pb.inc(n))
                .with_context(|| format!("cannot read {}", a.file.display()))?;
        pb.finish_and_clear();
        sigil_sign::blob::sign_digest_stamped(
            s.signer.as_ref(),
            &digest,
            s.log.as_ref(),
            s.tsa.as_ref(),
        )?
        .bundle
    };
    let mut out = crate::support::AtomicOutputs::new(true);
    out.add(&a.bundle, bundle.to_json().as_bytes(), 0o644)?;
    out.commit()?;
    errln!("Wrote bundle to file {}", a.bundle.display());
    Ok(())
}

/// The leaf's embedded SCT verifies against one of the trusted root's CT logs (what
/// sigstore-python checks when it signs).
fn check_sct(trusted_root: &Path, chain: &[Vec<u8>]) -> Result<()> {
    let bytes = read_limited(
        trusted_root,
        sigil_formats::trust_root::MAX_TRUSTED_ROOT_LEN,
        "trusted root",
    )?;
    let root = TrustedRoot::parse(&bytes)
        .with_context(|| format!("trusted root {}", trusted_root.display()))?;
    let (Some(leaf), Some(issuer)) = (chain.first(), chain.get(1)) else {
        bail!("the CA answered without the issuer of the certificate");
    };
    let leaf = sigil_pki::cert::Certificate::from_der(leaf)?;
    let issuer = sigil_pki::cert::Certificate::from_der(issuer)?;
    sigil_pki::sct::verify_embedded_scts(&leaf, &issuer, &root.ctlogs).with_context(|| {
        format!(
            "the certificate's SCT does not verify against the CT logs of {}",
            trusted_root.display()
        )
    })?;
    Ok(())
}

//! `sign-blob` and `verify-blob` with keys.

use anyhow::{Context, Result, anyhow, bail};
use sigil_crypto::hash::{hash_reader, hash_reader_multi};
use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{self, AnyBundle, Bundle};
use sigil_formats::signature::{decode_signature, encode_signature};

use crate::cli::{SignBlob, VerifyBlob};
use crate::support::{
    AtomicOutputs, Input, load_public_key, load_signing_key, progress, read_limited,
};

pub fn sign(args: SignBlob) -> Result<()> {
    // Check the input before asking for a password.
    let input = Input::open(&args.file)?;
    let key = load_signing_key(&args.key)?;
    let algorithm = key.algorithm().signing_hash();
    let pb = progress(input.len(), "hashing");
    let digest = hash_reader(algorithm, input.reader(), |n| pb.inc(n))
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    pb.finish_and_clear();
    let log = crate::rekor::upload_log_if(args.tlog.tlog_upload, &args.tlog.rekor_url)?;
    let signed = sigil_sign::blob::sign_digest(&key, &digest, log.as_ref())?;
    if let Some(e) = &signed.entry {
        errln!("tlog entry created with index: {}", e.log_index.0);
    }
    let b64 = encode_signature(&signed.signature);

    let mut outputs = AtomicOutputs::new(true);
    if let Some(path) = &args.output_signature {
        outputs.add(path, b64.as_bytes(), 0o644)?;
    }
    if let Some(path) = &args.bundle {
        outputs.add(path, signed.bundle.to_json().as_bytes(), 0o644)?;
    }
    outputs.commit()?;
    match &args.output_signature {
        Some(path) => errln!("Wrote signature to file {}", path.display()),
        None => outln!("{b64}"),
    }
    if let Some(path) = &args.bundle {
        errln!("Wrote bundle to file {}", path.display());
    }
    Ok(())
}

/// The signature and what came with it.
struct Evidence {
    signature: Vec<u8>,
    /// The digest a bundle claims for the artefact.
    claimed: Option<Digest>,
}

/// How a `verify-blob` is checked: by the full engine, or as a key signature.
enum Route {
    /// Certificates and log entries are evidence only the engine can weigh; a bundle without
    /// an entry goes here too when the verifier requires one (the engine says it is missing).
    Engine(Box<sigil_formats::bundle::Bundle>),
    /// A key-signed signature whose log requirement was waived.
    KeyOnly(Evidence),
    /// A detached signature that must be found in the log given with `--rekor-url`.
    Lookup(Vec<u8>),
}

/// Reads the signature or bundle once and decides how to verify it.
fn route(args: &VerifyBlob) -> Result<Route> {
    if let Some(path) = &args.signature {
        let signature = crate::support::read_signature_arg(path)?;
        if args.signer.tlog.required() {
            return Ok(Route::Lookup(signature));
        }
        return Ok(Route::KeyOnly(Evidence {
            signature,
            claimed: None,
        }));
    }
    let path = args
        .bundle
        .as_ref()
        .ok_or_else(|| anyhow!("either --signature or --bundle is required"))?;
    let identity = args.signer.certificate_identity.is_some()
        || args.signer.certificate_identity_regexp.is_some();
    let bytes = read_limited(path, bundle::MAX_BUNDLE_LEN, "bundle")?;
    match bundle::parse_any(&bytes).with_context(|| format!("bundle {}", path.display()))? {
        AnyBundle::Sigstore(b) => {
            let vm = &b.verification_material;
            if identity
                || args.signer.tlog.required()
                || !vm.tlog_entries.is_empty()
                || vm.certificate.is_some()
                || vm.x509_certificate_chain.is_some()
            {
                return Ok(Route::Engine(b));
            }
            let Some(ms) = &b.message_signature else {
                bail!(
                    "bundle {} holds a DSSE envelope (an attestation), not a message signature",
                    path.display()
                );
            };
            let claimed = match &ms.message_digest {
                Some(d) => {
                    let alg = HashAlgorithm::from_sigstore_name(&d.algorithm).ok_or_else(|| {
                        anyhow!(
                            "bundle {}: unsupported messageDigest algorithm {:?}",
                            path.display(),
                            d.algorithm
                        )
                    })?;
                    Some(Digest::from_bytes(alg, &d.digest.0).ok_or_else(|| {
                        anyhow!(
                            "bundle {}: the {} messageDigest has {} bytes, expected {}",
                            path.display(),
                            alg,
                            d.digest.0.len(),
                            alg.output_len()
                        )
                    })?)
                }
                None => None,
            };
            Ok(Route::KeyOnly(Evidence {
                signature: ms.signature.0.clone(),
                claimed,
            }))
        }
        // cosign's old format: with a certificate or a Rekor entry, verify it as the v0.1 bundle
        // it is equivalent to, so that the SET and the certificate are checked.
        AnyBundle::Cosign(c)
            if identity || c.rekor_bundle.is_some() || args.signer.tlog.required() =>
        {
            Ok(Route::Engine(Box::new(
                c.to_sigstore()
                    .with_context(|| format!("bundle {}", path.display()))?,
            )))
        }
        AnyBundle::Cosign(c) => Ok(Route::KeyOnly(Evidence {
            signature: decode_signature(c.base64_signature.as_bytes())
                .with_context(|| format!("bundle {}: base64Signature", path.display()))?,
            claimed: None,
        })),
    }
}

pub fn verify(args: VerifyBlob) -> Result<()> {
    let file = args.file.to_string_lossy().into_owned();
    let options = sigil_verify::Options {
        require_tlog: args.signer.tlog.required(),
        predicate_type: None,
    };
    let evidence = match route(&args)? {
        Route::Engine(b) => {
            let trust = crate::bundle_cmd::trust_material(&args.signer)?;
            let req = crate::bundle_cmd::requirement(&args.signer)?;
            let artifact = crate::bundle_cmd::artifact(&file, &b)?;
            let report = sigil_verify::verify_bundle(&b, &artifact, &trust, &req, &options);
            return crate::bundle_cmd::finish(&report, args.output, &file);
        }
        Route::Lookup(signature) => {
            let trust = crate::bundle_cmd::trust_material(&args.signer)?;
            let req = crate::bundle_cmd::requirement(&args.signer)?;
            let sigil_verify::Requirement::Key(key) = &req else {
                bail!("a detached signature is verified with --key");
            };
            key.check_signature_encoding(&signature)
                .context("the signature is malformed input")?;
            let alg = key.algorithm().signing_hash();
            let probe = Bundle::message_signature_with_key(
                key.hint(),
                alg.sigstore_name(),
                Vec::new(),
                Vec::new(),
            );
            let artifact = crate::bundle_cmd::artifact(&file, &probe)?;
            let digest = artifact
                .digest(alg)
                .cloned()
                .ok_or_else(|| anyhow!("the artefact's {alg} digest is unknown"))?;
            let report = match sigil_blob::signature::verify_detached_logged(
                key,
                &signature,
                &digest,
                &artifact,
                &trust,
                &args.signer.tlog.rekor_url,
            ) {
                Ok(r) => r,
                Err(e @ sigil_rekor::lookup::LookupError::NoEntry { .. }) => {
                    return Err(crate::support::VerificationFailed(e.to_string()).into());
                }
                Err(e) => return Err(e.into()),
            };
            return crate::bundle_cmd::finish(&report, args.output, &file);
        }
        Route::KeyOnly(evidence) => evidence,
    };
    let key_ref = args
        .signer
        .key
        .as_deref()
        .ok_or_else(|| anyhow!("--key is required to verify a key-signed signature"))?;
    let key = load_public_key(key_ref)?;
    key.check_signature_encoding(&evidence.signature)
        .context("the signature is malformed input")?;
    let input = Input::open(&args.file)?;
    let mut algorithms = key.algorithm().accepted_hashes().to_vec();
    if let Some(c) = &evidence.claimed
        && !algorithms.contains(&c.algorithm())
    {
        algorithms.push(c.algorithm());
    }
    let pb = progress(input.len(), "hashing");
    let digests = hash_reader_multi(&algorithms, input.reader(), |n| pb.inc(n))
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    pb.finish_and_clear();
    let trust = crate::bundle_cmd::trust_material(&args.signer)?;
    let report = sigil_blob::signature::verify_key_signature(
        &key,
        &evidence.signature,
        evidence.claimed.as_ref(),
        digests,
        &trust,
        &options,
    );
    crate::bundle_cmd::finish(&report, args.output, &file)
}

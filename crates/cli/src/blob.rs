//! `sign-blob` and `verify-blob` with keys.

use anyhow::{Context, Result, anyhow, bail};
use sigil_crypto::hash::{hash_reader, hash_reader_multi};
use sigil_formats::bundle::{self, Bundle};
use sigil_formats::signature::encode_signature;

use sigil_blob::evidence::{Requires, Route};

use crate::cli::{SignBlob, VerifyBlob};
use crate::support::{AtomicOutputs, Input, load_public_key, progress, read_limited};

pub fn sign(args: SignBlob) -> Result<()> {
    // Check the input before asking for a password.
    let input = Input::open(&args.file)?;
    let crate::support::Signing {
        signer: key,
        log,
        tsa,
    } = crate::support::signing(args.key.as_deref(), &args.certificate, &args.tlog)?;
    let algorithm = key.signing_hash();
    let pb = progress(input.len(), "hashing");
    let digest = hash_reader(algorithm, input.reader(), |n| pb.inc(n))
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    pb.finish_and_clear();
    let signed =
        sigil_sign::blob::sign_digest_stamped(key.as_ref(), &digest, log.as_ref(), tsa.as_ref())?;
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

/// Reads the signature or bundle once; `sigil_blob::evidence` decides how it is verified.
fn route(args: &VerifyBlob) -> Result<Route> {
    let requires = Requires {
        tlog: args.signer.tlog.required(),
        identity: args.signer.certificate_identity.is_some()
            || args.signer.certificate_identity_regexp.is_some(),
    };
    if let Some(path) = &args.signature {
        let signature = crate::support::read_signature_arg(path)?;
        return Ok(sigil_blob::evidence::detached(signature, requires));
    }
    let path = args
        .bundle
        .as_ref()
        .ok_or_else(|| anyhow!("either --signature or --bundle is required"))?;
    let bytes = read_limited(path, bundle::MAX_BUNDLE_LEN, "bundle")?;
    sigil_blob::evidence::bundle(&bytes, requires)
        .with_context(|| format!("bundle {}", path.display()))
}

pub fn verify(args: VerifyBlob) -> Result<()> {
    let file = args.file.to_string_lossy().into_owned();
    let options = sigil_verify::Options {
        require_tlog: args.signer.tlog.required(),
        predicate_type: None,
        require_sct: !args.signer.insecure_ignore_sct,
        require_timestamp: args.signer.use_signed_timestamps,
        certificate_extensions: args.signer.certificate_extensions(),
    };
    let (signature, claimed) = match route(&args)? {
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
        Route::KeyOnly { signature, claimed } => (signature, claimed),
    };
    let key_ref = args
        .signer
        .key
        .as_deref()
        .ok_or_else(|| anyhow!("--key is required to verify a key-signed signature"))?;
    let key = load_public_key(key_ref)?;
    key.check_signature_encoding(&signature)
        .context("the signature is malformed input")?;
    let input = Input::open(&args.file)?;
    let mut algorithms = key.algorithm().accepted_hashes().to_vec();
    if let Some(c) = &claimed
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
        &signature,
        claimed.as_ref(),
        digests,
        &trust,
        &options,
    );
    crate::bundle_cmd::finish(&report, args.output, &file)
}

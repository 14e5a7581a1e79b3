//! `attest-blob` and `verify-blob-attestation` with keys.

use anyhow::{Context, Result, anyhow, bail};
use sigil_crypto::HashAlgorithm;
use sigil_crypto::hash::hash_reader;
use sigil_formats::bundle::{Bundle, Envelope};
use sigil_formats::dsse::{self};
use sigil_formats::time::Timestamp;
use sigil_verify::{Options, Requirement, verify_bundle};

use crate::bundle_cmd::{artifact, finish, read_bundle, requirement, trust_material};
use crate::cli::{AttestBlob, VerifyBlobAttestation};
use crate::support::{AtomicOutputs, Input, progress, read_limited};

/// Largest predicate accepted (SBOMs can be large).
const MAX_PREDICATE_LEN: usize = 64 * 1024 * 1024;

/// The predicate type URI for a `--type` value (cosign's shortcuts, or a URI).
pub fn resolve_type(t: &str) -> Result<String> {
    dsse::predicate_type(t)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("--type {t:?} is neither a cosign shortcut (custom, slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex) nor a URI"))
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
pub fn now() -> Timestamp {
    sigil_sign::now()
}

/// The predicate for `--type`/`--predicate`: the file's JSON, or for `custom` cosign's wrapper
/// around the file's text.
pub fn read_predicate(type_: &str, path: &std::path::Path) -> Result<serde_json::Value> {
    let raw = read_limited(path, MAX_PREDICATE_LEN, "predicate")?;
    if type_ == "custom" {
        return Ok(
            serde_json::json!({"Data": String::from_utf8_lossy(&raw), "Timestamp": now().to_rfc3339()}),
        );
    }
    serde_json::from_slice(&raw)
        .with_context(|| format!("the predicate {} is not JSON", path.display()))
}

pub fn attest(args: AttestBlob) -> Result<()> {
    let predicate_type = resolve_type(&args.type_)?;
    let predicate = read_predicate(&args.type_, &args.predicate)?;
    let input = Input::open(&args.file)?;
    let crate::support::Signing {
        signer: key,
        log,
        tsa,
    } = crate::support::signing(args.key.as_deref(), &args.certificate, &args.tlog)?;
    let pb = progress(input.len(), "hashing");
    let digest = hash_reader(HashAlgorithm::Sha256, input.reader(), |n| pb.inc(n))
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    pb.finish_and_clear();
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "-".into());
    let statement = sigil_sign::blob::statement(&name, &digest, &predicate_type, predicate);
    let att =
        sigil_sign::blob::attest_stamped(key.as_ref(), &statement, log.as_ref(), tsa.as_ref())?;
    if let Some(e) = &att.entry {
        errln!("tlog entry created with index: {}", e.log_index.0);
    }
    let envelope_json = &att.envelope_json;
    let mut outputs = AtomicOutputs::new(true);
    if let Some(p) = &args.output_attestation {
        outputs.add(p, envelope_json.as_bytes(), 0o644)?;
    }
    if let Some(p) = &args.bundle {
        outputs.add(p, att.bundle.to_json().as_bytes(), 0o644)?;
    }
    outputs.commit()?;
    match &args.output_attestation {
        Some(p) => errln!("Wrote attestation to file {}", p.display()),
        None => outln!("{envelope_json}"),
    }
    if let Some(p) = &args.bundle {
        errln!("Wrote bundle to file {}", p.display());
    }
    Ok(())
}

pub fn verify(args: VerifyBlobAttestation) -> Result<()> {
    let predicate_type = resolve_type(&args.type_)?;
    let trust = trust_material(&args.signer)?;
    let req = requirement(&args.signer)?;
    let (bundle, detached) = match (&args.bundle, &args.signature) {
        (Some(p), _) => (read_bundle(p)?, false),
        (None, Some(p)) => {
            let bytes = read_limited(p, sigil_formats::bundle::MAX_BUNDLE_LEN, "attestation")?;
            let envelope: Envelope = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a DSSE envelope", p.display()))?;
            (Bundle::dsse_with_key(String::new(), envelope), true)
        }
        (None, None) => bail!("either --bundle or --signature is required"),
    };
    if bundle.dsse_envelope.is_none() {
        bail!("the bundle holds a message signature, not an attestation; use verify-blob");
    }
    let file = args.file.to_string_lossy().into_owned();
    let artifact = artifact(&file, &bundle)?;
    let options = Options {
        require_tlog: args.signer.tlog.required(),
        predicate_type: Some(predicate_type),
        require_sct: !args.signer.insecure_ignore_sct,
        require_timestamp: args.signer.use_signed_timestamps,
        certificate_extensions: args.signer.certificate_extensions(),
    };
    let report = match (&req, detached && options.require_tlog) {
        // A bare envelope carries no entry: find it in the log, by the subject's digest (what
        // the log indexes a dsse entry under) and the key.
        (Requirement::Key(key), true) => {
            let subject = artifact
                .digest(sigil_crypto::HashAlgorithm::Sha256)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("the artefact's sha256 digest is unknown"))?;
            crate::logreq::verify_unlogged(
                &args.signer.tlog.rekor_url,
                &subject,
                key,
                &bundle,
                |b| verify_bundle(b, &artifact, &trust, &req, &options),
            )?
        }
        _ => verify_bundle(&bundle, &artifact, &trust, &req, &options),
    };
    finish(&report, args.output, &file)
}

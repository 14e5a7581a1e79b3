//! What a verification requires of the transparency log, as cosign decides it: a log entry is
//! required unless the verifier waives it (`--insecure-ignore-tlog`, or cosign's
//! `--private-infrastructure` for signatures made without a public log). The requirement comes
//! from these flags, never from what the evidence happens to carry. Evidence that carries no
//! entry (a detached `.sig`, a bare DSSE envelope, an image signature without cosign's bundle
//! annotation) is looked up in the log given with `--rekor-url` and verified by the engine.

use anyhow::Result;
use sigil_crypto::{Digest, PublicKey};
use sigil_formats::bundle::Bundle;
use sigil_verify::{CheckName, Report};

use crate::support::VerificationFailed;

pub use sigil_rekor::lookup::WAIVER_HINT;

/// Whether a log entry is required.
pub fn required(insecure_ignore_tlog: bool, private_infrastructure: bool) -> bool {
    !(insecure_ignore_tlog || private_infrastructure)
}

/// The engine's failure, with the waiver flags named when what failed is a missing entry.
pub fn explain(report: &Report) -> Option<String> {
    let (name, why) = report.first_failure()?;
    if name == CheckName::TlogEntry && why.starts_with(sigil_verify::NO_TLOG_ENTRY) {
        Some(format!("check {name} failed: {why} ({WAIVER_HINT})"))
    } else {
        Some(format!("check {name} failed: {why}"))
    }
}

/// [`sigil_rekor::lookup::verify_unlogged`]: a log without an entry for the signature is a
/// verification failure (exit 1); a log that cannot be asked is an error.
pub fn verify_unlogged(
    rekor_url: &str,
    search: &Digest,
    key: &PublicKey,
    evidence: &Bundle,
    verify: impl Fn(&Bundle) -> Report,
) -> Result<Report> {
    match sigil_rekor::lookup::verify_unlogged(rekor_url, search, key, evidence, verify) {
        Ok(r) => Ok(r),
        Err(e @ sigil_rekor::lookup::LookupError::NoEntry { .. }) => {
            Err(VerificationFailed(e.to_string()).into())
        }
        Err(e) => Err(e.into()),
    }
}

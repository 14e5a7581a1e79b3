//! What a verification requires of the transparency log, as cosign decides it: a log entry is
//! required unless the verifier waives it (`--insecure-ignore-tlog`, or cosign's
//! `--private-infrastructure` for signatures made without a public log). The requirement comes
//! from these flags, never from what the evidence happens to carry. Evidence that carries no
//! entry (a detached `.sig`, a bare DSSE envelope, an image signature without cosign's bundle
//! annotation) is looked up in the log given with `--rekor-url` and verified by the engine.

use anyhow::{Context, Result};
use sigil_crypto::{Digest, PublicKey};
use sigil_formats::bundle::{Bundle, TransparencyLogEntry};
use sigil_verify::{CheckName, Report};

use crate::support::VerificationFailed;

/// The flags that waive the requirement, for messages.
pub const WAIVER_HINT: &str = "pass --insecure-ignore-tlog, or --private-infrastructure for signatures made without a public log";

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

/// `evidence` (a bundle without entries) with `entry` as its log entry, under the v0.1 rules: a
/// Rekor v1 answer's SET, inclusion proof and checkpoint are each checked when present.
pub fn with_entry(evidence: &Bundle, entry: TransparencyLogEntry) -> Bundle {
    let mut b = evidence.clone();
    b.media_type = sigil_formats::bundle::MEDIA_TYPE_V01.to_owned();
    b.verification_material.tlog_entries = vec![entry];
    b
}

/// Verifies `evidence`, which carries no log entry: the entries of the log at `rekor_url`
/// recorded for `search` (the digest the entry indexes) and `key` are fetched; each is attached
/// ([`with_entry`]) and verified with `verify`. The first report that verifies is returned;
/// when some entries were found and none verifies, the last report (naming its failure).
pub fn verify_unlogged(
    rekor_url: &str,
    search: &Digest,
    key: &PublicKey,
    evidence: &Bundle,
    verify: impl Fn(&Bundle) -> Report,
) -> Result<Report> {
    let base = rekor_url.trim_end_matches('/');
    let entries = crate::rekor::find_entries(base, search, key).with_context(|| {
        format!("a log entry is required and the signature carries none; looking it up in {base} failed (pass --rekor-url for your log, or {WAIVER_HINT})")
    })?;
    if entries.is_empty() {
        return Err(VerificationFailed(format!(
            "a log entry is required and the signature carries none, and the log at {base} has no entry for {search} signed by key {} ({WAIVER_HINT})",
            key.hint()
        ))
        .into());
    }
    let mut last = Report::default();
    for entry in entries {
        let report = verify(&with_entry(evidence, entry));
        if report.verified() {
            return Ok(report);
        }
        last = report;
    }
    Ok(last)
}

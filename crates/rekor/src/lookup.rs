//! Evidence that carries no log entry (a detached `.sig`, a bare DSSE envelope, an image
//! signature without cosign's bundle annotation), verified as cosign does online: the log's
//! entries for the artefact's digest and the key are fetched, and each is given to the
//! verification engine with the evidence until one verifies. The entries are evidence, not
//! trusted: the engine checks each against the verifier's trust root.

use sigil_crypto::{Digest, PublicKey};
use sigil_formats::bundle::{Bundle, TransparencyLogEntry};
use sigil_verify::Report;

use crate::client::{Client, RekorError};

/// The flags that waive the requirement, for messages.
pub const WAIVER_HINT: &str = "pass --insecure-ignore-tlog, or --private-infrastructure for signatures made without a public log";

/// Why evidence without an entry could not be verified with the log.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The log could not be asked, or its answer was unreadable.
    #[error(
        "a log entry is required and the signature carries none; looking it up in {log} failed (pass --rekor-url for your log, or {WAIVER_HINT}): {source}"
    )]
    Log {
        /// The log.
        log: String,
        /// Why.
        source: RekorError,
    },
    /// The log has no entry for this digest and key.
    #[error(
        "a log entry is required and the signature carries none, and the log at {log} has no entry for {digest} signed by key {key} ({WAIVER_HINT})"
    )]
    NoEntry {
        /// The log.
        log: String,
        /// The digest searched for (`sha256:<hex>`).
        digest: String,
        /// The key's hint.
        key: String,
    },
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
) -> Result<Report, LookupError> {
    let log = rekor_url.trim_end_matches('/').to_owned();
    let entries = Client::new(&log)
        .and_then(|c| c.find_entries(search, key))
        .map_err(|source| LookupError::Log {
            log: log.clone(),
            source,
        })?;
    if entries.is_empty() {
        return Err(LookupError::NoEntry {
            log,
            digest: search.to_string(),
            key: key.hint(),
        });
    }
    let mut last = Report::default();
    for entry in entries {
        let report = verify(&with_entry(evidence, entry.to_bundle_entry()));
        if report.verified() {
            return Ok(report);
        }
        last = report;
    }
    Ok(last)
}

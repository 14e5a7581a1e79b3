//! Key signatures over blobs, through the verification engine.

use sigil_crypto::{Digest, PublicKey};
use sigil_formats::bundle::Bundle;
use sigil_rekor::lookup::LookupError;
use sigil_verify::{Artifact, Options, Report, Requirement, TrustMaterial, verify_bundle};

/// The message-signature bundle a key signature over `digest` is equivalent to (no log
/// evidence: the engine then says whether one was required).
pub fn evidence(key: &PublicKey, digest: &Digest, signature: Vec<u8>) -> Bundle {
    Bundle::message_signature_with_key(
        key.hint(),
        digest.algorithm().sigstore_name(),
        digest.as_bytes().to_vec(),
        signature,
    )
}

/// A key signature whose log requirement was waived, through the same engine as bundles:
/// over the `claimed` digest when the evidence states one (a bundle's `messageDigest`), else
/// over each of the artefact's `digests` (those the key's algorithm accepts) until one
/// verifies. The first failing report when none does.
pub fn verify_key_signature(
    key: &PublicKey,
    signature: &[u8],
    claimed: Option<&Digest>,
    digests: Vec<Digest>,
    trust: &TrustMaterial,
    options: &Options,
) -> Report {
    let req = Requirement::Key(key.clone());
    let attempts: Vec<Digest> = match claimed {
        Some(c) => vec![c.clone()],
        None => digests.clone(),
    };
    let artifact = Artifact::from_digests(digests);
    let mut first = None;
    for d in attempts {
        let report = verify_bundle(
            &evidence(key, &d, signature.to_vec()),
            &artifact,
            trust,
            &req,
            options,
        );
        if report.verified() {
            return report;
        }
        first.get_or_insert(report);
    }
    first.unwrap_or_default()
}

/// A detached signature over an artefact with `digest` (by the key's signing hash) whose log
/// entry is required: the entries of the log at `rekor_url` for the digest and key are fetched
/// and each is verified with the signature by the engine, against `trust`'s logs.
pub fn verify_detached_logged(
    key: &PublicKey,
    signature: &[u8],
    digest: &Digest,
    artifact: &Artifact,
    trust: &TrustMaterial,
    rekor_url: &str,
) -> Result<Report, LookupError> {
    let req = Requirement::Key(key.clone());
    let options = Options {
        require_tlog: true,
        predicate_type: None,
        ..Default::default()
    };
    sigil_rekor::lookup::verify_unlogged(
        rekor_url,
        digest,
        key,
        &evidence(key, digest, signature.to_vec()),
        |b| verify_bundle(b, artifact, trust, &req, &options),
    )
}

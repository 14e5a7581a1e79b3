//! The verdict on one image: what was found, what verified, and why each thing that did not
//! verify failed, as types a policy, a metric or an audit event can match on; the human
//! message of each is its `Display`.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use sigil_oci::attach::{Source, Target};
use sigil_oci::client::Stats;
use sigil_verify::CheckName;

/// One signature or attestation that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Where it was found.
    pub source: Source,
    /// The simple-signing payload or the in-toto statement.
    pub payload: Value,
    /// The DSSE envelope (attestations).
    pub envelope: Option<Value>,
}

/// Why one signature or attestation did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// A simple-signing layer without cosign's signature annotation.
    #[error("the layer has no dev.cosignproject.cosign/signature annotation")]
    NoSignatureAnnotation,
    /// An identity is required and the layer carries no certificate (it was signed with a
    /// key).
    #[error(
        "the signature carries no dev.sigstore.cosign/certificate annotation (it was signed with a key), but the verifier requires a certificate for an identity"
    )]
    NoCertificate,
    /// The layer's certificate annotation does not parse.
    #[error("the signing certificate: {detail}")]
    Certificate {
        /// The parser's message.
        detail: String,
    },
    /// The signature verifies, but its certificate names an identity the policy denies.
    #[error(
        "the signing certificate's identity {identity} (issuer {issuer}) is denied by the organisation's policy (denyIdentities)"
    )]
    IdentityDenied {
        /// The certificate's SAN that matched.
        identity: String,
        /// The certificate's OIDC issuer.
        issuer: String,
    },
    /// The annotation does not decode.
    #[error("the signature annotation is not base64: {detail}")]
    SignatureNotBase64 {
        /// The decoder's message.
        detail: String,
    },
    /// The signature is not the key's over the payload.
    #[error("signature: {detail}")]
    SignatureInvalid {
        /// Why.
        detail: String,
    },
    /// A claim of the payload does not hold (digest, reference, annotations).
    #[error("{detail}")]
    Claim {
        /// Which claim and how.
        detail: String,
    },
    /// The payload is not JSON.
    #[error("payload: {detail}")]
    Payload {
        /// The parser's message.
        detail: String,
    },
    /// The attachment is not the document its media type names (not a bundle, not DSSE).
    #[error("{detail}")]
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// cosign's bundle annotation does not parse.
    #[error("{detail}")]
    BundleAnnotation {
        /// What was wrong.
        detail: String,
    },
    /// A log entry is required, the signature carries none, and the log has none for it.
    #[error("no transparency log entry (no dev.sigstore.cosign/bundle annotation): {detail}")]
    LogEntryMissing {
        /// What the log said.
        detail: String,
    },
    /// The log where the entry is looked up could not be asked.
    #[error("no transparency log entry (no dev.sigstore.cosign/bundle annotation): {detail}")]
    LogUnavailable {
        /// Why.
        detail: String,
    },
    /// A check of the verification engine failed.
    #[error("check {check} failed: {detail}")]
    Check {
        /// Which check.
        check: CheckName,
        /// Why (naming the waiver flags when the failure is a missing entry).
        detail: String,
        /// The engine's typed reason.
        cause: Option<sigil_verify::Reason>,
    },
}

/// A signature or attestation that did not verify, and where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The attachment's location (tag or referrer manifest).
    pub location: String,
    /// Why.
    #[serde(flatten)]
    pub reason: Reason,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

/// What was found for one manifest.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// What verified.
    pub verified: Vec<Verified>,
    /// What did not, each with its reason.
    pub rejected: Vec<Rejected>,
    /// Predicate types of the attestations that were not of the type looked for.
    pub other_types: BTreeSet<String>,
}

impl Findings {
    /// Signatures or attestations found (verified or not).
    pub fn seen(&self) -> usize {
        self.verified.len() + self.rejected.len()
    }
}

/// Why an image did not verify.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The registry refused, was unreachable, the image or tag does not exist, the reference
    /// does not parse.
    #[error(transparent)]
    Registry(#[from] sigil_oci::RegistryError),
    /// A manifest has no signatures (or no attestations of the type) at all.
    #[error("{}", no_signatures_message(.what, .manifest, .predicate_type.as_deref(), .other_types))]
    NoSignatures {
        /// `signatures` or `attestations`.
        what: &'static str,
        /// The manifest (`digest (platform)`).
        manifest: String,
        /// The predicate type looked for (attestations).
        predicate_type: Option<String>,
        /// Attestations of other types found.
        other_types: BTreeSet<String>,
    },
    /// Signatures exist; none verifies.
    #[error("no matching {what} for {manifest}: {}", .rejected.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NoMatching {
        /// `signatures` or `attestations`.
        what: &'static str,
        /// The manifest.
        manifest: String,
        /// Each one found, with why it did not verify.
        rejected: Vec<Rejected>,
    },
}

fn no_signatures_message(
    what: &str,
    manifest: &str,
    predicate_type: Option<&str>,
    other_types: &BTreeSet<String>,
) -> String {
    match predicate_type {
        None => format!("no {what} found for {manifest}"),
        Some(t) if other_types.is_empty() => {
            format!("no attestations of type {t} found for {manifest} (none of any type)")
        }
        Some(t) => format!(
            "no attestations of type {t} found for {manifest}; it has attestations of type {} (pass --type)",
            other_types.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The verdict on one image argument.
#[derive(Debug)]
pub struct ImageVerdict {
    /// The image as given.
    pub image: String,
    /// Its manifest digest, once resolved.
    pub digest: Option<String>,
    /// Per manifest (the image, then its platforms when recursive).
    pub manifests: Vec<(Target, Findings)>,
    /// Why it did not verify; `None` when it did.
    pub failure: Option<Failure>,
    /// The registry requests this image cost.
    pub requests: Stats,
}

impl ImageVerdict {
    /// Whether the image verified.
    pub fn verified(&self) -> bool {
        self.failure.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_serialises_with_its_message() {
        let d = || "why".to_owned();
        let reasons = [
            Reason::NoSignatureAnnotation,
            Reason::SignatureNotBase64 { detail: d() },
            Reason::SignatureInvalid { detail: d() },
            Reason::Claim { detail: d() },
            Reason::Payload { detail: d() },
            Reason::Malformed { detail: d() },
            Reason::BundleAnnotation { detail: d() },
            Reason::LogEntryMissing { detail: d() },
            Reason::LogUnavailable { detail: d() },
            Reason::Check {
                check: CheckName::TlogEntry,
                detail: d(),
                cause: Some(sigil_verify::Reason::LogEntryMissing),
            },
        ];
        for reason in reasons {
            let r = Rejected {
                location: "reg/app:sha256-x.sig".into(),
                reason: reason.clone(),
            };
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(v["location"], "reg/app:sha256-x.sig");
            assert!(v["reason"].is_string(), "{v}");
            assert!(r.to_string().starts_with("reg/app:sha256-x.sig: "), "{r}");
        }
        let v = serde_json::to_value(Rejected {
            location: "l".into(),
            reason: Reason::Check {
                check: CheckName::TlogEntry,
                detail: d(),
                cause: Some(sigil_verify::Reason::LogEntryMissing),
            },
        })
        .unwrap();
        assert_eq!(
            (v["reason"].as_str(), v["check"].as_str()),
            (Some("check"), Some("tlog-entry"))
        );
        assert_eq!(v["cause"]["kind"], "log-entry-missing");
    }
}

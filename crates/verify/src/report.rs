//! The verdict: every check with its outcome.

use serde::Serialize;

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    /// The bundle is well formed for its version.
    Bundle,
    /// The trust root can be used.
    TrustRoot,
    /// Verification material matches the requirement (key given for a key bundle, etc.).
    Material,
    /// The signature over the artefact (message signature or DSSE envelope).
    Signature,
    /// The artefact is what was signed (digest or in-toto subject).
    Artifact,
    /// The log entry body matches the bundle's signature, signer and artefact.
    TlogEntry,
    /// The RFC 6962 inclusion proof.
    InclusionProof,
    /// The signed checkpoint the proof leads to.
    Checkpoint,
    /// The signed entry timestamp (inclusion promise).
    SignedEntryTimestamp,
    /// RFC 3161 timestamps.
    Timestamp,
    /// At least one trusted time exists.
    VerifiedTime,
    /// The certificate chains to a trusted CA at each verified time.
    CertificateChain,
    /// Key usage and extended key usage of the leaf.
    CertificateUsage,
    /// Embedded SCTs from trusted CT logs.
    Sct,
    /// Every verified time lies within the leaf's validity.
    CertificateValidity,
    /// SAN and OIDC issuer.
    Identity,
}

impl CheckName {
    /// The kebab-case name used in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            Self::TrustRoot => "trust-root",
            Self::Material => "material",
            Self::Signature => "signature",
            Self::Artifact => "artifact",
            Self::TlogEntry => "tlog-entry",
            Self::InclusionProof => "inclusion-proof",
            Self::Checkpoint => "checkpoint",
            Self::SignedEntryTimestamp => "signed-entry-timestamp",
            Self::Timestamp => "timestamp",
            Self::VerifiedTime => "verified-time",
            Self::CertificateChain => "certificate-chain",
            Self::CertificateUsage => "certificate-usage",
            Self::Sct => "sct",
            Self::CertificateValidity => "certificate-validity",
            Self::Identity => "identity",
        }
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    /// Passed, with what was established.
    Passed(String),
    /// Failed, with why.
    Failed(String),
    /// Not applicable, with why.
    Skipped(String),
}

/// Why a check failed, as a type a policy, a metric or an audit event can match on without
/// parsing the message. Each check's failures have a reason; the human message is beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Reason {
    /// The bundle is not well formed for its version.
    Malformed,
    /// The trust root cannot be used.
    TrustRootUnusable,
    /// The verification material is not what the verifier requires (a certificate where a
    /// key was given, another key, ...).
    WrongMaterial,
    /// The signature does not verify.
    SignatureInvalid,
    /// The artefact is not what was signed.
    DigestMismatch,
    /// The statement's predicate type is not the one required.
    PredicateTypeMismatch {
        /// Required.
        wanted: String,
        /// Found.
        got: String,
    },
    /// The verifier requires a log entry and there is none.
    LogEntryMissing,
    /// The entry is from a log the trust root does not know, or does not match the signature.
    LogEntryInvalid,
    /// The inclusion proof does not verify.
    InclusionProofInvalid,
    /// The checkpoint does not verify.
    CheckpointInvalid,
    /// The signed entry timestamp does not verify.
    SignedEntryTimestampInvalid,
    /// An RFC 3161 timestamp does not verify.
    TimestampInvalid,
    /// No trusted time for the signature.
    NoTrustedTime,
    /// The certificate does not chain to a trusted CA.
    ChainInvalid,
    /// The certificate's key usage is not a code signer's.
    UsageInvalid,
    /// No valid SCT from a trusted CT log.
    SctInvalid,
    /// A verified time lies outside the certificate's validity.
    CertificateExpired {
        /// The time (RFC 3339) that lies outside.
        at: String,
        /// The certificate's validity start (RFC 3339).
        not_before: String,
        /// Its end (RFC 3339).
        not_after: String,
    },
    /// The certificate's identity is not the required one.
    IdentityMismatch {
        /// Required.
        wanted: String,
        /// Found (every SAN).
        got: Vec<String>,
    },
    /// The certificate's OIDC issuer is not the required one.
    IssuerMismatch {
        /// Required.
        wanted: String,
        /// Found (empty when the certificate names none).
        got: String,
    },
    /// A required certificate extension (a `--certificate-github-workflow-*` flag) is missing
    /// or has another value.
    ExtensionMismatch {
        /// The extension's dotted OID.
        oid: String,
        /// Required.
        wanted: String,
        /// Found (empty when missing).
        got: String,
    },
}

impl Reason {
    /// The reason a failure of `check` has when nothing more specific is known.
    pub fn of(check: CheckName) -> Self {
        match check {
            CheckName::Bundle => Self::Malformed,
            CheckName::TrustRoot => Self::TrustRootUnusable,
            CheckName::Material => Self::WrongMaterial,
            CheckName::Signature => Self::SignatureInvalid,
            CheckName::Artifact => Self::DigestMismatch,
            CheckName::TlogEntry => Self::LogEntryInvalid,
            CheckName::InclusionProof => Self::InclusionProofInvalid,
            CheckName::Checkpoint => Self::CheckpointInvalid,
            CheckName::SignedEntryTimestamp => Self::SignedEntryTimestampInvalid,
            CheckName::Timestamp => Self::TimestampInvalid,
            CheckName::VerifiedTime => Self::NoTrustedTime,
            CheckName::CertificateChain => Self::ChainInvalid,
            CheckName::CertificateUsage => Self::UsageInvalid,
            CheckName::Sct => Self::SctInvalid,
            CheckName::CertificateValidity => Self::CertificateExpired {
                at: String::new(),
                not_before: String::new(),
                not_after: String::new(),
            },
            CheckName::Identity => Self::IdentityMismatch {
                wanted: String::new(),
                got: Vec::new(),
            },
        }
    }
}

/// A check's failure: its typed reason and the message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The typed reason (`None`: the check's default, [`Reason::of`]).
    pub reason: Option<Reason>,
    /// The message.
    pub detail: String,
}

impl Failure {
    /// A failure with a specific reason.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason: Some(reason),
            detail: detail.into(),
        }
    }
}

impl From<String> for Failure {
    fn from(detail: String) -> Self {
        Self {
            reason: None,
            detail,
        }
    }
}

impl From<&str> for Failure {
    fn from(detail: &str) -> Self {
        Self {
            reason: None,
            detail: detail.to_owned(),
        }
    }
}

/// One check's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// Its outcome.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Why it failed (failed checks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// The verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every check that ran, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed and at least one passed.
    pub fn verified(&self) -> bool {
        self.first_failure().is_none()
            && self
                .checks
                .iter()
                .any(|c| matches!(c.outcome, Outcome::Passed(_)))
    }

    /// The typed reason of the first failed check.
    pub fn first_reason(&self) -> Option<&Reason> {
        self.checks.iter().find_map(|c| match &c.outcome {
            Outcome::Failed(_) => c.reason.as_ref(),
            _ => None,
        })
    }

    /// The first failed check.
    pub fn first_failure(&self) -> Option<(CheckName, &str)> {
        self.checks.iter().find_map(|c| match &c.outcome {
            Outcome::Failed(why) => Some((c.name, why.as_str())),
            _ => None,
        })
    }

    pub(crate) fn pass(&mut self, name: CheckName, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            outcome: Outcome::Passed(detail.into()),
            reason: None,
        });
    }

    /// Records a failure of `name`: its typed reason is the failure's, else the check's.
    pub(crate) fn fail(&mut self, name: CheckName, failure: impl Into<Failure>) {
        let f = failure.into();
        self.checks.push(Check {
            name,
            outcome: Outcome::Failed(f.detail),
            reason: Some(f.reason.unwrap_or_else(|| Reason::of(name))),
        });
    }

    pub(crate) fn skip(&mut self, name: CheckName, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            outcome: Outcome::Skipped(detail.into()),
            reason: None,
        });
    }
}

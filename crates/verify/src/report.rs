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

/// One check's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// Its outcome.
    #[serde(flatten)]
    pub outcome: Outcome,
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
        });
    }

    pub(crate) fn fail(&mut self, name: CheckName, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            outcome: Outcome::Failed(detail.into()),
        });
    }

    pub(crate) fn skip(&mut self, name: CheckName, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            outcome: Outcome::Skipped(detail.into()),
        });
    }
}

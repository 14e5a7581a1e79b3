//! DSSE (Dead Simple Signing Envelope) pre-authentication encoding and in-toto statements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v0.1.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type cosign gives the statement it signs for an image in bundle form (OCI 1.1
/// referrers).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// cosign's `--type` shortcuts and the predicate type each stands for; any other value must be
/// a URI and is used verbatim.
pub const PREDICATE_SHORTCUTS: &[(&str, &str)] = &[
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("link", "https://in-toto.io/Link/v1"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
];

/// The predicate type URI for a `--type` value, or `None` when it is neither a shortcut nor a URI.
pub fn predicate_type(type_or_uri: &str) -> Option<&str> {
    if let Some((_, uri)) = PREDICATE_SHORTCUTS.iter().find(|(s, _)| *s == type_or_uri) {
        return Some(uri);
    }
    type_or_uri.contains("://").then_some(type_or_uri)
}

/// `PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII
/// decimal bytes. Signatures cover these bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// An in-toto statement (v0.1 or v1; the predicate is kept as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// `https://in-toto.io/Statement/v0.1` or `…/v1`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    #[serde(default)]
    pub subject: Vec<Subject>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

/// A statement subject: a name and its digests (`{"sha256": "<hex>"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// Name (a path, an image repository...).
    #[serde(default)]
    pub name: String,
    /// Algorithm name to lower-case hex.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    /// v1 subject annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
}

/// What was wrong with a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Not JSON of the right shape.
    #[error("the in-toto statement is malformed: {0}")]
    Json(String),
    /// Unknown `_type`.
    #[error("unsupported in-toto statement type {0:?} (expected Statement v0.1 or v1)")]
    Type(String),
}

impl Statement {
    /// Parses a statement and checks its type.
    pub fn parse(payload: &[u8]) -> Result<Self, StatementError> {
        let s: Self =
            serde_json::from_slice(payload).map_err(|e| StatementError::Json(e.to_string()))?;
        if s.type_ != STATEMENT_V01 && s.type_ != STATEMENT_V1 {
            return Err(StatementError::Type(s.type_));
        }
        Ok(s)
    }

    /// Whether a subject carries this digest (algorithm name such as `sha256`, lower-case hex).
    pub fn has_subject_digest(&self, algorithm: &str, hex: &str) -> bool {
        self.subject.iter().any(|s| {
            s.digest
                .get(algorithm)
                .is_some_and(|d| d.eq_ignore_ascii_case(hex))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // DSSE protocol.md: PAE("http://example.com/HelloWorld", "hello world")
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn statement_types() {
        let s = Statement::parse(br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"AB"}}],"predicateType":"p"}"#).unwrap();
        assert!(s.has_subject_digest("sha256", "ab"));
        assert!(!s.has_subject_digest("sha512", "ab"));
        assert!(matches!(
            Statement::parse(br#"{"_type":"x","predicateType":"p"}"#),
            Err(StatementError::Type(_))
        ));
    }
}

//! Sigstore `trusted_root.json` (protobuf-specs `TrustedRoot`, media types v0.1 and v0.2).
//!
//! Validity windows (`validFor`) are closed intervals; `end` may be absent (still valid) and
//! `start` may lie in the future (a planned rotation). A window without `start` is malformed
//! and refused when the root is parsed.

use serde::{Deserialize, Serialize};

use crate::bundle::{Bytes, CertificateChain};
use crate::time::Timestamp;

/// Media type of v0.1 trusted roots.
pub const MEDIA_TYPE_V01: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// Media type of v0.2 trusted roots.
pub const MEDIA_TYPE_V02: &str = "application/vnd.dev.sigstore.trustedroot.v0.2+json";
/// Largest trusted root accepted.
pub const MAX_TRUSTED_ROOT_LEN: usize = 8 * 1024 * 1024;

/// What was wrong with a trusted root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustRootError {
    /// Over the limit.
    #[error("trusted root is {0} bytes, over the {MAX_TRUSTED_ROOT_LEN}-byte limit")]
    TooLarge(usize),
    /// Not the expected JSON.
    #[error("malformed trusted root JSON: {0}")]
    Json(String),
    /// Unknown media type.
    #[error("unsupported trusted root media type {0:?}")]
    MediaType(String),
    /// A field is invalid.
    #[error("invalid trusted root: {0}")]
    Invalid(String),
}

/// A `TimeRange` with parsed times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First instant of validity (inclusive).
    pub start: Timestamp,
    /// Last instant of validity (inclusive), if bounded.
    pub end: Option<Timestamp>,
}

impl Validity {
    /// Whether `t` lies in the closed interval.
    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct TimeRangeJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<String>,
}

fn validity(r: Option<&TimeRangeJson>, what: &str) -> Result<Validity, TrustRootError> {
    let r = r.ok_or_else(|| TrustRootError::Invalid(format!("{what} has no validFor")))?;
    let start = r
        .start
        .as_deref()
        .ok_or_else(|| TrustRootError::Invalid(format!("{what}: validFor has no start")))?;
    let parse = |s: &str| {
        Timestamp::parse_rfc3339(s).map_err(|e| TrustRootError::Invalid(format!("{what}: {e}")))
    };
    let start = parse(start)?;
    let end = r.end.as_deref().map(parse).transpose()?;
    if end.is_some_and(|e| e < start) {
        return Err(TrustRootError::Invalid(format!(
            "{what}: validFor ends before it starts"
        )));
    }
    Ok(Validity { start, end })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootJson {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<LogJson>,
    #[serde(default)]
    certificate_authorities: Vec<CaJson>,
    #[serde(default)]
    ctlogs: Vec<LogJson>,
    #[serde(default)]
    timestamp_authorities: Vec<CaJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogJson {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    hash_algorithm: Option<String>,
    public_key: KeyJson,
    log_id: KeyIdJson,
    #[serde(default)]
    checkpoint_key_id: Option<KeyIdJson>,
    #[serde(default)]
    operator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson {
    #[serde(default)]
    raw_bytes: Option<Bytes>,
    #[serde(default)]
    key_details: Option<String>,
    #[serde(default)]
    valid_for: Option<TimeRangeJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyIdJson {
    key_id: Bytes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaJson {
    #[serde(default)]
    subject: Option<serde_json::Value>,
    #[serde(default)]
    uri: Option<String>,
    cert_chain: CertificateChain,
    #[serde(default)]
    valid_for: Option<TimeRangeJson>,
    #[serde(default)]
    operator: Option<String>,
}

/// A transparency log (Rekor) or certificate transparency log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogInstance {
    /// Base URL, e.g. `https://rekor.sigstore.dev`.
    pub base_url: String,
    /// PKIX DER of the log's key.
    pub public_key: Vec<u8>,
    /// `keyDetails`, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub key_details: Option<String>,
    /// When the key was valid.
    pub validity: Validity,
    /// The log ID (SHA-256 of the key for Rekor v1 and CT; the checkpoint key ID for v2).
    pub log_id: Vec<u8>,
    /// The checkpoint key ID (v0.2 roots).
    pub checkpoint_key_id: Option<Vec<u8>>,
    /// Operator, for thresholds.
    pub operator: Option<String>,
}

impl LogInstance {
    /// The host (and path) of the base URL: the name its checkpoints are signed under.
    pub fn origin(&self) -> &str {
        let s = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        s.trim_end_matches('/')
    }
}

/// A certificate authority (Fulcio) or timestamp authority.
#[derive(Debug, Clone, PartialEq)]
pub struct Authority {
    /// URI.
    pub uri: Option<String>,
    /// DER certificates, leaf-most first; the last is the trust anchor.
    pub chain: Vec<Vec<u8>>,
    /// When the authority was valid.
    pub validity: Validity,
    /// Operator.
    pub operator: Option<String>,
}

/// A parsed, validated trusted root.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedRoot {
    /// The media type it was read with.
    pub media_type: String,
    /// Transparency logs.
    pub tlogs: Vec<LogInstance>,
    /// Certificate transparency logs.
    pub ctlogs: Vec<LogInstance>,
    /// Certificate authorities.
    pub certificate_authorities: Vec<Authority>,
    /// Timestamp authorities.
    pub timestamp_authorities: Vec<Authority>,
}

impl TrustedRoot {
    /// Parses and validates a `trusted_root.json`.
    pub fn parse(input: &[u8]) -> Result<Self, TrustRootError> {
        if input.len() > MAX_TRUSTED_ROOT_LEN {
            return Err(TrustRootError::TooLarge(input.len()));
        }
        let json: RootJson =
            serde_json::from_slice(input).map_err(|e| TrustRootError::Json(e.to_string()))?;
        if json.media_type != MEDIA_TYPE_V01 && json.media_type != MEDIA_TYPE_V02 {
            return Err(TrustRootError::MediaType(json.media_type));
        }
        let logs = |list: Vec<LogJson>, kind: &str| -> Result<Vec<LogInstance>, TrustRootError> {
            list.into_iter()
                .enumerate()
                .map(|(i, l)| {
                    let what = format!("{kind}[{i}] ({})", l.base_url);
                    let key = l.public_key.raw_bytes.ok_or_else(|| {
                        TrustRootError::Invalid(format!("{what} has no public key"))
                    })?;
                    Ok(LogInstance {
                        validity: validity(l.public_key.valid_for.as_ref(), &what)?,
                        base_url: l.base_url,
                        public_key: key.0,
                        key_details: l.public_key.key_details,
                        log_id: l.log_id.key_id.0,
                        checkpoint_key_id: l.checkpoint_key_id.map(|k| k.key_id.0),
                        operator: l.operator,
                    })
                })
                .collect()
        };
        let authorities =
            |list: Vec<CaJson>, kind: &str| -> Result<Vec<Authority>, TrustRootError> {
                list.into_iter()
                    .enumerate()
                    .map(|(i, a)| {
                        let what = format!("{kind}[{i}]");
                        let chain: Vec<Vec<u8>> = a
                            .cert_chain
                            .certificates
                            .into_iter()
                            .map(|c| c.raw_bytes.0)
                            .collect();
                        if chain.is_empty() {
                            return Err(TrustRootError::Invalid(format!(
                                "{what} has an empty certificate chain"
                            )));
                        }
                        Ok(Authority {
                            validity: validity(a.valid_for.as_ref(), &what)?,
                            uri: a.uri,
                            chain,
                            operator: a.operator,
                        })
                    })
                    .collect()
            };
        Ok(Self {
            media_type: json.media_type,
            tlogs: logs(json.tlogs, "tlogs")?,
            ctlogs: logs(json.ctlogs, "ctlogs")?,
            certificate_authorities: authorities(
                json.certificate_authorities,
                "certificateAuthorities",
            )?,
            timestamp_authorities: authorities(json.timestamp_authorities, "timestampAuthorities")?,
        })
    }
}

/// Why a trusted root for a log cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForLogError {
    /// A key a trusted root cannot name.
    #[error("the log's key is RSA-{0}; a trusted root names RSA keys of 2048, 3072 or 4096 bits")]
    RsaSize(usize),
}

/// The protobuf-specs `keyDetails` name of a key's algorithm.
pub fn key_details(key: &sigil_crypto::PublicKey) -> Result<&'static str, ForLogError> {
    use sigil_crypto::KeyAlgorithm as A;
    Ok(match key.algorithm() {
        A::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        A::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
        A::EcdsaP521 => "PKIX_ECDSA_P521_SHA_512",
        A::Ed25519 => "PKIX_ED25519",
        A::Rsa { bits: 2048 } => "PKIX_RSA_PKCS1V15_2048_SHA256",
        A::Rsa { bits: 3072 } => "PKIX_RSA_PKCS1V15_3072_SHA256",
        A::Rsa { bits: 4096 } => "PKIX_RSA_PKCS1V15_4096_SHA256",
        A::Rsa { bits } => return Err(ForLogError::RsaSize(bits)),
    })
}

/// A `trusted_root.json` (v0.1) naming one transparency log: its base URL, key, log ID (the
/// SHA-256 of the key) and validity window (`start`, optional `end`, RFC 3339), with no CA,
/// CT log or TSA — what verifiers of a private log's entries need.
pub fn for_log(
    base_url: &str,
    key: &sigil_crypto::PublicKey,
    start: &str,
    end: Option<&str>,
) -> Result<serde_json::Value, ForLogError> {
    Ok(serde_json::json!({
        "mediaType": MEDIA_TYPE_V01,
        "tlogs": [log_instance(base_url, key, start, end)?],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    }))
}

/// A `tlogs[]` or `ctlogs[]` entry: a log's base URL, its key and log ID (the SHA-256 of the
/// key, as Rekor v1 and RFC 6962 logs name themselves) and the key's validity window.
pub fn log_instance(
    base_url: &str,
    key: &sigil_crypto::PublicKey,
    start: &str,
    end: Option<&str>,
) -> Result<serde_json::Value, ForLogError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut valid = serde_json::json!({ "start": start });
    if let Some(end) = end {
        valid["end"] = serde_json::json!(end);
    }
    let log_id = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, key.spki_der());
    Ok(serde_json::json!({
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": b64.encode(key.spki_der()), "keyDetails": key_details(key)?, "validFor": valid},
        "logId": {"keyId": b64.encode(log_id.as_bytes())},
    }))
}

/// A `certificateAuthorities[]` (or `timestampAuthorities[]`) entry: its subject (organization
/// and common name, which sigstore-python requires), its chain (DER, leaf-most first, the root
/// last), an informational `uri`, and its validity window (`start`, optional `end`).
pub fn certificate_authority(
    uri: &str,
    subject: (&str, &str),
    chain: &[Vec<u8>],
    start: &str,
    end: Option<&str>,
) -> serde_json::Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut valid = serde_json::json!({ "start": start });
    if let Some(end) = end {
        valid["end"] = serde_json::json!(end);
    }
    serde_json::json!({
        "subject": {"organization": subject.0, "commonName": subject.1},
        "uri": uri,
        "certChain": {"certificates": chain.iter().map(|c| serde_json::json!({"rawBytes": b64.encode(c)})).collect::<Vec<_>>()},
        "validFor": valid,
    })
}

/// What a rotation replaces in a trusted root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationKind {
    /// `certificateAuthorities`, matched by `uri`.
    CertificateAuthority,
    /// `timestampAuthorities`, matched by `uri`.
    TimestampAuthority,
    /// `tlogs`, matched by `baseUrl`.
    Log,
    /// `ctlogs`, matched by `baseUrl`.
    CtLog,
}

impl RotationKind {
    fn field(self) -> &'static str {
        match self {
            Self::CertificateAuthority => "certificateAuthorities",
            Self::TimestampAuthority => "timestampAuthorities",
            Self::Log => "tlogs",
            Self::CtLog => "ctlogs",
        }
    }
}

/// Rotates a trusted root (JSON): every entry of `kind` at the same URI or base URL as `new`
/// whose window is open gets `old_end` as its end, and `new` is appended. The number of
/// entries ended; refused when none is open (a mistyped URL must not go unnoticed) or when the
/// new entry is already there.
pub fn rotate(
    root: &mut serde_json::Value,
    kind: RotationKind,
    new: serde_json::Value,
    old_end: &str,
) -> Result<usize, String> {
    let is_log = matches!(kind, RotationKind::Log | RotationKind::CtLog);
    let url_of = |v: &serde_json::Value| {
        v[if is_log { "baseUrl" } else { "uri" }]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned()
    };
    let material = |v: &serde_json::Value| {
        if is_log {
            v["publicKey"]["rawBytes"].clone()
        } else {
            v["certChain"].clone()
        }
    };
    let url = url_of(&new);
    let list = root[kind.field()]
        .as_array_mut()
        .ok_or_else(|| format!("the trusted root has no {}", kind.field()))?;
    if list.iter().any(|e| material(e) == material(&new)) {
        return Err(format!(
            "{}: that key or chain is already in the trusted root",
            kind.field()
        ));
    }
    let mut ended = 0;
    for e in list.iter_mut() {
        if url_of(e) != url {
            continue;
        }
        let valid = if is_log {
            &mut e["publicKey"]["validFor"]
        } else {
            &mut e["validFor"]
        };
        if valid.get("end").is_none_or(serde_json::Value::is_null) {
            valid["end"] = serde_json::json!(old_end);
            ended += 1;
        }
    }
    if ended == 0 {
        return Err(format!(
            "{}: no entry for {url} is open, so nothing is rotated (trusted-root create adds one)",
            kind.field()
        ));
    }
    list.push(new);
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_closed() {
        let v = Validity {
            start: Timestamp::from_unix(10),
            end: Some(Timestamp::from_unix(20)),
        };
        assert!(v.contains(Timestamp::from_unix(10)));
        assert!(v.contains(Timestamp::from_unix(20)));
        assert!(!v.contains(Timestamp::from_unix(21)));
        assert!(!v.contains(Timestamp::from_unix(9)));
        let open = Validity {
            start: Timestamp::from_unix(10),
            end: None,
        };
        assert!(open.contains(Timestamp::from_unix(i64::MAX / 2)));
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            TrustedRoot::parse(b"{"),
            Err(TrustRootError::Json(_))
        ));
        assert!(matches!(
            TrustedRoot::parse(br#"{"mediaType":"x"}"#),
            Err(TrustRootError::MediaType(_))
        ));
        let no_start = format!(
            r#"{{"mediaType":"{MEDIA_TYPE_V01}","tlogs":[{{"baseUrl":"https://l","publicKey":{{"rawBytes":"AA==","validFor":{{"end":"2025-01-01T00:00:00Z"}}}},"logId":{{"keyId":"AA=="}}}}]}}"#
        );
        let e = TrustedRoot::parse(no_start.as_bytes()).unwrap_err();
        assert_eq!(
            e,
            TrustRootError::Invalid("tlogs[0] (https://l): validFor has no start".into())
        );
    }
}

#[cfg(test)]
mod for_log_tests {
    use super::*;

    #[test]
    fn a_root_for_a_log_reads_back_with_its_log_id() {
        let key =
            sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256).unwrap();
        let v = for_log(
            "http://127.0.0.1:3000",
            key.public_key(),
            "2026-01-01T00:00:00Z",
            None,
        )
        .unwrap();
        let root = TrustedRoot::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(root.tlogs.len(), 1);
        let id = sigil_crypto::Digest::of(
            sigil_crypto::HashAlgorithm::Sha256,
            key.public_key().spki_der(),
        );
        assert_eq!(root.tlogs[0].log_id, id.as_bytes());
        assert_eq!(root.tlogs[0].base_url, "http://127.0.0.1:3000");
        assert_eq!(
            v["tlogs"][0]["publicKey"]["keyDetails"],
            "PKIX_ECDSA_P256_SHA_256"
        );
    }
}

//! Sigstore bundles (protobuf-specs `sigstore_bundle.proto`) in their proto3 JSON form, v0.1 to
//! v0.3, and cosign's older `--bundle` JSON.
//!
//! proto3 JSON rules honoured here: lowerCamelCase names, `bytes` as standard base64, `int64` as
//! strings (numbers are accepted on read), empty repeated fields omitted on write.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest bundle accepted (attestation bundles carry whole SBOMs).
pub const MAX_BUNDLE_LEN: usize = 64 * 1024 * 1024;

/// Media type of v0.1 bundles.
pub const MEDIA_TYPE_V01: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
/// Media type of v0.2 bundles.
pub const MEDIA_TYPE_V02: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
/// Media type of v0.3 bundles (written by Sigil).
pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The alternative spelling of the v0.3 media type, also read.
pub const MEDIA_TYPE_V03_ALT: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";

/// Bundle versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    /// v0.1.
    V01,
    /// v0.2.
    V02,
    /// v0.3 (either media-type spelling).
    V03,
}

impl std::fmt::Display for BundleVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V01 => "v0.1",
            Self::V02 => "v0.2",
            Self::V03 => "v0.3",
        })
    }
}

/// Errors reading a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Over [`MAX_BUNDLE_LEN`].
    #[error("bundle is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not JSON, or a field of the wrong shape.
    #[error("malformed bundle JSON: {0}")]
    Json(String),
    /// Neither a Sigstore bundle nor a cosign bundle.
    #[error(
        "unrecognised bundle: expected a Sigstore bundle (with \"mediaType\") or a cosign bundle (with \"base64Signature\")"
    )]
    Unrecognised,
    /// An unknown media type.
    #[error("unsupported bundle media type {0:?} (supported: Sigstore bundle v0.1, v0.2, v0.3)")]
    MediaType(String),
    /// A required field is missing or the content is ambiguous.
    #[error("invalid bundle: {0}")]
    Invalid(String),
}

/// Base64 `bytes` field.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({})", STANDARD.encode(&self.0))
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        // Go's protojson (which writes most bundles) ignores line breaks inside base64, and
        // proto3 JSON parsers accept URL-safe base64 too.
        let compact: std::borrow::Cow<'_, [u8]> = if s.contains(['\r', '\n']) {
            s.bytes()
                .filter(|b| *b != b'\r' && *b != b'\n')
                .collect::<Vec<u8>>()
                .into()
        } else {
            s.as_bytes().into()
        };
        STANDARD
            .decode(&compact)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&compact))
            .map(Bytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// An `int64` field: a string on write, a string or number on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Int64(pub i64);

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Int64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a 64-bit integer (a JSON number or a decimal string)")
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Int64, E> {
                Ok(Int64(n))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Int64, E> {
                i64::try_from(n).map(Int64).map_err(|_| {
                    E::custom(format!(
                        "the integer {n} is out of range for an int64 (at most {})",
                        i64::MAX
                    ))
                })
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Int64, E> {
                Err(E::custom(format!(
                    "the number {n} is not an int64 (not an integer, or out of range)"
                )))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Int64, E> {
                s.parse().map(Int64).map_err(|_| {
                    E::custom(format!(
                        "{s:?} is not an int64 (a decimal integer within ±2^63)"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A Sigstore bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// The media type, which carries the version.
    pub media_type: String,
    /// Keys, certificates, log entries, timestamps.
    pub verification_material: VerificationMaterial,
    /// A signature over a message digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
    /// A DSSE envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
}

/// What a bundle holds besides the signature.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A public key named by hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// A chain (v0.1, v0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    /// A leaf certificate (v0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// Transparency log entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlog_entries: Vec<TransparencyLogEntry>,
    /// RFC 3161 timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

/// `publicKey` verification material.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyIdentifier {
    /// Unauthenticated hint; Sigil and cosign write base64 SHA-256 of the key's DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A DER certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// DER bytes.
    pub raw_bytes: Bytes,
}

/// A certificate chain, leaf first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateChain {
    /// The certificates.
    #[serde(default)]
    pub certificates: Vec<Certificate>,
}

/// A transparency log entry with its proofs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    /// Index in the log.
    pub log_index: Int64,
    /// The log's id (key id).
    pub log_id: LogId,
    /// Entry kind and version.
    pub kind_version: KindVersion,
    /// When the log integrated the entry (Unix seconds).
    #[serde(default)]
    pub integrated_time: Int64,
    /// The signed entry timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    /// The inclusion proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonicalized entry body.
    #[serde(default)]
    pub canonicalized_body: Bytes,
}

/// A log id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// SHA-256 of the log's public key DER.
    pub key_id: Bytes,
}

/// Kind and version of a log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindVersion {
    /// e.g. `hashedrekord`.
    pub kind: String,
    /// e.g. `0.0.1`.
    pub version: String,
}

/// A SET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    /// The log's signature.
    pub signed_entry_timestamp: Bytes,
}

/// An RFC 6962 inclusion proof with the checkpoint it leads to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// Index of the entry.
    pub log_index: Int64,
    /// Root hash.
    pub root_hash: Bytes,
    /// Tree size.
    pub tree_size: Int64,
    /// Audit path.
    #[serde(default)]
    pub hashes: Vec<Bytes>,
    /// The signed checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// A signed note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The note text with its signature lines.
    pub envelope: String,
}

/// RFC 3161 timestamps.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    /// The timestamps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rfc3161_timestamps: Vec<Rfc3161Timestamp>,
}

/// One RFC 3161 timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161Timestamp {
    /// DER `TimeStampResponse` or token.
    pub signed_timestamp: Bytes,
}

/// A signature over a message digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    /// The digest of the artefact (optional in the spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    /// The signature bytes.
    pub signature: Bytes,
}

/// A digest with its algorithm name (`SHA2_256`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashOutput {
    /// The protobuf algorithm name.
    pub algorithm: String,
    /// The digest bytes.
    pub digest: Bytes,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The payload.
    pub payload: Bytes,
    /// Its type.
    pub payload_type: String,
    /// The signatures.
    #[serde(default)]
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// The signature.
    pub sig: Bytes,
    /// Optional key id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

impl Bundle {
    /// A v0.3 bundle for a key-based message signature, as `sign-blob --bundle` writes it.
    pub fn message_signature_with_key(
        hint: String,
        digest_algorithm: &str,
        digest: Vec<u8>,
        signature: Vec<u8>,
    ) -> Self {
        Self {
            media_type: MEDIA_TYPE_V03.to_owned(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyIdentifier { hint: Some(hint) }),
                ..Default::default()
            },
            message_signature: Some(MessageSignature {
                message_digest: Some(HashOutput {
                    algorithm: digest_algorithm.to_owned(),
                    digest: Bytes(digest),
                }),
                signature: Bytes(signature),
            }),
            dsse_envelope: None,
        }
    }

    /// A v0.3 bundle for a key-signed DSSE envelope, as `attest-blob --bundle` writes it.
    pub fn dsse_with_key(hint: String, envelope: Envelope) -> Self {
        Self {
            media_type: MEDIA_TYPE_V03.to_owned(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyIdentifier { hint: Some(hint) }),
                ..Default::default()
            },
            message_signature: None,
            dsse_envelope: Some(envelope),
        }
    }

    /// A v0.3 bundle for a message signature by a certificate's key (DER), as keyless
    /// `sign-blob --bundle` writes it.
    pub fn message_signature_with_certificate(
        certificate_der: Vec<u8>,
        digest_algorithm: &str,
        digest: Vec<u8>,
        signature: Vec<u8>,
    ) -> Self {
        let mut b =
            Self::message_signature_with_key(String::new(), digest_algorithm, digest, signature);
        b.verification_material = VerificationMaterial {
            certificate: Some(Certificate {
                raw_bytes: Bytes(certificate_der),
            }),
            ..Default::default()
        };
        b
    }

    /// A v0.3 bundle for a DSSE envelope signed by a certificate's key (DER).
    pub fn dsse_with_certificate(certificate_der: Vec<u8>, envelope: Envelope) -> Self {
        let mut b = Self::dsse_with_key(String::new(), envelope);
        b.verification_material = VerificationMaterial {
            certificate: Some(Certificate {
                raw_bytes: Bytes(certificate_der),
            }),
            ..Default::default()
        };
        b
    }

    /// The version from the media type.
    pub fn version(&self) -> Result<BundleVersion, BundleError> {
        match self.media_type.as_str() {
            MEDIA_TYPE_V01 => Ok(BundleVersion::V01),
            MEDIA_TYPE_V02 => Ok(BundleVersion::V02),
            MEDIA_TYPE_V03 | MEDIA_TYPE_V03_ALT => Ok(BundleVersion::V03),
            other => Err(BundleError::MediaType(other.to_owned())),
        }
    }

    /// Checks the structural rules: known version, exactly one content kind.
    pub fn validate(&self) -> Result<BundleVersion, BundleError> {
        let v = self.version()?;
        match (&self.message_signature, &self.dsse_envelope) {
            (Some(_), Some(_)) => Err(BundleError::Invalid(
                "both messageSignature and dsseEnvelope are present".into(),
            )),
            (None, None) => Err(BundleError::Invalid(
                "neither messageSignature nor dsseEnvelope is present".into(),
            )),
            _ => Ok(v),
        }
    }

    /// Serialises as compact JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// cosign's older `--bundle` JSON (`LocalSignedPayload`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosignBundle {
    /// base64 signature.
    #[serde(rename = "base64Signature")]
    pub base64_signature: String,
    /// base64 of the PEM certificate or public key, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// The Rekor SET bundle, when the signature was logged.
    #[serde(
        rename = "rekorBundle",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rekor_bundle: Option<RekorBundle>,
}

/// The Rekor part of a cosign bundle (Go field names, no JSON tags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RekorBundle {
    /// The SET.
    #[serde(rename = "SignedEntryTimestamp")]
    pub signed_entry_timestamp: Bytes,
    /// What the SET signs.
    #[serde(rename = "Payload")]
    pub payload: RekorPayload,
}

/// The payload of a SET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RekorPayload {
    /// base64 canonical entry body.
    pub body: String,
    /// Unix seconds.
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    /// Index.
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// Hex SHA-256 of the log key.
    #[serde(rename = "logID")]
    pub log_id: String,
}

impl CosignBundle {
    /// The Sigstore v0.1 bundle this is equivalent to (cosign's `bundle upgrade`): the signature
    /// becomes a message signature, `cert` a one-certificate chain (or the key is left to the
    /// verifier), and `rekorBundle` a log entry whose SET stands in for an inclusion proof.
    pub fn to_sigstore(&self) -> Result<Bundle, BundleError> {
        let invalid = |m: &str| BundleError::Invalid(format!("cosign bundle: {m}"));
        let signature = STANDARD
            .decode(self.base64_signature.trim())
            .map_err(|_| invalid("base64Signature is not base64"))?;
        let mut vm = VerificationMaterial::default();
        match &self.cert {
            Some(c) => {
                let pem = STANDARD
                    .decode(c.trim())
                    .map_err(|_| invalid("cert is not base64"))?;
                let text = String::from_utf8(pem).map_err(|_| invalid("cert is not PEM text"))?;
                if text.contains("-----BEGIN CERTIFICATE-----") {
                    let der =
                        pem_body(&text).ok_or_else(|| invalid("cert is not a PEM certificate"))?;
                    vm.x509_certificate_chain = Some(CertificateChain {
                        certificates: vec![Certificate {
                            raw_bytes: Bytes(der),
                        }],
                    });
                } else {
                    vm.public_key = Some(PublicKeyIdentifier { hint: None });
                }
            }
            None => vm.public_key = Some(PublicKeyIdentifier { hint: None }),
        }
        if let Some(rb) = &self.rekor_bundle {
            let body = STANDARD
                .decode(rb.payload.body.trim())
                .map_err(|_| invalid("rekorBundle body is not base64"))?;
            let kv: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|_| invalid("rekorBundle body is not JSON"))?;
            let log_id = sigil_crypto::hash::hex_decode(&rb.payload.log_id)
                .ok_or_else(|| invalid("rekorBundle logID is not hex"))?;
            vm.tlog_entries.push(TransparencyLogEntry {
                log_index: Int64(rb.payload.log_index),
                log_id: LogId {
                    key_id: Bytes(log_id),
                },
                kind_version: KindVersion {
                    kind: kv["kind"].as_str().unwrap_or_default().to_owned(),
                    version: kv["apiVersion"].as_str().unwrap_or_default().to_owned(),
                },
                integrated_time: Int64(rb.payload.integrated_time),
                inclusion_promise: Some(InclusionPromise {
                    signed_entry_timestamp: rb.signed_entry_timestamp.clone(),
                }),
                inclusion_proof: None,
                canonicalized_body: Bytes(body),
            });
        }
        Ok(Bundle {
            media_type: MEDIA_TYPE_V01.to_owned(),
            verification_material: vm,
            message_signature: Some(MessageSignature {
                message_digest: None,
                signature: Bytes(signature),
            }),
            dsse_envelope: None,
        })
    }
}

fn pem_body(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN CERTIFICATE-----")? + 27;
    let end = text[start..].find("-----END CERTIFICATE-----")? + start;
    let b64: String = text[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

/// A bundle file of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyBundle {
    /// A Sigstore bundle.
    Sigstore(Box<Bundle>),
    /// cosign's older format.
    Cosign(CosignBundle),
}

/// Reads a bundle file, telling the two formats apart by their fields.
pub fn parse_any(input: &[u8]) -> Result<AnyBundle, BundleError> {
    if input.len() > MAX_BUNDLE_LEN {
        return Err(BundleError::TooLarge {
            len: input.len(),
            max: MAX_BUNDLE_LEN,
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(input).map_err(|e| BundleError::Json(e.to_string()))?;
    let obj = value.as_object().ok_or(BundleError::Unrecognised)?;
    if obj.contains_key("mediaType") {
        let b: Bundle =
            serde_json::from_value(value).map_err(|e| BundleError::Json(e.to_string()))?;
        b.validate()?;
        Ok(AnyBundle::Sigstore(Box::new(b)))
    } else if obj.contains_key("base64Signature") {
        let b: CosignBundle =
            serde_json::from_value(value).map_err(|e| BundleError::Json(e.to_string()))?;
        Ok(AnyBundle::Cosign(b))
    } else {
        Err(BundleError::Unrecognised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bundle_json_shape() {
        let b = Bundle::message_signature_with_key(
            "aGludA==".into(),
            "SHA2_256",
            vec![1; 32],
            vec![2; 3],
        );
        let json = b.to_json();
        assert_eq!(
            json,
            format!(
                r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{"hint":"aGludA=="}}}},"messageSignature":{{"messageDigest":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":"AgIC"}}}}"#,
                STANDARD.encode([1u8; 32])
            )
        );
        assert_eq!(
            parse_any(json.as_bytes()).unwrap(),
            AnyBundle::Sigstore(Box::new(b))
        );
    }

    #[test]
    fn int64_accepts_strings_and_numbers() {
        let a: Int64 = serde_json::from_str("\"12\"").unwrap();
        let b: Int64 = serde_json::from_str("12").unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<Int64>("\"x\"").is_err());
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse_any(b"{"), Err(BundleError::Json(_))));
        assert_eq!(parse_any(b"{}"), Err(BundleError::Unrecognised));
        assert_eq!(parse_any(b"[]"), Err(BundleError::Unrecognised));
        assert_eq!(
            parse_any(br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=9","verificationMaterial":{},"messageSignature":{"signature":"AA=="}}"#),
            Err(BundleError::MediaType("application/vnd.dev.sigstore.bundle+json;version=9".into()))
        );
        assert!(matches!(
            parse_any(br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{}}"#),
            Err(BundleError::Invalid(_))
        ));
    }

    #[test]
    fn oversized_bundles_are_refused_before_parsing() {
        // Not even JSON: the size check comes first.
        let big = vec![b'x'; MAX_BUNDLE_LEN + 1];
        assert_eq!(
            parse_any(&big),
            Err(BundleError::TooLarge {
                len: MAX_BUNDLE_LEN + 1,
                max: MAX_BUNDLE_LEN
            })
        );
    }

    #[test]
    fn cosign_bundle() {
        let b = parse_any(br#"{"base64Signature":"AAEC","cert":"LS0t"}"#).unwrap();
        assert!(
            matches!(b, AnyBundle::Cosign(CosignBundle { ref base64_signature, .. }) if base64_signature == "AAEC")
        );
    }
}

//! Rekor entry bodies (the `canonicalizedBody` of a log entry), normalised for comparison with
//! the bundle they come with: hashedrekord 0.0.1 and 0.0.2, dsse 0.0.1, intoto 0.0.2.
//!
//! Quirk kept from Rekor: intoto 0.0.2 stores the envelope payload and signatures base64-encoded
//! twice; they are decoded here to the raw bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigil_crypto::HashAlgorithm;

/// Who signed, as the entry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    /// PEM text of a certificate or public key (0.0.1 kinds).
    Pem(Vec<u8>),
    /// DER certificate (hashedrekord 0.0.2).
    CertificateDer(Vec<u8>),
    /// DER SPKI public key (hashedrekord 0.0.2).
    PublicKeyDer(Vec<u8>),
}

/// A normalised entry body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    /// hashedrekord 0.0.1 / 0.0.2: a signature over an artefact digest.
    HashedRekord {
        /// `0.0.1` or `0.0.2`.
        version: &'static str,
        /// Signature bytes.
        signature: Vec<u8>,
        /// The signer.
        verifier: Verifier,
        /// The digest algorithm.
        digest_algorithm: HashAlgorithm,
        /// The artefact digest.
        digest: Vec<u8>,
    },
    /// dsse 0.0.1: hashes of the envelope and payload, and the signatures.
    Dsse {
        /// `(algorithm, digest)` of the payload.
        payload_hash: (HashAlgorithm, Vec<u8>),
        /// Signatures with their verifiers.
        signatures: Vec<(Vec<u8>, Verifier)>,
    },
    /// intoto 0.0.2: the envelope itself.
    Intoto {
        /// Envelope payload type.
        payload_type: String,
        /// Raw payload bytes, when the body keeps them (Rekor's canonical form does not, and
        /// records `payload_hash` instead).
        payload: Option<Vec<u8>>,
        /// `(algorithm, digest)` of the payload, as recorded.
        payload_hash: Option<(HashAlgorithm, Vec<u8>)>,
        /// Signatures with their verifiers.
        signatures: Vec<(Vec<u8>, Verifier)>,
    },
}

/// What was wrong with an entry body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not JSON.
    #[error("the log entry body is not JSON: {0}")]
    Json(String),
    /// An unsupported kind or version.
    #[error("unsupported log entry kind {kind} {version}")]
    Kind {
        /// Kind.
        kind: String,
        /// Version.
        version: String,
    },
    /// A missing or malformed field.
    #[error("the {kind} log entry body is malformed: {field}")]
    Field {
        /// Kind.
        kind: &'static str,
        /// Which field.
        field: &'static str,
    },
    /// The body's kind and version differ from what the bundle says.
    #[error(
        "the log entry body is {body_kind} {body_version}, but the bundle says {kind} {version}"
    )]
    KindMismatch {
        /// From the body.
        body_kind: String,
        /// From the body.
        body_version: String,
        /// From the bundle.
        kind: String,
        /// From the bundle.
        version: String,
    },
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn b64(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}

fn hex(s: &str) -> Option<Vec<u8>> {
    sigil_crypto::hash::hex_decode(s)
}

/// Parses a body and checks it is of the `kind`/`version` the bundle names.
pub fn parse_body(body: &[u8], kind: &str, version: &str) -> Result<EntryBody, EntryError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EntryError::Json(e.to_string()))?;
    let body_kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
    let body_version = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if body_kind != kind || body_version != version {
        return Err(EntryError::KindMismatch {
            body_kind: body_kind.to_owned(),
            body_version: body_version.to_owned(),
            kind: kind.to_owned(),
            version: version.to_owned(),
        });
    }
    let spec = v.get("spec").ok_or(EntryError::Field {
        kind: "Rekor",
        field: "spec",
    })?;
    match (kind, version) {
        ("hashedrekord", "0.0.1") => {
            let f = |field| EntryError::Field {
                kind: "hashedrekord",
                field,
            };
            let signature = str_at(spec, &["signature", "content"])
                .and_then(b64)
                .ok_or(f("signature.content"))?;
            let pem = str_at(spec, &["signature", "publicKey", "content"])
                .and_then(b64)
                .ok_or(f("signature.publicKey.content"))?;
            let alg =
                str_at(spec, &["data", "hash", "algorithm"]).ok_or(f("data.hash.algorithm"))?;
            let digest_algorithm = alg.parse().map_err(|_| f("data.hash.algorithm"))?;
            let digest = str_at(spec, &["data", "hash", "value"])
                .and_then(hex)
                .ok_or(f("data.hash.value"))?;
            Ok(EntryBody::HashedRekord {
                version: "0.0.1",
                signature,
                verifier: Verifier::Pem(pem),
                digest_algorithm,
                digest,
            })
        }
        ("hashedrekord", "0.0.2") => {
            let f = |field| EntryError::Field {
                kind: "hashedrekord",
                field,
            };
            let s = spec.get("hashedRekordV002").ok_or(f("hashedRekordV002"))?;
            let signature = str_at(s, &["signature", "content"])
                .and_then(b64)
                .ok_or(f("signature.content"))?;
            let verifier = if let Some(c) =
                str_at(s, &["signature", "verifier", "x509Certificate", "rawBytes"])
            {
                Verifier::CertificateDer(b64(c).ok_or(f("signature.verifier.x509Certificate"))?)
            } else if let Some(k) = str_at(s, &["signature", "verifier", "publicKey", "rawBytes"]) {
                Verifier::PublicKeyDer(b64(k).ok_or(f("signature.verifier.publicKey"))?)
            } else {
                return Err(f("signature.verifier"));
            };
            let alg = str_at(s, &["data", "algorithm"]).ok_or(f("data.algorithm"))?;
            let digest_algorithm =
                HashAlgorithm::from_sigstore_name(alg).ok_or(f("data.algorithm"))?;
            let digest = str_at(s, &["data", "digest"])
                .and_then(b64)
                .ok_or(f("data.digest"))?;
            Ok(EntryBody::HashedRekord {
                version: "0.0.2",
                signature,
                verifier,
                digest_algorithm,
                digest,
            })
        }
        ("dsse", "0.0.1") => {
            let f = |field| EntryError::Field {
                kind: "dsse",
                field,
            };
            let alg =
                str_at(spec, &["payloadHash", "algorithm"]).ok_or(f("payloadHash.algorithm"))?;
            let alg: HashAlgorithm = alg.parse().map_err(|_| f("payloadHash.algorithm"))?;
            let digest = str_at(spec, &["payloadHash", "value"])
                .and_then(hex)
                .ok_or(f("payloadHash.value"))?;
            let sigs = spec
                .get("signatures")
                .and_then(Value::as_array)
                .ok_or(f("signatures"))?;
            let signatures = sigs
                .iter()
                .map(|s| {
                    let sig = str_at(s, &["signature"])
                        .and_then(b64)
                        .ok_or(f("signatures[].signature"))?;
                    let ver = str_at(s, &["verifier"])
                        .and_then(b64)
                        .ok_or(f("signatures[].verifier"))?;
                    Ok((sig, Verifier::Pem(ver)))
                })
                .collect::<Result<Vec<_>, EntryError>>()?;
            Ok(EntryBody::Dsse {
                payload_hash: (alg, digest),
                signatures,
            })
        }
        ("intoto", "0.0.2") => {
            let f = |field| EntryError::Field {
                kind: "intoto",
                field,
            };
            let c = spec.get("content").ok_or(f("content"))?;
            let env = c.get("envelope").ok_or(f("content.envelope"))?;
            let payload_type = str_at(env, &["payloadType"])
                .ok_or(f("envelope.payloadType"))?
                .to_owned();
            let twice = |s: &str| b64(s).and_then(|once| b64(std::str::from_utf8(&once).ok()?));
            // Rekor's canonical form leaves the payload out and keeps payloadHash.
            let payload = match str_at(env, &["payload"]) {
                Some(p) => Some(twice(p).ok_or(f("envelope.payload"))?),
                None => None,
            };
            let sigs = env
                .get("signatures")
                .and_then(Value::as_array)
                .ok_or(f("envelope.signatures"))?;
            let signatures = sigs
                .iter()
                .map(|s| {
                    let sig = str_at(s, &["sig"])
                        .and_then(twice)
                        .ok_or(f("envelope.signatures[].sig"))?;
                    let pk = str_at(s, &["publicKey"])
                        .and_then(b64)
                        .ok_or(f("envelope.signatures[].publicKey"))?;
                    Ok((sig, Verifier::Pem(pk)))
                })
                .collect::<Result<Vec<_>, EntryError>>()?;
            let payload_hash = match (
                str_at(c, &["payloadHash", "algorithm"]),
                str_at(c, &["payloadHash", "value"]),
            ) {
                (Some(a), Some(h)) => Some((
                    a.parse().map_err(|_| f("payloadHash.algorithm"))?,
                    hex(h).ok_or(f("payloadHash.value"))?,
                )),
                _ => None,
            };
            if payload.is_none() && payload_hash.is_none() {
                return Err(f("envelope.payload or payloadHash"));
            }
            Ok(EntryBody::Intoto {
                payload_type,
                payload,
                payload_hash,
                signatures,
            })
        }
        _ => Err(EntryError::Kind {
            kind: kind.to_owned(),
            version: version.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_mismatch_and_unknown_kind() {
        let body = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#;
        assert!(matches!(
            parse_body(body, "dsse", "0.0.1"),
            Err(EntryError::KindMismatch { .. })
        ));
        let body = br#"{"apiVersion":"0.0.1","kind":"rpm","spec":{}}"#;
        assert!(matches!(
            parse_body(body, "rpm", "0.0.1"),
            Err(EntryError::Kind { .. })
        ));
        let body = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#;
        assert_eq!(
            parse_body(body, "hashedrekord", "0.0.1"),
            Err(EntryError::Field {
                kind: "hashedrekord",
                field: "signature.content"
            })
        );
    }
}

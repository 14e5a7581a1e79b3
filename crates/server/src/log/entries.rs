//! Admission of proposed Rekor v1 entries: parse strictly, verify the signature inside against
//! the declared key or certificate, and produce the canonical body (RFC 8785 JSON, as Rekor
//! stores it) with the search keys the entry is indexed under.
//!
//! Kinds: `hashedrekord` 0.0.1, `dsse` 0.0.1 (`proposedContent` in, envelope and payload hashes
//! plus sorted signatures stored, the envelope itself not), `intoto` 0.0.2 (the envelope with
//! Rekor's double base64, its hash and its payload hash).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::hash::{hex_decode, hex_lower};
use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use sigil_formats::dsse;
use sigil_pki::cert::{Certificate, San};

/// Largest canonical body a log entry may have: C2SP entry bundles prefix each entry with a
/// 16-bit length.
pub const MAX_BODY_LEN: usize = 65_535;

/// Most signatures, and most verifiers, a dsse or intoto entry may declare. Each signature is
/// checked against the verifiers, so admission costs at most this squared signature checks
/// (under 10 ms at the size limit), and both counts are checked before any parsing or
/// cryptography.
pub const MAX_DSSE_SIGNATURES: usize = 8;

/// Why a proposed entry was refused (answered with 400 and this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Not JSON.
    #[error("the proposed entry is not JSON: {0}")]
    Json(String),
    /// A kind or version this log does not accept.
    #[error(
        "unsupported entry kind {kind:?} version {version:?} (accepted: hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2)"
    )]
    Kind {
        /// Kind.
        kind: String,
        /// Version.
        version: String,
    },
    /// A missing or malformed field.
    #[error("{kind}: {field} is missing or malformed")]
    Field {
        /// Kind.
        kind: &'static str,
        /// Field path.
        field: &'static str,
    },
    /// The verifier is neither a public key nor a certificate.
    #[error("{0}")]
    Verifier(String),
    /// The signature does not verify.
    #[error("the signature does not verify against the declared {0}")]
    Signature(&'static str),
    /// More signatures or verifiers than [`MAX_DSSE_SIGNATURES`].
    #[error("{kind}: {count} {what}; at most {MAX_DSSE_SIGNATURES} are accepted")]
    TooMany {
        /// Kind.
        kind: &'static str,
        /// `signatures` or `verifiers`.
        what: &'static str,
        /// How many were declared.
        count: usize,
    },
    /// The canonical body is too large for the log.
    #[error("the entry body is {0} bytes; the log stores at most {MAX_BODY_LEN}")]
    TooLarge(usize),
}

/// An admitted entry.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// Canonical body bytes (what the leaf hash covers).
    pub body: Vec<u8>,
    /// Search keys: `hash:sha256:<hex>`, `key:<hex sha256 of SPKI>`, `email:<lower>`,
    /// `subject:<lower>`.
    pub keys: Vec<String>,
}

/// A declared signer.
struct Signer {
    key: PublicKey,
    keys: Vec<String>,
}

fn field(kind: &'static str, f: &'static str) -> Rejected {
    Rejected::Field { kind, field: f }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The search key for a public key: SHA-256 of its DER SPKI.
pub fn key_search_key(key: &PublicKey) -> String {
    format!(
        "key:{}",
        hex_lower(Digest::of(HashAlgorithm::Sha256, key.spki_der()).as_bytes())
    )
}

/// Parses a verifier: PEM of a public key or of a certificate (whose SANs become search keys).
fn signer(pem: &[u8]) -> Result<Signer, Rejected> {
    let label = sigil_crypto::pem::peek_label(pem).unwrap_or_default();
    if label == "CERTIFICATE" {
        let cert = Certificate::from_pem(pem)
            .map_err(|e| Rejected::Verifier(format!("the certificate does not parse: {e}")))?;
        let key = cert
            .public_key()
            .map_err(|e| Rejected::Verifier(format!("the certificate's key: {e}")))?;
        let mut keys = vec![key_search_key(&key)];
        for san in cert.subject_alternative_names().unwrap_or_default() {
            match san {
                San::Email(e) => {
                    keys.push(format!("email:{}", e.to_lowercase()));
                    keys.push(format!("subject:{}", e.to_lowercase()));
                }
                San::Uri(u) => keys.push(format!("subject:{}", u.to_lowercase())),
                _ => {}
            }
        }
        Ok(Signer { key, keys })
    } else {
        let key = PublicKey::from_pem(pem)
            .map_err(|e| Rejected::Verifier(format!("the public key does not parse: {e}")))?;
        Ok(Signer {
            keys: vec![key_search_key(&key)],
            key,
        })
    }
}

fn b64(kind: &'static str, f: &'static str, s: Option<&str>) -> Result<Vec<u8>, Rejected> {
    STANDARD
        .decode(s.ok_or(field(kind, f))?)
        .map_err(|_| field(kind, f))
}

fn canonical(v: &Value) -> Result<Vec<u8>, Rejected> {
    let s = sigil_formats::jcs::canonicalize(v).map_err(|e| Rejected::Json(e.to_string()))?;
    if s.len() > MAX_BODY_LEN {
        return Err(Rejected::TooLarge(s.len()));
    }
    Ok(s.into_bytes())
}

/// Admits a proposed entry (the `POST /api/v1/log/entries` body).
pub fn admit(proposed: &[u8]) -> Result<Admitted, Rejected> {
    let v: Value = serde_json::from_slice(proposed).map_err(|e| Rejected::Json(e.to_string()))?;
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
    let version = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let spec = v.get("spec").unwrap_or(&Value::Null);
    match (kind, version) {
        ("hashedrekord", "0.0.1") => hashedrekord(spec),
        ("dsse", "0.0.1") => dsse_entry(spec),
        ("intoto", "0.0.2") => intoto(spec),
        _ => Err(Rejected::Kind {
            kind: kind.to_owned(),
            version: version.to_owned(),
        }),
    }
}

fn hashedrekord(spec: &Value) -> Result<Admitted, Rejected> {
    const K: &str = "hashedrekord";
    let sig_b64 =
        str_at(spec, &["signature", "content"]).ok_or(field(K, "spec.signature.content"))?;
    let signature = b64(K, "spec.signature.content", Some(sig_b64))?;
    let pem_b64 = str_at(spec, &["signature", "publicKey", "content"])
        .ok_or(field(K, "spec.signature.publicKey.content"))?;
    let pem = b64(K, "spec.signature.publicKey.content", Some(pem_b64))?;
    let alg_name =
        str_at(spec, &["data", "hash", "algorithm"]).ok_or(field(K, "spec.data.hash.algorithm"))?;
    let alg = match alg_name {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        _ => {
            return Err(field(
                K,
                "spec.data.hash.algorithm (sha256, sha384 or sha512)",
            ));
        }
    };
    let hex = str_at(spec, &["data", "hash", "value"]).ok_or(field(K, "spec.data.hash.value"))?;
    let digest_bytes = hex_decode(hex)
        .filter(|_| hex.bytes().all(|b| !b.is_ascii_uppercase()))
        .ok_or(field(K, "spec.data.hash.value (lower-case hex)"))?;
    let digest =
        Digest::from_bytes(alg, &digest_bytes).ok_or(field(K, "spec.data.hash.value (length)"))?;
    let s = signer(&pem)?;
    s.key
        .verify_digest_any_hash(&digest, &signature)
        .map_err(|_| Rejected::Signature("key or certificate"))?;
    let body = canonical(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": alg_name, "value": hex}},
            "signature": {"content": sig_b64, "publicKey": {"content": pem_b64}},
        }
    }))?;
    let mut keys = s.keys;
    keys.push(format!("hash:{alg_name}:{hex}"));
    Ok(Admitted { body, keys })
}

/// Verifies every DSSE signature against one of the verifiers; returns the (signature, verifier
/// PEM) pairs and the verifiers' search keys.
fn check_dsse_signatures(
    kind: &'static str,
    payload_type: &str,
    payload: &[u8],
    sigs: &[(Vec<u8>, Vec<u8>)], // (signature, verifier PEM)
) -> Result<Vec<String>, Rejected> {
    if sigs.is_empty() {
        return Err(field(kind, "signatures (none)"));
    }
    let pae = dsse::pae(payload_type, payload);
    let mut keys = Vec::new();
    for (sig, pem) in sigs {
        let s = signer(pem)?;
        s.key
            .verify(&pae, sig)
            .map_err(|_| Rejected::Signature("verifier"))?;
        keys.extend(s.keys);
    }
    Ok(keys)
}

fn subject_keys(payload_type: &str, payload: &[u8], keys: &mut Vec<String>) {
    if payload_type != dsse::IN_TOTO_PAYLOAD_TYPE {
        return;
    }
    if let Ok(st) = dsse::Statement::parse(payload) {
        for s in st.subject {
            for (alg, d) in s.digest {
                keys.push(format!("hash:{alg}:{}", d.to_lowercase()));
            }
        }
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex_lower(Digest::of(HashAlgorithm::Sha256, b).as_bytes())
}

fn dsse_entry(spec: &Value) -> Result<Admitted, Rejected> {
    const K: &str = "dsse";
    let env_text = str_at(spec, &["proposedContent", "envelope"])
        .ok_or(field(K, "spec.proposedContent.envelope"))?;
    let env: Value = serde_json::from_str(env_text)
        .map_err(|_| field(K, "spec.proposedContent.envelope (JSON)"))?;
    let payload_type = env
        .get("payloadType")
        .and_then(Value::as_str)
        .ok_or(field(K, "envelope.payloadType"))?;
    let payload = b64(
        K,
        "envelope.payload",
        env.get("payload").and_then(Value::as_str),
    )?;
    let verifiers_v = spec
        .get("proposedContent")
        .and_then(|p| p.get("verifiers"))
        .and_then(Value::as_array)
        .ok_or(field(K, "spec.proposedContent.verifiers"))?;
    let env_sigs = env
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or(field(K, "envelope.signatures"))?;
    // Sizes and counts first (a lower bound of what the body stores): nothing is parsed or
    // verified for an entry that cannot be stored.
    for (what, count) in [
        ("signatures", env_sigs.len()),
        ("verifiers", verifiers_v.len()),
    ] {
        if count > MAX_DSSE_SIGNATURES {
            return Err(Rejected::TooMany {
                kind: K,
                what,
                count,
            });
        }
    }
    let stored: usize = env_sigs
        .iter()
        .map(|s| s.get("sig").and_then(Value::as_str).map_or(0, str::len))
        .sum::<usize>()
        + verifiers_v
            .iter()
            .map(|v| v.as_str().map_or(0, str::len))
            .min()
            .unwrap_or(0)
            * env_sigs.len();
    if stored > MAX_BODY_LEN {
        return Err(Rejected::TooLarge(stored));
    }
    // Each verifier parsed once.
    let verifiers: Vec<(Vec<u8>, Signer)> = verifiers_v
        .iter()
        .map(|v| {
            let pem = b64(K, "spec.proposedContent.verifiers[]", v.as_str())?;
            let s = signer(&pem)?;
            Ok((pem, s))
        })
        .collect::<Result<_, Rejected>>()?;
    let pae = dsse::pae(payload_type, &payload);
    // Pair each signature with the verifier that verifies it, as Rekor does.
    let mut pairs = Vec::new();
    let mut keys = Vec::new();
    for s in env_sigs {
        let sig = b64(
            K,
            "envelope.signatures[].sig",
            s.get("sig").and_then(Value::as_str),
        )?;
        let (pem, signer) = verifiers
            .iter()
            .find(|(_, v)| v.key.verify(&pae, &sig).is_ok())
            .ok_or(Rejected::Signature("verifiers"))?;
        keys.extend(signer.keys.iter().cloned());
        pairs.push((STANDARD.encode(&sig), STANDARD.encode(pem)));
    }
    if pairs.is_empty() {
        return Err(field(K, "envelope.signatures (none)"));
    }
    pairs.sort();
    let payload_hash = sha256_hex(&payload);
    let body = canonical(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": sha256_hex(env_text.as_bytes())},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
            "signatures": pairs.iter().map(|(s, v)| json!({"signature": s, "verifier": v})).collect::<Vec<_>>(),
        }
    }))?;
    keys.push(format!("hash:sha256:{payload_hash}"));
    subject_keys(payload_type, &payload, &mut keys);
    Ok(Admitted { body, keys })
}

fn intoto(spec: &Value) -> Result<Admitted, Rejected> {
    const K: &str = "intoto";
    let env = spec
        .get("content")
        .and_then(|c| c.get("envelope"))
        .ok_or(field(K, "spec.content.envelope"))?;
    let payload_type = env
        .get("payloadType")
        .and_then(Value::as_str)
        .ok_or(field(K, "envelope.payloadType"))?;
    // Rekor's intoto 0.0.2 quirk: payload and signatures are base64 of the base64 text.
    let twice = |f: &'static str, s: Option<&str>| -> Result<Vec<u8>, Rejected> {
        let once = b64(K, f, s)?;
        STANDARD.decode(&once).map_err(|_| field(K, f))
    };
    let payload_b64 = env.get("payload").and_then(Value::as_str);
    let payload = twice("envelope.payload", payload_b64)?;
    let sigs_v = env
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or(field(K, "envelope.signatures"))?;
    if sigs_v.len() > MAX_DSSE_SIGNATURES {
        return Err(Rejected::TooMany {
            kind: K,
            what: "signatures",
            count: sigs_v.len(),
        });
    }
    let stored = payload_b64.map_or(0, str::len)
        + sigs_v
            .iter()
            .map(|s| {
                s.get("sig").and_then(Value::as_str).map_or(0, str::len)
                    + s.get("publicKey")
                        .and_then(Value::as_str)
                        .map_or(0, str::len)
            })
            .sum::<usize>();
    if stored > MAX_BODY_LEN {
        return Err(Rejected::TooLarge(stored));
    }
    let mut sigs = Vec::new();
    let mut norm_sigs = Vec::new();
    for s in sigs_v {
        let sig_s = s.get("sig").and_then(Value::as_str);
        let sig = twice("envelope.signatures[].sig", sig_s)?;
        let pk_s = s.get("publicKey").and_then(Value::as_str);
        let pem = b64(K, "envelope.signatures[].publicKey", pk_s)?;
        norm_sigs.push(json!({"sig": sig_s, "publicKey": pk_s}));
        sigs.push((sig, pem));
    }
    let mut keys = check_dsse_signatures(K, payload_type, &payload, &sigs)?;
    let envelope =
        json!({"payloadType": payload_type, "payload": payload_b64, "signatures": norm_sigs});
    let payload_hash = sha256_hex(&payload);
    let env_hash = sha256_hex(&canonical(&envelope)?);
    let body = canonical(&json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {"content": {
            "envelope": envelope,
            "hash": {"algorithm": "sha256", "value": env_hash},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
        }}
    }))?;
    keys.push(format!("hash:sha256:{payload_hash}"));
    subject_keys(payload_type, &payload, &mut keys);
    Ok(Admitted { body, keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_crypto::{KeyAlgorithm, SigningKey};

    fn hashedrekord_json(key: &SigningKey, data: &[u8], tamper: bool) -> Vec<u8> {
        let digest = Digest::of(HashAlgorithm::Sha256, data);
        let mut sig = key.sign(data).unwrap();
        if tamper {
            sig[10] ^= 1;
        }
        json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
            "signature": {"content": STANDARD.encode(sig),
                          "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())}},
            "data": {"hash": {"algorithm": "sha256", "value": digest.to_hex()}}}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn hashedrekord_is_verified_and_canonicalised_as_the_verifier_reads_it() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let a = admit(&hashedrekord_json(&key, b"artefact", false)).unwrap();
        // The body parses as the engine parses log bodies.
        let parsed = sigil_formats::rekor::parse_body(&a.body, "hashedrekord", "0.0.1").unwrap();
        assert!(matches!(
            parsed,
            sigil_formats::rekor::EntryBody::HashedRekord { .. }
        ));
        assert!(a.keys.contains(&format!(
            "hash:sha256:{}",
            Digest::of(HashAlgorithm::Sha256, b"artefact").to_hex()
        )));
        assert!(a.keys.contains(&key_search_key(key.public_key())));
        assert_eq!(
            admit(&hashedrekord_json(&key, b"artefact", true)).unwrap_err(),
            Rejected::Signature("key or certificate")
        );
        assert!(matches!(admit(b"{"), Err(Rejected::Json(_))));
        assert_eq!(
            admit(br#"{"kind":"rekord","apiVersion":"0.0.1","spec":{}}"#).unwrap_err(),
            Rejected::Kind {
                kind: "rekord".into(),
                version: "0.0.1".into()
            }
        );
        assert!(matches!(
            admit(br#"{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{}}"#),
            Err(Rejected::Field { .. })
        ));
    }

    #[test]
    /// The hostile-input run's 800 x 800 entry (39 s of CPU before the fix) is refused from its
    /// counts before anything is parsed or verified; 8 x 8, the most accepted, is admitted, with
    /// each verifier parsed once and every signature found among them.
    fn dsse_signature_and_verifier_counts_are_checked_first() {
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"abcd"}}],"predicateType":"x","predicate":{}}"#;
        let pae = dsse::pae(dsse::IN_TOTO_PAYLOAD_TYPE, payload);
        let keys: Vec<SigningKey> = (0..MAX_DSSE_SIGNATURES)
            .map(|_| SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap())
            .collect();
        let entry = |sigs: Vec<Value>, verifiers: Vec<String>| {
            let env = json!({"payloadType": dsse::IN_TOTO_PAYLOAD_TYPE,
                             "payload": STANDARD.encode(payload), "signatures": sigs});
            json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
                "envelope": env.to_string(), "verifiers": verifiers}}})
            .to_string()
        };
        let one_sig = json!({"sig": STANDARD.encode(keys[0].sign(&pae).unwrap())});
        let pem = STANDARD.encode(keys[0].public_key().to_pem());
        let hostile = entry(vec![one_sig.clone(); 800], vec![pem.clone(); 800]);
        assert_eq!(
            admit(hostile.as_bytes()).unwrap_err(),
            Rejected::TooMany {
                kind: "dsse",
                what: "signatures",
                count: 800
            }
        );
        let many_verifiers = entry(vec![one_sig], vec![pem; MAX_DSSE_SIGNATURES + 1]);
        assert!(matches!(
            admit(many_verifiers.as_bytes()).unwrap_err(),
            Rejected::TooMany {
                what: "verifiers",
                ..
            }
        ));
        // The most accepted: every signature is by the verifier listed last but one.
        let sigs: Vec<Value> = keys
            .iter()
            .map(|k| json!({"sig": STANDARD.encode(k.sign(&pae).unwrap())}))
            .collect();
        let verifiers: Vec<String> = keys
            .iter()
            .rev()
            .map(|k| STANDARD.encode(k.public_key().to_pem()))
            .collect();
        let a = admit(entry(sigs, verifiers).as_bytes()).unwrap();
        sigil_formats::rekor::parse_body(&a.body, "dsse", "0.0.1").unwrap();
    }

    #[test]
    fn dsse_and_intoto_bodies_parse_back() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"abcd"}}],"predicateType":"x","predicate":{}}"#;
        let sig = key
            .sign(&dsse::pae(dsse::IN_TOTO_PAYLOAD_TYPE, payload))
            .unwrap();
        let env = json!({"payloadType": dsse::IN_TOTO_PAYLOAD_TYPE, "payload": STANDARD.encode(payload),
                         "signatures": [{"sig": STANDARD.encode(&sig), "keyid": ""}]});
        let pem = STANDARD.encode(key.public_key().to_pem());
        let proposed = json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
            "envelope": env.to_string(), "verifiers": [pem]}}});
        let a = admit(proposed.to_string().as_bytes()).unwrap();
        sigil_formats::rekor::parse_body(&a.body, "dsse", "0.0.1").unwrap();
        assert!(a.keys.contains(&"hash:sha256:abcd".to_string()));
        let twice = |b: &[u8]| STANDARD.encode(STANDARD.encode(b));
        let proposed = json!({"kind": "intoto", "apiVersion": "0.0.2", "spec": {"content": {"envelope": {
            "payloadType": dsse::IN_TOTO_PAYLOAD_TYPE, "payload": twice(payload),
            "signatures": [{"sig": twice(&sig), "publicKey": pem}]}}}});
        let a = admit(proposed.to_string().as_bytes()).unwrap();
        sigil_formats::rekor::parse_body(&a.body, "intoto", "0.0.2").unwrap();
        let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let proposed = json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
            "envelope": env.to_string(), "verifiers": [STANDARD.encode(other.public_key().to_pem())]}}});
        assert_eq!(
            admit(proposed.to_string().as_bytes()).unwrap_err(),
            Rejected::Signature("verifiers")
        );
    }
}

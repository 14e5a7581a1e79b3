//! The signed entry timestamp (SET): a log's signature over an entry's body, integration time,
//! log ID and index, as Rekor v1 defines it. The payload is the RFC 8785 canonical JSON of
//! `{"body", "integratedTime", "logID", "logIndex"}` — built here once, for the log that signs
//! it, the client that checks an answer and the verifier that checks a bundle.
//!
//! ```
//! use sigil_tlog::set;
//!
//! let p = set::payload("e30=", 1_700_000_000, "c0d23d6a", 7)?;
//! assert_eq!(p, r#"{"body":"e30=","integratedTime":1700000000,"logID":"c0d23d6a","logIndex":7}"#);
//! # Ok::<(), set::SetError>(())
//! ```

use sigil_crypto::PublicKey;

/// Why a SET could not be built or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// A number canonical JSON cannot carry exactly (beyond ±2^53).
    #[error("the entry's {field} ({value}) is beyond what canonical JSON holds exactly")]
    OutOfRange {
        /// `integratedTime` or `logIndex`.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// The signature is not the log key's over this entry.
    #[error("the signed entry timestamp does not verify with the log's key")]
    Invalid,
}

const EXACT: u64 = 1 << 53;

/// The canonical SET payload of an entry: its base64 body as served, integration time (Unix
/// seconds), log ID (lowercase hex of the SHA-256 of the log's public key) and index.
pub fn payload(
    body_b64: &str,
    integrated_time: i64,
    log_id: &str,
    log_index: u64,
) -> Result<String, SetError> {
    if integrated_time.unsigned_abs() > EXACT {
        return Err(SetError::OutOfRange {
            field: "integratedTime",
            value: integrated_time.to_string(),
        });
    }
    if log_index > EXACT {
        return Err(SetError::OutOfRange {
            field: "logIndex",
            value: log_index.to_string(),
        });
    }
    let mut out = String::with_capacity(body_b64.len() + log_id.len() + 80);
    out.push_str("{\"body\":");
    sigil_formats::jcs::write_string(body_b64, &mut out);
    out.push_str(",\"integratedTime\":");
    out.push_str(&integrated_time.to_string());
    out.push_str(",\"logID\":");
    sigil_formats::jcs::write_string(log_id, &mut out);
    out.push_str(",\"logIndex\":");
    out.push_str(&log_index.to_string());
    out.push('}');
    Ok(out)
}

/// Checks `set` (the DER or raw signature the log returned) over [`payload`] with the log's key.
pub fn verify(
    key: &PublicKey,
    set: &[u8],
    body_b64: &str,
    integrated_time: i64,
    log_id: &str,
    log_index: u64,
) -> Result<(), SetError> {
    let p = payload(body_b64, integrated_time, log_id, log_index)?;
    key.verify_message(p.as_bytes(), set)
        .map_err(|_| SetError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_the_canonical_json_of_the_entry() {
        let bodies = [
            "",
            "e30=",
            "eyJraW5kIjoiaGFzaGVkcmVrb3JkIn0=",
            "a\"b\\c\n\u{1}\u{7f}é😀",
        ];
        let times = [
            0i64,
            1,
            1_700_000_000,
            (1 << 53) - 1,
            1 << 53,
            (1 << 53) + 1,
            -1,
            i64::MAX,
            i64::MIN,
        ];
        let indexes = [0u64, 7, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, u64::MAX];
        let ids = ["ab".repeat(32), "not \"hex\"\n\u{1f}".to_owned()];
        for body in bodies {
            for t in times {
                for i in indexes {
                    for id in &ids {
                        let v = serde_json::json!({"body": body, "integratedTime": t, "logID": id, "logIndex": i});
                        // Both refuse what canonical JSON cannot hold exactly.
                        let want = sigil_formats::jcs::canonicalize(&v).ok();
                        assert_eq!(
                            payload(body, t, id, i).ok(),
                            want,
                            "{t} {i} {id:?} {body:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(
            payload("", i64::MIN, "", 0),
            Err(SetError::OutOfRange {
                field: "integratedTime",
                value: i64::MIN.to_string()
            })
        );
        assert_eq!(
            payload("", 0, "", u64::MAX),
            Err(SetError::OutOfRange {
                field: "logIndex",
                value: u64::MAX.to_string()
            })
        );
    }

    #[test]
    fn a_set_verifies_only_over_its_own_entry() {
        let key =
            sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256).unwrap();
        let set = key
            .sign_message(payload("e30=", 5, "ab", 3).unwrap().as_bytes())
            .unwrap();
        let pk = key.public_key();
        assert_eq!(verify(pk, &set, "e30=", 5, "ab", 3), Ok(()));
        assert_eq!(verify(pk, &set, "e30=", 6, "ab", 3), Err(SetError::Invalid));
        assert_eq!(verify(pk, &set, "e30=", 5, "ab", 4), Err(SetError::Invalid));
        assert_eq!(verify(pk, &set, "e31=", 5, "ab", 3), Err(SetError::Invalid));
        assert_eq!(verify(pk, &set, "e30=", 5, "ac", 3), Err(SetError::Invalid));
    }
}

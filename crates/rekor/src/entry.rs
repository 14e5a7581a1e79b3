//! Log entries as the Rekor v1 API returns them, parsed strictly (pure: no I/O), and the
//! shapes Sigil writes from them: a bundle's `TransparencyLogEntry` and cosign's
//! `dev.sigstore.cosign/bundle` annotation; and the proposals Sigil uploads.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::hash::{hex_decode, hex_lower};
use sigil_crypto::{Digest, PublicKey};
use sigil_formats::bundle::{
    Bytes, Checkpoint, InclusionPromise, InclusionProof as BundleProof, Int64, KindVersion, LogId,
    TransparencyLogEntry,
};
use sigil_tlog::merkle::Hash;

/// Most entries one answer may hold (a `retrieve` of many UUIDs).
pub const MAX_ENTRIES: usize = 1024;
/// Most hashes in one proof (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_HASHES: usize = 64;

/// What was wrong with an answer of the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all.
    #[error("the answer is not JSON")]
    NotJson,
    /// Not the shape the API defines (an object of entries, a list, ...).
    #[error("the answer is not {0}")]
    Shape(&'static str),
    /// A field the answer must carry is absent or of the wrong JSON type.
    #[error("the answer has no {what} ({field})")]
    Missing {
        /// The JSON field.
        field: &'static str,
        /// What it is, for people.
        what: &'static str,
    },
    /// A field that does not decode (not base64, not hex, negative, not 32 bytes).
    #[error("the answer's {what} ({field}) is {problem}")]
    Malformed {
        /// The JSON field.
        field: &'static str,
        /// What it is, for people.
        what: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// Too many entries or proof hashes.
    #[error("the answer holds over {limit} {what}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

/// An inclusion proof as the log returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's index the proof is for.
    pub log_index: u64,
    /// The root of the tree the proof leads to.
    pub root_hash: Hash,
    /// That tree's size.
    pub tree_size: u64,
    /// The audit path, leaf to root.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint (C2SP note) of that tree, when the log sends one.
    pub checkpoint: Option<String>,
}

/// One log entry, every field parsed. Nothing absent becomes zero: what the API requires is
/// required here, and the optional parts (SET, proof) are `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The entry's UUID as the log keyed it (64 hex of the leaf hash, or 80 with a tree ID).
    pub uuid: String,
    /// The canonical body.
    pub body: Vec<u8>,
    /// The body's base64 as the log served it (what the SET signs).
    pub body_b64: String,
    /// The body's `kind` (`hashedrekord`, `dsse`, ...).
    pub kind: String,
    /// The body's `apiVersion`.
    pub api_version: String,
    /// Unix seconds at integration.
    pub integrated_time: i64,
    /// The log's ID (SHA-256 of its public key).
    pub log_id: Vec<u8>,
    /// The entry's index.
    pub log_index: u64,
    /// The signed entry timestamp.
    pub set: Option<Vec<u8>>,
    /// The inclusion proof.
    pub proof: Option<InclusionProof>,
}

fn str_field<'a>(
    v: &'a Value,
    field: &'static str,
    what: &'static str,
) -> Result<&'a str, ParseError> {
    v.get(field)
        .and_then(Value::as_str)
        .ok_or(ParseError::Missing { field, what })
}

fn u64_field(v: &Value, field: &'static str, what: &'static str) -> Result<u64, ParseError> {
    let n = v.get(field).ok_or(ParseError::Missing { field, what })?;
    if let Some(n) = n.as_u64() {
        return Ok(n);
    }
    Err(if n.is_number() {
        ParseError::Malformed {
            field,
            what,
            problem: "negative or not an integer",
        }
    } else {
        ParseError::Missing { field, what }
    })
}

fn hash_hex(s: &str, field: &'static str, what: &'static str) -> Result<Hash, ParseError> {
    hex_decode(s)
        .and_then(|b| b.try_into().ok())
        .ok_or(ParseError::Malformed {
            field,
            what,
            problem: "not a 32-byte hex hash",
        })
}

/// A list of hex hashes (a proof's path), at most [`MAX_PROOF_HASHES`].
pub fn hash_list(
    v: &Value,
    field: &'static str,
    what: &'static str,
) -> Result<Vec<Hash>, ParseError> {
    let list = v
        .get(field)
        .and_then(Value::as_array)
        .ok_or(ParseError::Missing { field, what })?;
    if list.len() > MAX_PROOF_HASHES {
        return Err(ParseError::TooMany {
            what: "proof hashes",
            limit: MAX_PROOF_HASHES,
        });
    }
    list.iter()
        .map(|h| {
            h.as_str()
                .ok_or(ParseError::Malformed {
                    field,
                    what,
                    problem: "not a list of strings",
                })
                .and_then(|h| hash_hex(h, field, what))
        })
        .collect()
}

impl InclusionProof {
    fn parse(p: &Value) -> Result<Self, ParseError> {
        Ok(Self {
            log_index: u64_field(p, "logIndex", "inclusion proof's index")?,
            root_hash: hash_hex(
                str_field(p, "rootHash", "inclusion proof's root hash")?,
                "rootHash",
                "inclusion proof's root hash",
            )?,
            tree_size: u64_field(p, "treeSize", "inclusion proof's tree size")?,
            hashes: hash_list(p, "hashes", "inclusion proof's hashes")?,
            checkpoint: match p.get("checkpoint") {
                None | Some(Value::Null) => None,
                Some(c) => Some(
                    c.as_str()
                        .ok_or(ParseError::Malformed {
                            field: "checkpoint",
                            what: "inclusion proof's checkpoint",
                            problem: "not a string",
                        })?
                        .to_owned(),
                ),
            },
        })
    }
}

impl LogEntry {
    /// One entry: `uuid` is the key the log filed it under, `e` its value.
    pub fn parse(uuid: &str, e: &Value) -> Result<Self, ParseError> {
        let body_b64 = str_field(e, "body", "entry body")?;
        let body = STANDARD
            .decode(body_b64)
            .map_err(|_| ParseError::Malformed {
                field: "body",
                what: "entry body",
                problem: "not base64",
            })?;
        let head: Value = serde_json::from_slice(&body).map_err(|_| ParseError::Malformed {
            field: "body",
            what: "entry body",
            problem: "not JSON",
        })?;
        let kind = str_field(&head, "kind", "entry body's kind")?.to_owned();
        let api_version = str_field(&head, "apiVersion", "entry body's apiVersion")?.to_owned();
        let integrated_time = i64::try_from(u64_field(e, "integratedTime", "integration time")?)
            .map_err(|_| ParseError::Malformed {
                field: "integratedTime",
                what: "integration time",
                problem: "out of range",
            })?;
        let log_id = hex_decode(str_field(e, "logID", "log ID")?).ok_or(ParseError::Malformed {
            field: "logID",
            what: "log ID",
            problem: "not hex",
        })?;
        let verification = e.get("verification").filter(|v| !v.is_null());
        let set = match verification.and_then(|v| v.get("signedEntryTimestamp")) {
            None | Some(Value::Null) => None,
            Some(s) => Some(s.as_str().and_then(|s| STANDARD.decode(s).ok()).ok_or(
                ParseError::Malformed {
                    field: "signedEntryTimestamp",
                    what: "signed entry timestamp",
                    problem: "not base64",
                },
            )?),
        };
        let proof = match verification.and_then(|v| v.get("inclusionProof")) {
            None | Some(Value::Null) => None,
            Some(p) => Some(InclusionProof::parse(p)?),
        };
        Ok(Self {
            uuid: uuid.to_owned(),
            body_b64: body_b64.to_owned(),
            body,
            kind,
            api_version,
            integrated_time,
            log_id,
            log_index: u64_field(e, "logIndex", "log index")?,
            set,
            proof,
        })
    }

    /// The entries of one `{uuid: entry, ...}` object.
    pub fn parse_map(v: &Value) -> Result<Vec<Self>, ParseError> {
        let o = v
            .as_object()
            .ok_or(ParseError::Shape("an object of entries"))?;
        if o.len() > MAX_ENTRIES {
            return Err(ParseError::TooMany {
                what: "entries",
                limit: MAX_ENTRIES,
            });
        }
        o.iter().map(|(uuid, e)| Self::parse(uuid, e)).collect()
    }

    /// An answer's entries: `{uuid: entry}` (get, upload) or a list of them (retrieve).
    pub fn parse_answer(bytes: &[u8]) -> Result<Vec<Self>, ParseError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|_| ParseError::NotJson)?;
        match &v {
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(Self::parse_map(item)?);
                    if out.len() > MAX_ENTRIES {
                        return Err(ParseError::TooMany {
                            what: "entries",
                            limit: MAX_ENTRIES,
                        });
                    }
                }
                Ok(out)
            }
            _ => Self::parse_map(&v),
        }
    }

    /// The leaf hash of the body (what the UUID names).
    pub fn leaf_hash(&self) -> Hash {
        sigil_tlog::merkle::leaf_hash(&self.body)
    }

    /// Whether the UUID names this body: its last 64 hex digits are the leaf hash (an
    /// 80-digit UUID prefixes the 16-digit tree ID).
    pub fn uuid_matches_body(&self) -> bool {
        uuid_leaf(&self.uuid) == Some(hex_lower(&self.leaf_hash()))
    }

    /// The bundle's `TransparencyLogEntry` for this entry.
    pub fn to_bundle_entry(&self) -> TransparencyLogEntry {
        TransparencyLogEntry {
            log_index: Int64(self.log_index as i64),
            log_id: LogId {
                key_id: Bytes(self.log_id.clone()),
            },
            kind_version: KindVersion {
                kind: self.kind.clone(),
                version: self.api_version.clone(),
            },
            integrated_time: Int64(self.integrated_time),
            inclusion_promise: self.set.as_ref().map(|s| InclusionPromise {
                signed_entry_timestamp: Bytes(s.clone()),
            }),
            inclusion_proof: self.proof.as_ref().map(|p| BundleProof {
                log_index: Int64(p.log_index as i64),
                root_hash: Bytes(p.root_hash.to_vec()),
                tree_size: Int64(p.tree_size as i64),
                hashes: p.hashes.iter().map(|h| Bytes(h.to_vec())).collect(),
                checkpoint: p.checkpoint.as_ref().map(|c| Checkpoint {
                    envelope: c.clone(),
                }),
            }),
            canonicalized_body: Bytes(self.body.clone()),
        }
    }
}

/// The leaf-hash part of a UUID (lowercase), `None` when it is not 64 or 80 hex digits.
pub fn uuid_leaf(uuid: &str) -> Option<String> {
    let u = uuid.to_ascii_lowercase();
    let ok = (u.len() == 64 || u.len() == 80) && u.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u[u.len() - 64..].to_owned())
}

/// cosign's `dev.sigstore.cosign/bundle` annotation for an entry.
pub fn cosign_bundle_annotation(e: &TransparencyLogEntry) -> String {
    json!({
        "SignedEntryTimestamp": e.inclusion_promise.as_ref().map(|p| STANDARD.encode(&p.signed_entry_timestamp.0)),
        "Payload": {
            "body": STANDARD.encode(&e.canonicalized_body.0),
            "integratedTime": e.integrated_time.0,
            "logIndex": e.log_index.0,
            "logID": hex_lower(&e.log_id.key_id.0),
        }
    })
    .to_string()
}

/// The hashedrekord 0.0.1 proposal for a signature over `digest` by `key`.
pub fn hashedrekord(signature: &[u8], key: &PublicKey, digest: &Digest) -> Value {
    hashedrekord_pem(signature, &key.to_pem(), digest)
}

/// The hashedrekord 0.0.1 proposal for a signature over `digest` by the verifier in `pem`:
/// a public key, or a signing certificate (as keyless clients upload it).
pub fn hashedrekord_pem(signature: &[u8], pem: &str, digest: &Digest) -> Value {
    json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "signature": {"content": STANDARD.encode(signature),
                      "publicKey": {"content": STANDARD.encode(pem)}},
        "data": {"hash": {"algorithm": digest.algorithm().name(), "value": digest.to_hex()}}}})
}

/// The dsse 0.0.1 proposal for an envelope signed by `key`.
pub fn dsse(envelope_json: &str, key: &PublicKey) -> Value {
    dsse_pem(envelope_json, &key.to_pem())
}

/// The dsse 0.0.1 proposal for an envelope signed by the verifier in `pem` (a public key or a
/// signing certificate).
pub fn dsse_pem(envelope_json: &str, pem: &str) -> Value {
    json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": envelope_json, "verifiers": [STANDARD.encode(pem)]}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_json() -> Value {
        let body = STANDARD.encode(br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#);
        json!({"body": body, "integratedTime": 1_700_000_000, "logID": "ab".repeat(32), "logIndex": 4,
               "verification": {"signedEntryTimestamp": STANDARD.encode([1u8, 2]),
                                "inclusionProof": {"logIndex": 4, "rootHash": "cd".repeat(32), "treeSize": 5,
                                                   "hashes": ["ef".repeat(32)], "checkpoint": "cp"}}})
    }

    #[test]
    fn parses_every_field_and_nothing_missing_becomes_zero() {
        let e = LogEntry::parse("u", &entry_json()).unwrap();
        assert_eq!(
            (e.kind.as_str(), e.api_version.as_str()),
            ("hashedrekord", "0.0.1")
        );
        assert_eq!((e.integrated_time, e.log_index), (1_700_000_000, 4));
        assert_eq!(e.set.as_deref(), Some(&[1u8, 2][..]));
        let p = e.proof.as_ref().unwrap();
        assert_eq!((p.log_index, p.tree_size, p.hashes.len()), (4, 5, 1));
        let b = e.to_bundle_entry();
        assert_eq!(b.canonicalized_body.0, e.body);

        for (field, want) in [
            (
                "integratedTime",
                ParseError::Missing {
                    field: "integratedTime",
                    what: "integration time",
                },
            ),
            (
                "logIndex",
                ParseError::Missing {
                    field: "logIndex",
                    what: "log index",
                },
            ),
            (
                "logID",
                ParseError::Missing {
                    field: "logID",
                    what: "log ID",
                },
            ),
            (
                "body",
                ParseError::Missing {
                    field: "body",
                    what: "entry body",
                },
            ),
        ] {
            let mut v = entry_json();
            v.as_object_mut().unwrap().remove(field);
            assert_eq!(LogEntry::parse("u", &v), Err(want), "{field}");
        }
        let mut v = entry_json();
        v["verification"]["inclusionProof"]
            .as_object_mut()
            .unwrap()
            .remove("treeSize");
        assert_eq!(
            LogEntry::parse("u", &v),
            Err(ParseError::Missing {
                field: "treeSize",
                what: "inclusion proof's tree size"
            })
        );
        let mut v = entry_json();
        v["logIndex"] = json!(-1);
        assert!(matches!(
            LogEntry::parse("u", &v),
            Err(ParseError::Malformed {
                field: "logIndex",
                ..
            })
        ));
        let mut v = entry_json();
        v["verification"]["inclusionProof"]["rootHash"] = json!("abcd");
        assert!(matches!(
            LogEntry::parse("u", &v),
            Err(ParseError::Malformed {
                field: "rootHash",
                ..
            })
        ));
        let mut v = entry_json();
        v["verification"]["inclusionProof"]["hashes"] = json!(vec!["ef".repeat(32); 65]);
        assert_eq!(
            LogEntry::parse("u", &v),
            Err(ParseError::TooMany {
                what: "proof hashes",
                limit: 64
            })
        );
        let mut v = entry_json();
        v["verification"] = Value::Null;
        let e = LogEntry::parse("u", &v).unwrap();
        assert_eq!((e.set, e.proof), (None, None));
    }

    #[test]
    fn answers_are_objects_or_lists_of_them() {
        let one = serde_json::to_vec(&json!({"a": entry_json()})).unwrap();
        assert_eq!(LogEntry::parse_answer(&one).unwrap().len(), 1);
        let list = serde_json::to_vec(&json!([{"a": entry_json()}, {"b": entry_json()}])).unwrap();
        assert_eq!(LogEntry::parse_answer(&list).unwrap().len(), 2);
        assert_eq!(LogEntry::parse_answer(b"<html>"), Err(ParseError::NotJson));
        assert_eq!(
            LogEntry::parse_answer(b"7"),
            Err(ParseError::Shape("an object of entries"))
        );
    }

    #[test]
    fn uuids_name_the_leaf_hash() {
        let leaf = "ab".repeat(32);
        assert_eq!(uuid_leaf(&leaf).as_deref(), Some(leaf.as_str()));
        assert_eq!(
            uuid_leaf(&format!("{}{leaf}", "1".repeat(16))).as_deref(),
            Some(leaf.as_str())
        );
        assert_eq!(
            uuid_leaf(&leaf.to_uppercase()).as_deref(),
            Some(leaf.as_str())
        );
        assert_eq!(uuid_leaf("abc"), None);
        assert_eq!(uuid_leaf(&"zz".repeat(32)), None);
    }
}

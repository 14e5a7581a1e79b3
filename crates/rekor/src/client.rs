//! The HTTP client of a Rekor v1-compatible log (Sigil's own or Rekor): every answer is read
//! with a size limit, parsed strictly ([`crate::entry`]), and checked to be what was asked for.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::{Digest, PublicKey};
use sigil_tlog::checkpoint::Checkpoint;
use sigil_tlog::merkle::Hash;

use crate::entry::{LogEntry, ParseError, hash_list, uuid_leaf};
use crate::verify::{self, ConsistencyError, EntryError, LogKey, VerifiedEntry};

/// Largest answer read from a log.
pub const MAX_RESPONSE: u64 = 16 * 1024 * 1024;
/// Largest public key read from a log.
pub const MAX_KEY: u64 = 64 * 1024;
/// Most entries fetched to find the one recording a detached signature.
pub const MAX_CANDIDATES: usize = 64;

/// Why a call to the log failed.
#[derive(Debug, thiserror::Error)]
pub enum RekorError {
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// No answer (connection refused, timeout, TLS).
    #[error("cannot reach the transparency log at {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An answer other than success, with the log's message.
    #[error("{url}: {status}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The log's message (or the start of its answer).
        message: String,
    },
    /// An answer over the limit.
    #[error("{url}: the response is over {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// An answer that does not parse.
    #[error("{url}: {source}")]
    Answer {
        /// The URL.
        url: String,
        /// What was wrong.
        source: ParseError,
    },
    /// The log refused a proposed entry.
    #[error("the transparency log refused the entry ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The log's message.
        message: String,
    },
    /// A 409 (already logged) that does not say where the entry is.
    #[error("{url}: 409 without a Location")]
    ConflictWithoutLocation {
        /// The URL.
        url: String,
    },
    /// The log answered with another entry than the one asked for.
    #[error("{url}: asked for {asked}, the log answered with {got}")]
    WrongEntry {
        /// The URL.
        url: String,
        /// What was asked.
        asked: String,
        /// What came back.
        got: String,
    },
    /// The log's public key does not parse.
    #[error("{url}: the log's public key: {reason}")]
    Key {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The entry does not verify with the log's key.
    #[error("{0}")]
    Entry(#[from] EntryError),
    /// Two views of the log are not one log.
    #[error("{0}")]
    Consistency(#[from] ConsistencyError),
    /// A checkpoint the log served does not verify.
    #[error("the checkpoint: {0}")]
    Checkpoint(#[from] sigil_tlog::checkpoint::NoteError),
    /// Sizes that do not exist in the log.
    #[error("need first size <= last size <= {tree_size} (the tree size); got {first} and {last}")]
    Sizes {
        /// The asked first size.
        first: u64,
        /// The asked last size.
        last: u64,
        /// The log's size.
        tree_size: u64,
    },
}

impl RekorError {
    /// Whether the error is a verification failure (the log answered, and its answer does not
    /// hold up), as opposed to the log being unreachable or its answer unreadable.
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            Self::Entry(_) | Self::Consistency(_) | Self::Checkpoint(_) | Self::WrongEntry { .. }
        )
    }
}

/// The log's state as `GET /api/v1/log` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    /// The tree size.
    pub tree_size: u64,
    /// The signed checkpoint (C2SP note) of that tree.
    pub signed_tree_head: String,
}

impl LogInfo {
    /// Parses the answer.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|_| ParseError::NotJson)?;
        Ok(Self {
            tree_size: v
                .get("treeSize")
                .and_then(Value::as_u64)
                .ok_or(ParseError::Missing {
                    field: "treeSize",
                    what: "tree size",
                })?,
            signed_tree_head: v
                .get("signedTreeHead")
                .and_then(Value::as_str)
                .ok_or(ParseError::Missing {
                    field: "signedTreeHead",
                    what: "signed tree head",
                })?
                .to_owned(),
        })
    }
}

/// A consistency proof as `GET /api/v1/log/proof` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The root of the larger tree, as the log states it.
    pub root_hash: Hash,
    /// The proof.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Parses the answer.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|_| ParseError::NotJson)?;
        let root = v
            .get("rootHash")
            .and_then(Value::as_str)
            .ok_or(ParseError::Missing {
                field: "rootHash",
                what: "root hash",
            })?;
        Ok(Self {
            root_hash: sigil_crypto::hash::hex_decode(root)
                .and_then(|b| b.try_into().ok())
                .ok_or(ParseError::Malformed {
                    field: "rootHash",
                    what: "root hash",
                    problem: "not a 32-byte hex hash",
                })?,
            hashes: hash_list(&v, "hashes", "proof hashes")?,
        })
    }
}

/// A client of one log.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
}

impl Client {
    /// A client of the log at `url` (its root: `https://rekor.sigstore.dev`).
    pub fn new(url: &str) -> Result<Self, RekorError> {
        let http = crate::http::client_for(url).map_err(RekorError::Setup)?;
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The log's root URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn send(
        &self,
        req: reqwest::blocking::RequestBuilder,
        url: &str,
        limit: u64,
    ) -> Result<(u16, Option<String>, Vec<u8>), RekorError> {
        let resp = req.send().map_err(|e| RekorError::Unreachable {
            url: url.to_owned(),
            reason: error_chain(&e),
        })?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(resp, limit + 1), &mut body).map_err(
            |e| RekorError::Unreachable {
                url: url.to_owned(),
                reason: e.to_string(),
            },
        )?;
        if body.len() as u64 > limit {
            return Err(RekorError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        Ok((status, location, body))
    }

    /// A successful answer's bytes; any other status is [`RekorError::Status`].
    fn ok(&self, req: reqwest::blocking::RequestBuilder, url: &str) -> Result<Vec<u8>, RekorError> {
        let (status, _, body) = self.send(req, url, MAX_RESPONSE)?;
        if !(200..300).contains(&status) {
            return Err(status_error(url, status, &body));
        }
        Ok(body)
    }

    fn get(&self, path: &str) -> Result<Vec<u8>, RekorError> {
        let url = format!("{}{path}", self.base);
        self.ok(self.http.get(&url), &url)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Vec<u8>, RekorError> {
        let url = format!("{}{path}", self.base);
        self.ok(self.http.post(&url).json(body), &url)
    }

    fn entries(&self, path: &str, bytes: &[u8]) -> Result<Vec<LogEntry>, RekorError> {
        LogEntry::parse_answer(bytes).map_err(|source| RekorError::Answer {
            url: format!("{}{path}", self.base),
            source,
        })
    }

    fn one_entry(&self, path: &str, bytes: &[u8]) -> Result<LogEntry, RekorError> {
        self.entries(path, bytes)?
            .into_iter()
            .next()
            .ok_or_else(|| RekorError::Answer {
                url: format!("{}{path}", self.base),
                source: ParseError::Shape("an answer with an entry"),
            })
    }

    /// The log's public key (`GET /api/v1/log/publicKey`). Trusting it is trust on first use:
    /// pin the key where the caller can.
    pub fn public_key(&self) -> Result<PublicKey, RekorError> {
        let url = format!("{}/api/v1/log/publicKey", self.base);
        let (status, _, body) = self.send(self.http.get(&url), &url, MAX_KEY)?;
        if !(200..300).contains(&status) {
            return Err(status_error(&url, status, &body));
        }
        PublicKey::from_pem(&body).map_err(|e| RekorError::Key {
            url,
            reason: e.to_string(),
        })
    }

    /// The log's size and signed checkpoint (`GET /api/v1/log`), unverified.
    pub fn info(&self) -> Result<LogInfo, RekorError> {
        let bytes = self.get("/api/v1/log")?;
        LogInfo::parse(&bytes).map_err(|source| RekorError::Answer {
            url: format!("{}/api/v1/log", self.base),
            source,
        })
    }

    /// The log's current checkpoint, verified with `key`.
    pub fn checkpoint(&self, key: &LogKey) -> Result<(Checkpoint, String), RekorError> {
        let info = self.info()?;
        let cp = key.checkpoint(&info.signed_tree_head)?;
        Ok((cp, info.signed_tree_head))
    }

    /// The entry at `index`; refused unless the log answers with that index.
    pub fn entry_by_index(&self, index: u64) -> Result<LogEntry, RekorError> {
        let path = format!("/api/v1/log/entries?logIndex={index}");
        let e = self.one_entry(&path, &self.get(&path)?)?;
        if e.log_index != index {
            return Err(RekorError::WrongEntry {
                url: format!("{}{path}", self.base),
                asked: format!("index {index}"),
                got: format!("index {}", e.log_index),
            });
        }
        Ok(e)
    }

    /// The entry with `uuid` (64 hex digits, or 80 with the tree ID); refused unless the log
    /// answers with that UUID.
    pub fn entry_by_uuid(&self, uuid: &str) -> Result<LogEntry, RekorError> {
        let path = format!("/api/v1/log/entries/{uuid}");
        let url = format!("{}{path}", self.base);
        let wanted = uuid_leaf(uuid).ok_or_else(|| RekorError::WrongEntry {
            url: url.clone(),
            asked: format!("UUID {uuid}"),
            got: "nothing: a UUID is 64 or 80 hex digits".into(),
        })?;
        let e = self.one_entry(&path, &self.get(&path)?)?;
        if uuid_leaf(&e.uuid).as_deref() != Some(wanted.as_str()) {
            return Err(RekorError::WrongEntry {
                url,
                asked: format!("UUID {uuid}"),
                got: format!("UUID {}", e.uuid),
            });
        }
        Ok(e)
    }

    /// Proposes an entry (`POST /api/v1/log/entries`); an entry already logged (409) is
    /// fetched from the Location the log names. The answer is parsed, not verified: see
    /// [`Client::upload_verified`].
    pub fn upload(&self, proposed: &Value) -> Result<LogEntry, RekorError> {
        let path = "/api/v1/log/entries";
        let url = format!("{}{path}", self.base);
        let (status, location, body) =
            self.send(self.http.post(&url).json(proposed), &url, MAX_RESPONSE)?;
        match status {
            201 => self.one_entry(path, &body),
            409 => {
                let loc =
                    location.ok_or(RekorError::ConflictWithoutLocation { url: url.clone() })?;
                let entry_url = if loc.starts_with("http://") || loc.starts_with("https://") {
                    loc
                } else {
                    format!("{}{loc}", self.base)
                };
                let bytes = self.ok(self.http.get(&entry_url), &entry_url)?;
                LogEntry::parse_answer(&bytes)
                    .map_err(|source| RekorError::Answer {
                        url: entry_url.clone(),
                        source,
                    })?
                    .into_iter()
                    .next()
                    .ok_or(RekorError::Answer {
                        url: entry_url,
                        source: ParseError::Shape("an answer with an entry"),
                    })
            }
            _ => Err(RekorError::Refused {
                status,
                message: message_of(&body),
            }),
        }
    }

    /// [`Client::upload`], then the answer verified with `key` ([`verify::verify_entry`]:
    /// UUID, log ID, SET, inclusion proof and checkpoint), before anyone puts it in a bundle.
    pub fn upload_verified(
        &self,
        proposed: &Value,
        key: &LogKey,
    ) -> Result<(LogEntry, VerifiedEntry), RekorError> {
        let e = self.upload(proposed)?;
        let v = verify::verify_entry(&e, key)?;
        Ok((e, v))
    }

    /// The UUIDs of the entries matching a search (`POST /api/v1/index/retrieve`: `hash`,
    /// `publicKey`, `email`, `subject`, `operator`).
    pub fn search(&self, query: &Value) -> Result<Vec<String>, RekorError> {
        let path = "/api/v1/index/retrieve";
        let bytes = self.post(path, query)?;
        let url = format!("{}{path}", self.base);
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| RekorError::Answer {
            url: url.clone(),
            source: ParseError::NotJson,
        })?;
        let list = v.as_array().ok_or(RekorError::Answer {
            url: url.clone(),
            source: ParseError::Shape("a list of entry UUIDs"),
        })?;
        list.iter()
            .map(|u| {
                u.as_str().map(str::to_owned).ok_or(RekorError::Answer {
                    url: url.clone(),
                    source: ParseError::Shape("a list of entry UUIDs"),
                })
            })
            .collect()
    }

    /// The entries with these UUIDs (`POST /api/v1/log/entries/retrieve`).
    pub fn retrieve(&self, uuids: &[String]) -> Result<Vec<LogEntry>, RekorError> {
        let path = "/api/v1/log/entries/retrieve";
        let bytes = self.post(path, &json!({ "entryUUIDs": uuids }))?;
        self.entries(path, &bytes)
    }

    /// The entries that may record a signature by `key` over an artefact with `digest`: the
    /// index is searched for both (`operator: and`) and at most [`MAX_CANDIDATES`] are
    /// fetched. Which one, if any, records this signature is for the verifier to decide.
    pub fn find_entries(
        &self,
        digest: &Digest,
        key: &PublicKey,
    ) -> Result<Vec<LogEntry>, RekorError> {
        let mut uuids = self.search(&json!({
            "hash": format!("{}:{}", digest.algorithm().name(), digest.to_hex()),
            "publicKey": {"format": "x509", "content": STANDARD.encode(key.to_pem())},
            "operator": "and",
        }))?;
        uuids.truncate(MAX_CANDIDATES);
        if uuids.is_empty() {
            return Ok(Vec::new());
        }
        self.retrieve(&uuids)
    }

    /// The consistency proof between two sizes (`GET /api/v1/log/proof`).
    pub fn consistency_proof(&self, first: u64, last: u64) -> Result<ConsistencyProof, RekorError> {
        let path = format!("/api/v1/log/proof?firstSize={first}&lastSize={last}");
        let bytes = self.get(&path)?;
        ConsistencyProof::parse(&bytes).map_err(|source| RekorError::Answer {
            url: format!("{}{path}", self.base),
            source,
        })
    }

    /// Checks that `old` (a checkpoint seen before) is a prefix of `new`, fetching the proof
    /// when one is needed.
    pub fn prove_consistency(&self, old: &Checkpoint, new: &Checkpoint) -> Result<(), RekorError> {
        let proof = if verify::needs_proof(old, new) {
            self.consistency_proof(old.size, new.size)?.hashes
        } else {
            Vec::new()
        };
        Ok(verify::check_consistency(old, new, &proof)?)
    }

    /// Proves that the log's tree of `first` entries is a prefix of its tree of `last`
    /// (default: the current, signed one), and returns both roots. The last root is the
    /// signed checkpoint's when `last` is the current size; roots of older trees come from
    /// the log, and the proof shows they are prefixes of one another.
    pub fn prove_sizes(
        &self,
        key: &LogKey,
        first: u64,
        last: Option<u64>,
    ) -> Result<(u64, Hash, Hash), RekorError> {
        let (head, _) = self.checkpoint(key)?;
        let last = last.unwrap_or(head.size);
        if last > head.size || first > last {
            return Err(RekorError::Sizes {
                first,
                last,
                tree_size: head.size,
            });
        }
        let proof = self.consistency_proof(first, last)?;
        let last_root = if last == head.size {
            if proof.root_hash != head.root_hash {
                return Err(ConsistencyError::SplitView { size: last }.into());
            }
            head.root_hash
        } else {
            proof.root_hash
        };
        let first_root = if first == last {
            last_root
        } else {
            self.consistency_proof(first, first)?.root_hash
        };
        sigil_tlog::merkle::verify_consistency(first, last, &first_root, &last_root, &proof.hashes)
            .map_err(|source| ConsistencyError::NotPrefix {
                first,
                second: last,
                source,
            })?;
        Ok((last, first_root, last_root))
    }
}

fn message_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(300)])
                .trim()
                .to_owned()
        })
}

fn status_error(url: &str, status: u16, body: &[u8]) -> RekorError {
    let mut message = message_of(body);
    if message.is_empty() {
        message = "no message".into();
    }
    RekorError::Status {
        url: url.to_owned(),
        status,
        message,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

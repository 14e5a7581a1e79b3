//! The log as an RFC 6962 certificate transparency log (`sigil log serve --ct`), for the
//! keyless CA's embedded SCTs: `POST /ct/v1/add-pre-chain` and `/ct/v1/add-chain` (a chain
//! whose certificates each sign the one before and whose last is signed by, or is, an accepted
//! root), `GET /ct/v1/get-sth`, `GET /ct/v1/get-roots`, and the log's key at
//! `GET /api/v1/log/publicKey` (what `trusted-root create --ctfe-key` takes). Each entry is the RFC 6962
//! `MerkleTreeLeaf` (a timestamped precert or X.509 entry), appended to the log's Merkle tree,
//! and the SCT is the log key's signature over it (`sigil_pki::sct`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::{Digest, HashAlgorithm};
use sigil_pki::cert::Certificate;

use super::entries::Admitted;
use super::{AppendError, Appended, Log};

/// The precertificate poison's OID.
const OID_POISON: &str = "1.3.6.1.4.1.11129.2.4.3";
/// Most certificates in a submitted chain.
pub const MAX_CHAIN: usize = 8;

/// Why a CT log refused a submission: the HTTP status it answers and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtRefusal {
    /// 400 for a chain it does not accept, 503 when the entry could not be made durable.
    pub status: StatusCode,
    /// The reason.
    pub message: String,
}

/// What a CT log accepts.
pub struct CtLog {
    log: Arc<Log>,
    roots: Vec<Certificate>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn refuse(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(json!({"error_message": message, "success": false})),
    )
        .into_response()
}

/// TLS `DigitallySigned` for the log's key: hash and signature algorithms, the signature.
fn digitally_signed(log: &Log, signature: &[u8]) -> Vec<u8> {
    let (h, s) = sigil_pki::sct::tls_algorithms(log.key_algorithm());
    let mut out = vec![h, s];
    out.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    out.extend_from_slice(signature);
    out
}

impl CtLog {
    /// A CT log over `log` accepting chains to `roots`.
    pub fn new(log: Arc<Log>, roots: Vec<Certificate>) -> Self {
        Self { log, roots }
    }

    async fn add(&self, body: &[u8], precert: bool) -> Response {
        let chain = match submitted_chain(body) {
            Ok(c) => c,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
        };
        match self.submit(&chain, precert).await {
            Ok(v) => axum::Json(v).into_response(),
            Err(r) => refuse(r.status, r.message),
        }
    }

    /// Logs a chain (base64 DER, the leaf first) as `add-pre-chain` (`precert`) or `add-chain`
    /// would, for callers in the same process (the CA of `sigil serve`): the RFC 6962
    /// `AddChainResponse` JSON, once the entry is durable.
    pub async fn submit(&self, chain: &[String], precert: bool) -> Result<Value, CtRefusal> {
        match decode_chain(chain) {
            Ok(certs) => self.submit_certificates(certs, precert).await,
            Err(message) => Err(CtRefusal {
                status: StatusCode::BAD_REQUEST,
                message,
            }),
        }
    }

    /// [`CtLog::submit`] for a chain already parsed (the CA in the same process: no base64
    /// round trip).
    pub async fn submit_certificates(
        &self,
        chain: Vec<Certificate>,
        precert: bool,
    ) -> Result<Value, CtRefusal> {
        let refuse = |status: StatusCode, message: String| CtRefusal { status, message };
        let now = sigil_formats::time::Timestamp::from_unix((now_ms() / 1000) as i64);
        let certs = match check_parsed_chain(chain, &self.roots, now) {
            Ok(c) => c,
            Err(e) => return Err(refuse(StatusCode::BAD_REQUEST, e)),
        };
        let leaf = &certs[0];
        let poisoned = leaf.extension_value(OID_POISON).is_some();
        if poisoned != precert {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                if precert {
                    "add-pre-chain takes a precertificate (with the poison extension)".into()
                } else {
                    "add-chain takes a final certificate (no poison extension)".into()
                },
            ));
        }
        let timestamp = now_ms();
        // RFC 6962 §3.4: MerkleTreeLeaf { v1, timestamped_entry { timestamp, entry, extensions } }.
        let mut entry = vec![0u8, 0u8];
        entry.extend_from_slice(&timestamp.to_be_bytes());
        let signed = if precert {
            let Some(issuer) = certs.get(1) else {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "a precertificate needs its issuer".into(),
                ));
            };
            let (Ok(spki), Ok(tbs)) = (issuer.spki_der(), leaf.tbs_without_extension(OID_POISON))
            else {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "the precertificate cannot be re-encoded".into(),
                ));
            };
            let key_hash = Digest::of(HashAlgorithm::Sha256, &spki);
            entry.extend_from_slice(&[0, 1]);
            entry.extend_from_slice(key_hash.as_bytes());
            let n = tbs.len();
            entry.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            entry.extend_from_slice(&tbs);
            sigil_pki::sct::precert_signed_data(timestamp, key_hash.as_bytes(), &tbs, &[])
        } else {
            let der = leaf.der();
            entry.extend_from_slice(&[0, 0]);
            let n = der.len();
            entry.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            entry.extend_from_slice(der);
            let mut m = vec![0u8, 0u8];
            m.extend_from_slice(&timestamp.to_be_bytes());
            m.extend_from_slice(&[0, 0]);
            m.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            m.extend_from_slice(der);
            m.extend_from_slice(&[0, 0]);
            m
        };
        entry.extend_from_slice(&[0, 0]); // no extensions
        let signature = match self.log.sign(&signed) {
            Ok(s) => s,
            Err(e) => return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        };
        match self
            .log
            .append(Admitted {
                body: entry,
                keys: Vec::new(),
            })
            .await
        {
            Ok(Appended::New(_) | Appended::Duplicate(_)) => {}
            Err(AppendError::Unavailable(e)) => {
                return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, e));
            }
            Err(e) => return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
        }
        Ok(json!({
            "sct_version": 0,
            "id": STANDARD.encode(self.log.id()),
            "timestamp": timestamp,
            "extensions": "",
            "signature": STANDARD.encode(digitally_signed(&self.log, &signature)),
        }))
    }

    fn sth(&self) -> Response {
        let head = self.log.head();
        let timestamp = now_ms();
        // RFC 6962 §3.5 TreeHeadSignature: v1, tree_hash, timestamp, tree_size, root.
        let mut m = vec![0u8, 1u8];
        m.extend_from_slice(&timestamp.to_be_bytes());
        m.extend_from_slice(&head.size.to_be_bytes());
        m.extend_from_slice(&head.root);
        match self.log.sign(&m) {
            Ok(sig) => axum::Json(json!({
                "tree_size": head.size,
                "timestamp": timestamp,
                "sha256_root_hash": STANDARD.encode(head.root),
                "tree_head_signature": STANDARD.encode(digitally_signed(&self.log, &sig)),
            }))
            .into_response(),
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

/// The `chain` of an `add-chain`/`add-pre-chain` body (base64 DER strings, 1 to
/// [`MAX_CHAIN`]), read strictly.
pub fn submitted_chain(body: &[u8]) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let a = v["chain"].as_array().ok_or("no chain")?;
    if a.is_empty() || a.len() > MAX_CHAIN {
        return Err(format!("a chain has 1 to {MAX_CHAIN} certificates"));
    }
    a.iter()
        .map(|c| {
            c.as_str()
                .map(str::to_owned)
                .ok_or_else(|| "a chain entry is not a string".to_owned())
        })
        .collect()
}

/// Checks a submitted chain at `now`: each certificate is signed by the next, each issuer a
/// CA valid now, and the last signed by (or equal to) one of `roots`. The parsed chain.
pub fn check_chain(
    chain: &[String],
    roots: &[Certificate],
    now: sigil_formats::time::Timestamp,
) -> Result<Vec<Certificate>, String> {
    check_parsed_chain(decode_chain(chain)?, roots, now)
}

/// The certificates of a submitted chain (base64 DER, 1 to [`MAX_CHAIN`]).
fn decode_chain(chain: &[String]) -> Result<Vec<Certificate>, String> {
    if chain.is_empty() || chain.len() > MAX_CHAIN {
        return Err(format!("a chain has 1 to {MAX_CHAIN} certificates"));
    }
    chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let der = STANDARD
                .decode(c.trim())
                .map_err(|e| format!("certificate {i} is not base64: {e}"))?;
            Certificate::from_der(&der).map_err(|e| format!("certificate {i}: {e}"))
        })
        .collect()
}

/// [`check_chain`] over parsed certificates.
fn check_parsed_chain(
    certs: Vec<Certificate>,
    roots: &[Certificate],
    now: sigil_formats::time::Timestamp,
) -> Result<Vec<Certificate>, String> {
    if certs.is_empty() || certs.len() > MAX_CHAIN {
        return Err(format!("a chain has 1 to {MAX_CHAIN} certificates"));
    }
    for (i, pair) in certs.windows(2).enumerate() {
        let key = pair[1]
            .public_key()
            .map_err(|e| format!("certificate {}: {e}", i + 1))?;
        if !pair[0].signed_by(&key) {
            return Err(format!(
                "certificate {i} is not signed by certificate {}",
                i + 1
            ));
        }
        if !pair[1].valid_at(now) || !pair[1].is_ca().unwrap_or(false) {
            return Err(format!("certificate {} is not a CA valid now", i + 1));
        }
    }
    let last = certs.last().ok_or("empty chain")?;
    let anchored = roots
        .iter()
        .any(|r| r.der() == last.der() || r.public_key().is_ok_and(|k| last.signed_by(&k)));
    if !anchored {
        return Err("the chain does not end at an accepted root (see get-roots)".into());
    }
    Ok(certs)
}

/// The CT routes over `ct`, with the log's key at `/api/v1/log/publicKey` and `/healthz`.
pub fn router(ct: Arc<CtLog>) -> Router {
    routes(ct.clone()).merge(
        Router::new()
            .route(
                "/api/v1/log/publicKey",
                get(|State(c): State<Arc<CtLog>>| async move { c.log.public_key().to_pem() }),
            )
            .route("/healthz", get(|| async { "ok\n" }))
            .with_state(ct),
    )
}

/// The `/ct/v1/…` routes alone, to mount beside the Rekor API (`sigil serve`), with the CT
/// log's key also at `/ct/v1/publicKey` (PEM).
pub fn routes(ct: Arc<CtLog>) -> Router {
    Router::new()
        .route(
            "/ct/v1/add-pre-chain",
            post(|State(c): State<Arc<CtLog>>, b: Bytes| async move { c.add(&b, true).await }),
        )
        .route(
            "/ct/v1/add-chain",
            post(|State(c): State<Arc<CtLog>>, b: Bytes| async move { c.add(&b, false).await }),
        )
        .route("/ct/v1/get-sth", get(|State(c): State<Arc<CtLog>>| async move { c.sth() }))
        .route(
            "/ct/v1/get-roots",
            get(|State(c): State<Arc<CtLog>>| async move {
                axum::Json(json!({"certificates": c.roots.iter().map(|r| STANDARD.encode(r.der())).collect::<Vec<_>>()}))
            }),
        )
        .route(
            "/ct/v1/get-sth-consistency",
            get(|State(c): State<Arc<CtLog>>, Query(q): Query<ReadQuery>| async move { c.consistency(q).await }),
        )
        .route(
            "/ct/v1/get-proof-by-hash",
            get(|State(c): State<Arc<CtLog>>, Query(q): Query<ReadQuery>| async move { c.proof_by_hash(q).await }),
        )
        .route(
            "/ct/v1/get-entries",
            get(|State(c): State<Arc<CtLog>>, Query(q): Query<ReadQuery>| async move { c.entries(q).await }),
        )
        .route(
            "/ct/v1/publicKey",
            get(|State(c): State<Arc<CtLog>>| async move { c.log.public_key().to_pem() }),
        )
        .with_state(ct)
}

/// The most entries one `get-entries` answers (clients page on).
pub const MAX_GET_ENTRIES: u64 = 256;

/// The query parameters of the RFC 6962 read routes.
#[derive(serde::Deserialize)]
pub struct ReadQuery {
    first: Option<u64>,
    second: Option<u64>,
    hash: Option<String>,
    tree_size: Option<u64>,
    start: Option<u64>,
    end: Option<u64>,
}

impl CtLog {
    /// `get-sth-consistency?first=&second=` (RFC 6962 §4.4).
    async fn consistency(&self, q: ReadQuery) -> Response {
        let size = self.log.head().size;
        let (Some(first), Some(second)) = (q.first, q.second) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "first and second are required".into(),
            );
        };
        if first > second || second > size {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("need first <= second <= {size} (the tree size)"),
            );
        }
        let log = self.log.clone();
        match tokio::task::spawn_blocking(move || log.consistency(first, second)).await {
            Ok(Ok((_, proof))) => axum::Json(json!({
                "consistency": proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>()
            }))
            .into_response(),
            Ok(Err(e)) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }

    /// `get-proof-by-hash?hash=&tree_size=` (§4.5): the leaf's index and audit path.
    async fn proof_by_hash(&self, q: ReadQuery) -> Response {
        let size = self.log.head().size;
        let (Some(hash), Some(tree_size)) = (q.hash, q.tree_size) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "hash and tree_size are required".into(),
            );
        };
        if tree_size == 0 || tree_size > size {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("tree_size must be 1 to {size} (the tree size)"),
            );
        }
        let Some(leaf) = STANDARD.decode(hash.trim()).ok().filter(|h| h.len() == 32) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "hash is not a base64 SHA-256 leaf hash".into(),
            );
        };
        let log = self.log.clone();
        let found = tokio::task::spawn_blocking(move || {
            let Some(e) = log.entry_by_uuid(&sigil_crypto::hash::hex_lower(&leaf))? else {
                return Ok(None);
            };
            if e.index >= tree_size {
                return Ok(None);
            }
            let proof = log
                .inclusion(e.index, tree_size)
                .map_err(|t| sigil_store::log::StoreError::Unavailable(t.to_string()))?;
            Ok::<_, sigil_store::log::StoreError>(Some((e.index, proof)))
        })
        .await;
        match found {
            Ok(Ok(Some((index, proof)))) => axum::Json(json!({
                "leaf_index": index,
                "audit_path": proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
            }))
            .into_response(),
            Ok(Ok(None)) => refuse(
                StatusCode::NOT_FOUND,
                "no entry with that leaf hash in a tree of that size".into(),
            ),
            Ok(Err(e)) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }

    /// `get-entries?start=&end=` (§4.6), at most [`MAX_GET_ENTRIES`]: each entry's
    /// `leaf_input` (the MerkleTreeLeaf). `extra_data` is empty: the submitted chains are not
    /// kept (the leaf holds the certificate, or the precertificate's TBS and issuer key hash).
    async fn entries(&self, q: ReadQuery) -> Response {
        let size = self.log.head().size;
        let (Some(start), Some(end)) = (q.start, q.end) else {
            return refuse(StatusCode::BAD_REQUEST, "start and end are required".into());
        };
        if start > end || end >= size {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("need start <= end < {size} (the tree size)"),
            );
        }
        let count = (end - start + 1).min(MAX_GET_ENTRIES);
        let log = self.log.clone();
        match tokio::task::spawn_blocking(move || log.bodies(start, count)).await {
            Ok(Ok(bodies)) => axum::Json(json!({
                "entries": bodies.iter().map(|b| json!({"leaf_input": STANDARD.encode(b), "extra_data": ""})).collect::<Vec<_>>()
            }))
            .into_response(),
            Ok(Err(e)) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

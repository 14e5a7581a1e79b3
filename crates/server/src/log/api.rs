//! The HTTP API: Rekor v1 (`/api/v1/...`), C2SP tlog-tiles (`/checkpoint`, `/tile/...`),
//! `/healthz` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use sigil_crypto::hash::hex_lower;
use sigil_store::log::StoreError;
use sigil_tlog::tiles;

use super::entries::{self, key_search_key};
use super::{AppendError, Appended, Log};

/// Largest request body (Rekor v2's default); larger ones get 413.
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;
/// Most items per `retrieve` query list, as Rekor.
const MAX_QUERY_ITEMS: usize = 10;
/// Most results of an index search.
const MAX_SEARCH_RESULTS: usize = 10_000;

/// The router for a log.
pub fn router(log: Arc<Log>, max_body: usize) -> Router {
    Router::new()
        .route("/api/v1/log/entries", post(create).get(by_index))
        .route("/api/v1/log/entries/retrieve", post(retrieve))
        .route("/api/v1/log/entries/{uuid}", get(by_uuid))
        .route("/api/v1/log", get(info))
        .route("/api/v1/log/publicKey", get(public_key))
        .route("/api/v1/log/proof", get(proof))
        .route("/api/v1/index/retrieve", post(search))
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(log)
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        axum::Json(json!({"code": status.as_u16(), "message": message.to_string()})),
    )
        .into_response()
}

fn storage(e: StoreError) -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, e)
}

/// Runs a store call: inline on the async worker for the embedded store (local reads, mostly
/// from the tile cache, cost less than a hand-off to another thread), on the blocking pool for
/// a store across the network.
async fn on_store<T: Send + 'static>(
    log: &Log,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if log.store_is_local() {
        Ok(f())
    } else {
        tokio::task::spawn_blocking(f).await
    }
}

fn entry_location(uuid: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("/api/v1/log/entries/{uuid}")).expect("hex is a header value")
}

/// Proposals larger than this are admitted on the blocking pool: parsing and verifying them is
/// CPU work that must not stall the I/O threads (a hashedrekord proposal is ~1-2 KiB).
const INLINE_ADMISSION: usize = 8 * 1024;

async fn create(State(log): State<Arc<Log>>, body: Bytes) -> Response {
    let admitted = if body.len() <= INLINE_ADMISSION {
        entries::admit(&body)
    } else {
        match tokio::task::spawn_blocking(move || entries::admit(&body)).await {
            Ok(r) => r,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    };
    let admitted = match admitted {
        Ok(a) => a,
        Err(e) => {
            log.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, e);
        }
    };
    let body = admitted.body.clone();
    let (appended, time) = match log.append_timed(admitted).await {
        Ok(a) => a,
        Err(AppendError::Unavailable(e)) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(AppendError::Closed) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "the log is shutting down");
        }
    };
    let index = match appended {
        Appended::New(i) | Appended::Duplicate(i) => i,
    };
    let log2 = log.clone();
    let known = time.map(|integrated_time| sigil_store::log::StoredEntry {
        index,
        body,
        integrated_time,
    });
    let entry = match on_store(&log, move || log2.entry_view(index, known)).await {
        Ok(Ok(Some(e))) => e,
        Ok(Ok(None)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the entry is not published",
            );
        }
        Ok(Err(e)) => return storage(e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let uuid = entry.uuid.clone();
    let mut headers = HeaderMap::new();
    headers.insert(header::LOCATION, entry_location(&uuid));
    match appended {
        Appended::New(_) => {
            headers.insert(header::ETAG, HeaderValue::from_str(&uuid).expect("hex"));
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (StatusCode::CREATED, headers, entry.to_json_bytes()).into_response()
        }
        Appended::Duplicate(_) => {
            let mut r = error(
                StatusCode::CONFLICT,
                format!(
                    "an equivalent entry already exists in the transparency log with UUID {uuid}"
                ),
            );
            r.headers_mut().extend(headers);
            r
        }
    }
}

#[derive(Deserialize)]
struct IndexQuery {
    #[serde(rename = "logIndex")]
    log_index: Option<String>,
}

async fn entry_response(log: Arc<Log>, index: u64) -> Response {
    let l = log.clone();
    match on_store(&log, move || l.entry_json(index)).await {
        Ok(Ok(Some((uuid, v)))) => axum::Json(json!({ uuid: v })).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no entry at index {index}")),
        Ok(Err(e)) => storage(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn by_index(State(log): State<Arc<Log>>, Query(q): Query<IndexQuery>) -> Response {
    let Some(index) = q.log_index.as_deref().and_then(|s| s.parse::<u64>().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "logIndex must be a non-negative integer",
        );
    };
    entry_response(log, index).await
}

fn valid_uuid(u: &str) -> bool {
    (u.len() == 64 || u.len() == 80) && u.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn by_uuid(State(log): State<Arc<Log>>, Path(uuid): Path<String>) -> Response {
    if !valid_uuid(&uuid) {
        return error(
            StatusCode::BAD_REQUEST,
            "an entry UUID is 64 or 80 hex digits",
        );
    }
    let uuid = uuid.to_ascii_lowercase();
    let u = uuid.clone();
    let found = tokio::task::spawn_blocking(move || match log.entry_by_uuid(&u)? {
        Some(e) => log.entry_json_with(e.index, Some(e)),
        None => Ok(None),
    })
    .await;
    match found {
        Ok(Ok(Some((uuid, v)))) => axum::Json(json!({ uuid: v })).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no entry with UUID {uuid}")),
        Ok(Err(e)) => storage(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrieveQuery {
    #[serde(default, rename = "entryUUIDs")]
    uuids: Vec<String>,
    #[serde(default, rename = "logIndexes")]
    indexes: Vec<i64>,
    #[serde(default)]
    entries: Vec<Value>,
}

async fn retrieve(State(log): State<Arc<Log>>, body: Bytes) -> Response {
    let q: RetrieveQuery = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, format!("bad query: {e}")),
    };
    if q.uuids.len() > MAX_QUERY_ITEMS
        || q.indexes.len() > MAX_QUERY_ITEMS
        || q.entries.len() > MAX_QUERY_ITEMS
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("at most {MAX_QUERY_ITEMS} items of each kind"),
        );
    }
    for u in &q.uuids {
        if !valid_uuid(u) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{u:?} is not an entry UUID"),
            );
        }
    }
    if q.indexes.iter().any(|i| *i < 0) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "log indexes are non-negative",
        );
    }
    let mut leaves = Vec::new();
    for e in &q.entries {
        // A proposed entry: found by the leaf hash of its canonical body.
        let Ok(a) = entries::admit(e.to_string().as_bytes()) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "an entry in the query is not a valid proposed entry",
            );
        };
        leaves.push(hex_lower(&sigil_tlog::merkle::leaf_hash(&a.body)));
    }
    let out = tokio::task::spawn_blocking(move || {
        let mut found: Vec<(u64, Option<sigil_store::log::StoredEntry>)> =
            q.indexes.iter().map(|i| (*i as u64, None)).collect();
        for u in q.uuids.iter().map(|u| u.to_ascii_lowercase()).chain(leaves) {
            if let Some(e) = log.entry_by_uuid(&u)? {
                found.push((e.index, Some(e)));
            }
        }
        let mut out = Vec::new();
        for (i, known) in found {
            if let Some((uuid, v)) = log.entry_json_with(i, known)? {
                out.push(json!({ uuid: v }));
            }
        }
        Ok::<_, StoreError>(out)
    })
    .await;
    match out {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => storage(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn info(State(log): State<Arc<Log>>) -> Response {
    let h = log.head();
    axum::Json(json!({
        "rootHash": hex_lower(&h.root),
        "treeSize": h.size,
        "signedTreeHead": h.checkpoint,
        "treeID": tree_id(&log),
        "inactiveShards": [],
    }))
    .into_response()
}

/// A stable decimal tree ID derived from the log ID (Rekor v1 clients expect one).
fn tree_id(log: &Log) -> String {
    let id = log.id();
    (u64::from_be_bytes(id[..8].try_into().expect("8 bytes")) >> 1).to_string()
}

async fn public_key(State(log): State<Arc<Log>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        log.public_key().to_pem(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct ProofQuery {
    #[serde(rename = "firstSize")]
    first: Option<String>,
    #[serde(rename = "lastSize")]
    last: Option<String>,
}

async fn proof(State(log): State<Arc<Log>>, Query(q): Query<ProofQuery>) -> Response {
    let size = log.head().size;
    let first = q
        .first
        .as_deref()
        .map_or(Some(1), |s| s.parse::<u64>().ok());
    let last = q.last.as_deref().map(|s| s.parse::<u64>().ok());
    let (Some(first), Some(Some(last))) = (first, last) else {
        return error(
            StatusCode::BAD_REQUEST,
            "firstSize and lastSize must be integers; lastSize is required",
        );
    };
    if first > last || last > size || last == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            format!("need 0 <= firstSize <= lastSize <= {size} (the tree size), lastSize > 0"),
        );
    }
    match tokio::task::spawn_blocking(move || log.consistency(first, last)).await {
        Ok(Ok((root, hashes))) => axum::Json(json!({
            "rootHash": hex_lower(&root),
            "hashes": hashes.iter().map(|h| hex_lower(h)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    #[serde(default)]
    hash: Option<String>,
    #[serde(default, rename = "publicKey")]
    public_key: Option<SearchKey>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    operator: Option<String>,
}

#[derive(Deserialize)]
struct SearchKey {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

async fn search(State(log): State<Arc<Log>>, body: Bytes) -> Response {
    let q: SearchQuery = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, format!("bad query: {e}")),
    };
    let mut keys = Vec::new();
    if let Some(h) = &q.hash {
        let h = h.to_ascii_lowercase();
        let (alg, hex) = h.split_once(':').unwrap_or(("sha256", h.as_str()));
        let ok_len = matches!(
            (alg, hex.len()),
            ("sha256", 64) | ("sha384", 96) | ("sha512", 128)
        );
        if !ok_len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "hash must be [sha256:|sha384:|sha512:]<hex>",
            );
        }
        keys.push(format!("hash:{alg}:{hex}"));
    }
    if let Some(pk) = &q.public_key {
        if pk.format.as_deref().is_some_and(|f| f != "x509") {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "only x509 public keys (PEM keys or certificates) are indexed",
            );
        }
        let Some(pem) = pk.content.as_deref().and_then(|c| STANDARD.decode(c).ok()) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "publicKey.content must be base64 PEM",
            );
        };
        let key = if sigil_crypto::pem::peek_label(&pem).as_deref() == Some("CERTIFICATE") {
            sigil_pki::cert::Certificate::from_pem(&pem)
                .ok()
                .and_then(|c| c.public_key().ok())
        } else {
            sigil_crypto::PublicKey::from_pem(&pem).ok()
        };
        let Some(key) = key else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "publicKey.content is neither a public key nor a certificate",
            );
        };
        keys.push(key_search_key(&key));
    }
    if let Some(e) = &q.email {
        keys.push(format!("email:{}", e.to_lowercase()));
    }
    if let Some(s) = &q.subject {
        if s.is_empty() || s.len() > 512 {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "subject must be 1 to 512 characters",
            );
        }
        keys.push(format!("subject:{}", s.to_lowercase()));
    }
    if keys.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "give at least one of hash, publicKey, email, subject",
        );
    }
    let and = match q.operator.as_deref() {
        None | Some("or") => false,
        Some("and") => true,
        Some(o) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("operator {o:?} is not and/or"),
            );
        }
    };
    let result = tokio::task::spawn_blocking(move || {
        let mut sets = Vec::new();
        for k in &keys {
            sets.push(log.search(k, MAX_SEARCH_RESULTS)?);
        }
        let mut indexes: Vec<u64> = if and {
            let mut it = sets.into_iter();
            let mut acc: std::collections::BTreeSet<u64> =
                it.next().unwrap_or_default().into_iter().collect();
            for s in it {
                let s: std::collections::BTreeSet<u64> = s.into_iter().collect();
                acc = acc.intersection(&s).copied().collect();
            }
            acc.into_iter().collect()
        } else {
            let acc: std::collections::BTreeSet<u64> = sets.into_iter().flatten().collect();
            acc.into_iter().collect()
        };
        indexes.truncate(MAX_SEARCH_RESULTS);
        let mut uuids = Vec::new();
        for i in indexes {
            for b in log.bodies(i, 1)? {
                uuids.push(hex_lower(&sigil_tlog::merkle::leaf_hash(&b)));
            }
        }
        Ok::<_, StoreError>(uuids)
    })
    .await;
    match result {
        Ok(Ok(u)) => axum::Json(u).into_response(),
        Ok(Err(e)) => storage(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn checkpoint(State(log): State<Arc<Log>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        log.head().checkpoint,
    )
        .into_response()
}

/// `/tile/<L>/<N>[.p/<W>]` and `/tile/entries/<N>[.p/<W>]`.
async fn tile(State(log): State<Arc<Log>>, Path(path): Path<String>) -> Response {
    let (kind, rest) = match path.split_once('/') {
        Some(x) => x,
        None => return error(StatusCode::NOT_FOUND, "no such tile"),
    };
    let (index_path, width) = match rest.split_once(".p/") {
        Some((p, w)) => match w.parse::<u64>() {
            Ok(n) if (1..tiles::TILE_WIDTH).contains(&n) && n.to_string() == w => (p, Some(n)),
            _ => return error(StatusCode::NOT_FOUND, "a partial width is 1 to 255"),
        },
        None => (rest, None),
    };
    let Some(index) = tiles::parse_index_path(index_path) else {
        return error(StatusCode::NOT_FOUND, "not a tile index path");
    };
    let want = width.unwrap_or(tiles::TILE_WIDTH) as usize;
    let immutable = width.is_none();
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    if kind == "entries" {
        let r = tokio::task::spawn_blocking(move || {
            log.bodies(index.saturating_mul(tiles::TILE_WIDTH), want as u64)
        })
        .await;
        return match r {
            Ok(Ok(bodies)) if bodies.len() == want => {
                let mut out = Vec::new();
                for b in bodies {
                    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
                    out.extend_from_slice(&b);
                }
                (
                    [
                        (header::CONTENT_TYPE, "application/octet-stream"),
                        (header::CACHE_CONTROL, cache),
                    ],
                    out,
                )
                    .into_response()
            }
            Ok(Ok(_)) => error(StatusCode::NOT_FOUND, "no such entry bundle"),
            Ok(Err(e)) => storage(e),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        };
    }
    let Ok(level) = kind.parse::<u8>() else {
        return error(StatusCode::NOT_FOUND, "no such tile level");
    };
    if level > 63 || kind != level.to_string() {
        return error(StatusCode::NOT_FOUND, "no such tile level");
    }
    match tokio::task::spawn_blocking(move || log.tile(level, index)).await {
        Ok(Ok(hashes)) if hashes.len() == want => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, cache),
            ],
            sigil_store::log::tile_bytes(&hashes),
        )
            .into_response(),
        Ok(Ok(_)) => error(StatusCode::NOT_FOUND, "no such tile"),
        Ok(Err(e)) => storage(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn healthz(State(log): State<Arc<Log>>) -> Response {
    let h = log.head();
    axum::Json(json!({"status": "ok", "treeSize": h.size, "backend": log.backend(), "readOnly": log.read_only()}))
        .into_response()
}

async fn metrics(State(log): State<Arc<Log>>) -> Response {
    let m = &log.metrics;
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let text = format!(
        "# HELP sigil_log_tree_size Entries in the published tree.\n# TYPE sigil_log_tree_size gauge\nsigil_log_tree_size {}\n\
         # HELP sigil_log_appended_total Entries appended.\n# TYPE sigil_log_appended_total counter\nsigil_log_appended_total {}\n\
         # HELP sigil_log_duplicates_total Proposed entries already in the log (409).\n# TYPE sigil_log_duplicates_total counter\nsigil_log_duplicates_total {}\n\
         # HELP sigil_log_rejected_total Proposed entries refused (400).\n# TYPE sigil_log_rejected_total counter\nsigil_log_rejected_total {}\n\
         # HELP sigil_log_batches_total Batches sequenced.\n# TYPE sigil_log_batches_total counter\nsigil_log_batches_total {}\n\
         # HELP sigil_log_storage_errors_total Batches that storage refused (answered 503).\n# TYPE sigil_log_storage_errors_total counter\nsigil_log_storage_errors_total {}\n\
         # HELP sigil_log_integration_ms_sum Milliseconds from request to published checkpoint, summed.\n# TYPE sigil_log_integration_ms_sum counter\nsigil_log_integration_ms_sum {}\n",
        log.head().size,
        g(&m.appended),
        g(&m.duplicates),
        g(&m.rejected),
        g(&m.batches),
        g(&m.storage_errors),
        g(&m.integration_ms_sum),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

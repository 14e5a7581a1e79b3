//! Sigil's RFC 3161 timestamp authority as a service (`sigil tsa serve`), calling `sigil-tsa`
//! for every request: `POST /api/v1/timestamp` with a DER `application/timestamp-query` or
//! Sigstore's JSON form, answering `application/timestamp-reply`; `GET
//! /api/v1/timestamp/certchain` (PEM, the signing certificate first). The signing key and the
//! certificate chain live in a data directory ([`open`]).
//!
//! # Example
//!
//! ```no_run
//! let dir = std::path::Path::new("/var/lib/sigil/tsa");
//! let no_password = || -> Result<zeroize::Zeroizing<String>, String> { Err("none".into()) };
//! let (authority, _notices) =
//!     sigil_tsa_service::open(dir, sigil_crypto::KeyAlgorithm::EcdsaP384, &no_password, None)?;
//! let app = sigil_tsa_service::router(std::sync::Arc::new(authority));
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sigil_crypto::{KeyAlgorithm, SigningKey};
use sigil_pki::issue::{self, Extension, Issuer, Template, attr, key_usage, name};
use sigil_server::log::setup::{KeyNotice, SetupError, key_in, write_atomic};
use sigil_tsa::{Authority, Request};
use zeroize::Zeroizing;

/// The signing key's file in the data directory.
pub const KEY_FILE: &str = "tsa-signing-key.pem";
/// The certificate chain's file (PEM: the signing certificate, then the root).
pub const CHAIN_FILE: &str = "tsa-chain.pem";
/// How long a new signing certificate (and its root) is valid, in days.
pub const VALIDITY_DAYS: i64 = 3650;

/// The authority kept in `dir`: its key (created, encrypted with `new_password` when given,
/// on first start) and its chain (a root and a timestamping certificate, EKU timeStamping
/// critical, created with a new key; the root's own key is used once and dropped, so the chain
/// cannot be extended by anyone who later reads the directory).
pub fn open(
    dir: &Path,
    algorithm: KeyAlgorithm,
    password: &dyn Fn() -> Result<Zeroizing<String>, String>,
    new_password: Option<Zeroizing<String>>,
) -> Result<(Authority, Vec<KeyNotice>), SetupError> {
    let (key, notice) = key_in(dir, KEY_FILE, algorithm, password, new_password)?;
    let chain_path = dir.join(CHAIN_FILE);
    let bad = |reason: String| SetupError::Key {
        path: chain_path.clone(),
        reason,
    };
    let read = |p: &Path| -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut buf = Vec::new();
        std::fs::File::open(p)?
            .take(sigil_crypto::pem::MAX_PEM_LEN as u64)
            .read_to_end(&mut buf)?;
        Ok(buf)
    };
    let chain: Vec<Vec<u8>> = match read(&chain_path) {
        Ok(pem) => sigil_crypto::pem::decode_all(&pem, 8)
            .map_err(|e| bad(e.to_string()))?
            .into_iter()
            .map(|b| b.contents)
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let chain = new_chain(&key).map_err(|e| bad(e.to_string()))?;
            let pem: String = chain
                .iter()
                .map(|c| sigil_crypto::pem::encode("CERTIFICATE", c))
                .collect();
            write_atomic(&chain_path, pem.as_bytes(), 0o644)?;
            chain
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let (leaf, rest) = chain
        .split_first()
        .ok_or_else(|| bad("holds no certificate".into()))?;
    let cert = sigil_pki::cert::Certificate::from_der(leaf).map_err(|e| bad(e.to_string()))?;
    let certified = cert.public_key().map_err(|e| bad(e.to_string()))?;
    if certified.to_pem() != key.public_key().to_pem() {
        return Err(bad(format!(
            "the signing certificate is for another key than {KEY_FILE}"
        )));
    }
    let authority =
        Authority::new(key, leaf.clone(), rest.to_vec()).map_err(|e| bad(e.to_string()))?;
    Ok((authority, notice.into_iter().collect()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A root (its key generated here and dropped) and the timestamping certificate it issues for
/// `key`.
fn new_chain(key: &SigningKey) -> Result<Vec<Vec<u8>>, issue::IssueError> {
    let t = now() - 60;
    let root_key = SigningKey::generate(key.algorithm())?;
    let root_name = name(&[
        (attr::ORGANIZATION, "sigil"),
        (attr::COMMON_NAME, "sigil timestamp authority root"),
    ]);
    let root = issue::self_signed_ca(&root_key, &root_name, t, VALIDITY_DAYS, Some(0))?;
    let leaf = issue::issue(
        &Template {
            serial: issue::random_serial(),
            subject: name(&[
                (attr::ORGANIZATION, "sigil"),
                (attr::COMMON_NAME, "sigil timestamp authority"),
            ]),
            not_before: t,
            not_after: t + VALIDITY_DAYS * 86_400,
            public_key: key.public_key().clone(),
            extensions: vec![
                Extension::key_usage(key_usage::DIGITAL_SIGNATURE),
                Extension::extended_key_usage(&[issue::EKU_TIME_STAMPING], true),
                Extension::subject_key_id(&issue::key_id(key.public_key())),
                Extension::authority_key_id(&issue::key_id(root_key.public_key())),
            ],
        },
        &Issuer {
            name: &root_name,
            key: &root_key,
        },
    )?;
    Ok(vec![leaf, root])
}

/// A 400 with the reason, as JSON (`{"code": 400, "message": …}`), as Sigstore's
/// timestamp-authority answers.
fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        format!(
            "{{\"code\":400,\"message\":{}}}\n",
            serde_json::Value::String(message)
        ),
    )
        .into_response()
}

async fn timestamp(State(a): State<Arc<Authority>>, headers: HeaderMap, body: Bytes) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let req = if json {
        Request::parse_json(&body)
    } else {
        Request::parse_der(&body)
    };
    let req = match req {
        Ok(r) => r,
        Err(e) => return bad_request(e.to_string()),
    };
    match a.reply(&req, now()) {
        Ok(reply) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/timestamp-reply")],
            reply,
        )
            .into_response(),
        Err(sigil_tsa::ReplyError::Request(e)) => bad_request(e.to_string()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn certchain(State(a): State<Arc<Authority>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
        a.chain_pem(),
    )
        .into_response()
}

/// The routes: `POST /api/v1/timestamp`, `GET /api/v1/timestamp/certchain`, `GET /healthz`.
pub fn router(authority: Arc<Authority>) -> Router {
    routes(authority).route("/healthz", axum::routing::get(|| async { "ok\n" }))
}

/// The timestamp routes alone, to mount beside other services (`sigil serve`).
pub fn routes(authority: Arc<Authority>) -> Router {
    Router::new()
        .route("/api/v1/timestamp", post(timestamp))
        .route("/api/v1/timestamp/certchain", get(certchain))
        .with_state(authority)
}

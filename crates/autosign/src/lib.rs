//! Signing on push, for `sigil serve`: the registry's notifications
//! (`POST /api/v1/registry/events`, distribution's envelopes and Harbor's webhook, read by
//! `sigil_formats::registry_events`, authenticated by a bearer token compared in constant
//! time) go to a durable queue (`sigil_store::queue`) before they are acknowledged; a worker
//! signs each pushed manifest or index by digest — recursively for indexes — with its
//! repository's key through `sigil_sign::image`, retrying with a backoff while the registry or
//! the key store fails. Keys are created with a repository's first signed push (or by `sigil
//! keys create`), stored cosign-encrypted, and their public halves served without
//! authentication (never created by a request) at `GET /api/v1/repositories/{repo}/cosign.pub`
//! (and the platform's default key at `GET /api/v1/cosign.pub`); where a push stands (signed,
//! skipped, pending with its last error) at `GET /api/v1/registry/pushes/{repo}@{digest}` (with
//! the events token).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! let dir = std::path::Path::new("/var/lib/sigil/autosign");
//! let registry = sigil_oci::Registry::new(&Default::default())?.writing();
//! let service = Arc::new(sigil_autosign::AutoSign::open(
//!     dir,
//!     "registry.example:5000",
//!     registry,
//!     zeroize::Zeroizing::new("events-token".into()),
//!     zeroize::Zeroizing::new("key password".into()),
//! )?);
//! let _worker = sigil_autosign::spawn_worker(service.clone());
//! let app = sigil_autosign::router(service);
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod rules;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sigil_crypto::keyfile::{EncryptedKeyFile, KeyFileLabel, ScryptParams};
use sigil_crypto::{KeyAlgorithm, SigningKey};
use sigil_oci::{ImageRef, Registry};
use sigil_store::queue::{Enqueued, Queue};
use zeroize::Zeroizing;

/// The queue's file in the data directory.
pub const QUEUE_FILE: &str = "autosign-queue.redb";
/// The keys' directory in the data directory.
pub const KEYS_DIR: &str = "keys";
/// The platform's default key's name (no repository name starts with `_`).
pub const DEFAULT_KEY: &str = "_default";
/// The predicate type of the SBOM attestations (cosign's `--type cyclonedx`).
pub const CYCLONEDX_PREDICATE: &str = "https://cyclonedx.org/bom";
/// Attempts at one push before it is recorded as failed (about half an hour of backoff).
pub const MAX_ATTEMPTS: u32 = 40;
/// The longest wait between two attempts at one push.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why the service could not start or a key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AutoSignError {
    /// The queue or a key file could not be read or written.
    #[error("{0}")]
    Storage(String),
    /// A key could not be made, encrypted or decrypted.
    #[error("key {name}: {detail}")]
    Key {
        /// Its name.
        name: String,
        /// What went wrong.
        detail: String,
    },
}

/// Why a notification was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not a notification, or a push naming no digest or repository (400).
    #[error(transparent)]
    Malformed(#[from] sigil_formats::registry_events::EventsError),
    /// The queue could not record it: the registry must deliver it again (503).
    #[error("the push queue: {0}")]
    Queue(sigil_store::log::StoreError),
}

/// Per-repository keys, created on first use, cosign-encrypted on disk.
pub struct KeyStore {
    dir: PathBuf,
    password: Zeroizing<String>,
    cache: Mutex<HashMap<String, Arc<SigningKey>>>,
}

impl KeyStore {
    /// The keys kept in `dir`, encrypted with `password`.
    pub fn new(dir: &Path, password: Zeroizing<String>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            password,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The keys of the signing-on-push service in the data directory `data` (`sigil serve
    /// --data`).
    pub fn in_data_dir(data: &Path, password: Zeroizing<String>) -> Self {
        Self::new(&data.join("autosign").join(KEYS_DIR), password)
    }

    /// Whether the key `name` exists on disk.
    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// The public half of the key `name`, when it exists: never creates one (the public key
    /// route is unauthenticated, and must not let anyone make keys).
    pub fn existing(&self, name: &str) -> Result<Option<Arc<SigningKey>>, AutoSignError> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        if !self.exists(name) {
            return Ok(None);
        }
        self.key(name).map(Some)
    }

    fn path(&self, name: &str) -> PathBuf {
        // Repository names hold no `+`: a reversible, flat file name.
        self.dir.join(format!("{}.key", name.replace('/', "+")))
    }

    /// The key for `name` (a repository, or [`DEFAULT_KEY`]), created when there is none.
    pub fn key(&self, name: &str) -> Result<Arc<SigningKey>, AutoSignError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = cache.get(name) {
            return Ok(k.clone());
        }
        let fail = |detail: String| AutoSignError::Key {
            name: name.to_owned(),
            detail,
        };
        let path = self.path(name);
        let key = match std::fs::read(&path) {
            Ok(pem) => EncryptedKeyFile::parse(&pem)
                .and_then(|f| f.decrypt(self.password.as_bytes()))
                .map_err(|e| fail(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)
                    .map_err(|e| fail(e.to_string()))?;
                let pem = sigil_crypto::keyfile::encrypt_key(
                    &key,
                    self.password.as_bytes(),
                    KeyFileLabel::Sigstore,
                    ScryptParams::DEFAULT,
                )
                .map_err(|e| fail(e.to_string()))?;
                std::fs::create_dir_all(&self.dir).map_err(|e| fail(e.to_string()))?;
                sigil_server::log::setup::write_atomic(&path, pem.as_bytes(), 0o600)
                    .map_err(|e| fail(e.to_string()))?;
                key
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let key = Arc::new(key);
        cache.insert(name.to_owned(), key.clone());
        Ok(key)
    }
}

/// The signing-on-push service.
pub struct AutoSign {
    queue: Queue,
    keys: KeyStore,
    registry: Registry,
    host: String,
    token: Zeroizing<String>,
    rules: rules::Rules,
    log: std::sync::OnceLock<sigil_sign::Log>,
    wake: (Mutex<bool>, Condvar),
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl AutoSign {
    /// The service over the data directory `dir`, signing in the registry at `host` (only
    /// there: a notification never chooses where signatures are written), accepting
    /// notifications with the bearer `token`, its keys encrypted with `password`.
    pub fn open(
        dir: &Path,
        host: &str,
        registry: Registry,
        token: Zeroizing<String>,
        password: Zeroizing<String>,
    ) -> Result<Self, AutoSignError> {
        if token.is_empty() {
            return Err(AutoSignError::Storage(
                "signing on push needs a notification token (--registry-events-token)".into(),
            ));
        }
        if password.is_empty() {
            return Err(AutoSignError::Storage(
                "repository keys are stored encrypted: a non-empty password is required".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| AutoSignError::Storage(e.to_string()))?;
        let keys = KeyStore::new(&dir.join(KEYS_DIR), password);
        // The platform's default key exists from the start (GET /api/v1/cosign.pub).
        keys.key(DEFAULT_KEY)?;
        let queue = Queue::open(&dir.join(QUEUE_FILE))
            .map_err(|e| AutoSignError::Storage(e.to_string()))?;
        Ok(Self {
            queue,
            keys,
            registry,
            host: host.trim_end_matches('/').to_owned(),
            token,
            rules: rules::Rules::default(),
            log: std::sync::OnceLock::new(),
            wake: (Mutex::new(false), Condvar::new()),
        })
    }

    /// The transparency log that repositories with `tlog: true` upload to (set once; until it
    /// is, their pushes wait and are retried).
    pub fn set_log(&self, log: sigil_sign::Log) {
        let _ = self.log.set(log);
    }

    /// The rules.
    pub fn rules(&self) -> &rules::Rules {
        &self.rules
    }

    /// Signs with `rules` (shared keys, annotations, labels per repository).
    pub fn with_rules(mut self, rules: rules::Rules) -> Self {
        self.rules = rules;
        self
    }

    /// The keys.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Where the push `repository@digest` stands: `{"state":"signed"|"skipped"|"failed", …}`,
    /// `{"state":"pending","attempts","last_error"}`, or `None` when it was never recorded.
    pub fn status(
        &self,
        key: &str,
    ) -> Result<Option<serde_json::Value>, sigil_store::log::StoreError> {
        if let Some(record) = self.queue.done(key)? {
            let mut v: serde_json::Value = serde_json::from_str(&record).unwrap_or_default();
            let state = if v.get("skipped").is_some() {
                "skipped"
            } else {
                "signed"
            };
            v["state"] = json!(state);
            return Ok(Some(v));
        }
        Ok(self.queue.pending_job(key)?.map(
            |j| json!({"state": "pending", "attempts": j.attempts, "last_error": j.last_error}),
        ))
    }

    /// Pushes waiting to be signed.
    pub fn pending(&self) -> u64 {
        self.queue.pending().unwrap_or(0)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .unwrap_or_default();
        sigil_crypto::hash::constant_time_eq(given.as_bytes(), self.token.as_bytes())
    }

    /// Records each push of `body` (durably) and wakes the worker: how many were new.
    pub fn record(&self, body: &[u8]) -> Result<usize, RecordError> {
        let pushes = sigil_formats::registry_events::parse(body)?;
        let mut new = 0;
        for p in &pushes {
            let key = format!("{}@{}", p.repository, p.digest);
            let payload = json!({"repository": p.repository, "digest": p.digest}).to_string();
            match self.queue.enqueue(&key, &payload, now_ms()) {
                Ok(Enqueued::New) => new += 1,
                Ok(_) => {}
                // Not recorded: the registry must deliver it again.
                Err(e) => return Err(RecordError::Queue(e)),
            }
        }
        let (lock, cv) = &self.wake;
        *lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        cv.notify_all();
        Ok(new)
    }

    /// Signs one job: done, or put back with a backoff.
    fn work(&self, job: &sigil_store::queue::Job) -> bool {
        let v: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
        let (Some(repo), Some(digest)) = (v["repository"].as_str(), v["digest"].as_str()) else {
            let _ = self.queue.complete(&job.key, "dropped: an unreadable job");
            return false;
        };
        match self.sign(repo, digest) {
            Ok(record) => self.queue.complete(&job.key, &record).is_ok(),
            Err(e) if job.attempts + 1 >= MAX_ATTEMPTS => {
                // Given up: recorded as failed, with the reason, so it does not retry for ever.
                let record =
                    json!({"failed": e, "attempts": job.attempts + 1, "signed_at_ms": now_ms()});
                let _ = self.queue.complete(&job.key, &record.to_string());
                false
            }
            Err(e) => {
                let backoff = Duration::from_millis(500)
                    .saturating_mul(1u32 << job.attempts.min(8))
                    .min(MAX_BACKOFF);
                let _ = self
                    .queue
                    .retry(job, now_ms() + backoff.as_millis() as i64, &e);
                false
            }
        }
    }

    fn sign(&self, repository: &str, digest: &str) -> Result<String, String> {
        let image = ImageRef::parse(&format!("{}/{repository}@{digest}", self.host))
            .map_err(|e| e.to_string())?;
        // A referrer (or a signature pushed by digest) is another manifest's attachment.
        let manifest = self
            .registry
            .get_manifest((&image).into(), digest)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{image} is not in the registry (yet)"))?;
        let parsed: serde_json::Value =
            serde_json::from_slice(&manifest.bytes).map_err(|e| e.to_string())?;
        if sigil_formats::oci::is_attachment_manifest(&parsed) {
            return Ok(
                json!({"skipped": "an attachment of another manifest", "signed_at_ms": now_ms()})
                    .to_string(),
            );
        }
        let rule = self.rules.find(repository);
        let key = self
            .keys
            .key(&self.rules.key_name(repository))
            .map_err(|e| e.to_string())?;
        let mut annotations = rule.map(|r| r.annotations.clone()).unwrap_or_default();
        if let Some(r) = rule
            && !r.labels.is_empty()
            && let Some(labels) = self.labels(&image, &parsed)?
        {
            for (label, name) in &r.labels {
                if let Some(v) = labels.get(label).and_then(|v| v.as_str()) {
                    annotations.insert(name.clone(), v.to_owned());
                }
            }
        }
        let options = sigil_sign::image::ImageOptions {
            recursive: true,
            annotations,
            ..Default::default()
        };
        let log = match rule.is_some_and(|r| r.tlog) {
            true => Some(
                self.log
                    .get()
                    .ok_or("the transparency log is not configured yet")?,
            ),
            false => None,
        };
        let signed = sigil_sign::image::sign(&self.registry, &image, key.as_ref(), &options, log)
            .map_err(|e| e.to_string())?;
        let signed_at_ms = now_ms();
        let mut attested = 0;
        if rule.is_some_and(|r| r.sbom) {
            let bom = self.sbom(&image)?;
            attested = sigil_sign::image::attest(
                &self.registry,
                &image,
                key.as_ref(),
                CYCLONEDX_PREDICATE,
                &bom,
                &sigil_sign::image::ImageOptions::default(),
                log,
            )
            .map_err(|e| format!("the SBOM attestation: {e}"))?
            .len();
        }
        Ok(json!({"signed": signed.len(), "sbom_attested": attested,
                  "key": key.public_key().hint(), "signed_at_ms": signed_at_ms})
        .to_string())
    }

    /// The image's CycloneDX 1.6 SBOM (sigil-sbom over the registry).
    fn sbom(&self, image: &ImageRef) -> Result<serde_json::Value, String> {
        let images = sigil_image::sbom::RegistryImages(&self.registry);
        let opts = sigil_sbom::ScanOptions {
            registry: Some(&images),
            ..Default::default()
        };
        let source = sigil_sbom::Source::Registry(image.to_string());
        let inv = sigil_sbom::scan(&source, &opts).map_err(|e| format!("the SBOM: {e}"))?;
        let doc = sigil_sbom::cyclonedx::write(
            &inv,
            &sigil_sbom::DocumentInfo::now(),
            sigil_sbom::cyclonedx::SpecVersion::V1_6,
        );
        serde_json::from_slice(&doc).map_err(|e| format!("the SBOM: {e}"))
    }

    /// The image config's labels of a single-platform manifest (`None` for an index).
    fn labels(
        &self,
        image: &ImageRef,
        manifest: &serde_json::Value,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
        let Ok(desc) =
            serde_json::from_value::<sigil_formats::oci::Descriptor>(manifest["config"].clone())
        else {
            return Ok(None);
        };
        let config = self
            .registry
            .get_blob(image.into(), &desc, 1 << 20)
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_slice(&config).map_err(|e| e.to_string())?;
        Ok(v["config"]["Labels"].as_object().cloned())
    }

    /// Wakes the dispatcher.
    fn poke(&self) {
        let (lock, cv) = &self.wake;
        *lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        cv.notify_all();
    }

    /// Waits until woken by a notification or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        let (lock, cv) = &self.wake;
        let mut woken = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*woken {
            woken = cv
                .wait_timeout(woken, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        *woken = false;
    }
}

/// How many pushes are signed at once by [`spawn_worker`]. A signature's write waits on the
/// registry (it checks, 200 ms later, that no concurrent writer replaced it), so throughput
/// comes from signing several digests at once.
pub const WORKERS: usize = 32;

/// Runs the workers for as long as the process lives: a dispatcher hands each due push to one
/// of [`WORKERS`] threads (never the same push to two), then waits for a notification, a
/// finished push, or 250 ms (for retries).
pub fn spawn_worker(a: Arc<AutoSign>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let in_flight = Arc::new(Mutex::new(std::collections::HashSet::<String>::new()));
        let (tx, rx) = std::sync::mpsc::channel::<sigil_store::queue::Job>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            let (a, rx, in_flight) = (a.clone(), rx.clone(), in_flight.clone());
            std::thread::spawn(move || {
                loop {
                    let job = {
                        let r = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        r.recv()
                    };
                    let Ok(job) = job else { return };
                    a.work(&job);
                    in_flight
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&job.key);
                    a.poke();
                }
            });
        }
        loop {
            // In-flight before the queue is read: a push finished meanwhile is either still
            // marked (skipped) or gone from the queue, never handed out twice.
            let mut busy = in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Ok(jobs) = a.queue.due(now_ms(), 4 * WORKERS) {
                for job in jobs {
                    if busy.len() >= 2 * WORKERS {
                        break;
                    }
                    if busy.insert(job.key.clone()) && tx.send(job).is_err() {
                        return;
                    }
                }
            }
            drop(busy);
            a.wait(Duration::from_millis(250));
        }
    })
}

async fn events(State(a): State<Arc<AutoSign>>, headers: HeaderMap, body: Bytes) -> Response {
    if !a.authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(json!({"error": "a registry notification needs the events bearer token"})),
        )
            .into_response();
    }
    match tokio::task::spawn_blocking(move || a.record(&body)).await {
        Ok(Ok(new)) => axum::Json(json!({"accepted": new})).into_response(),
        Ok(Err(e)) => {
            let status = match e {
                RecordError::Malformed(_) => StatusCode::BAD_REQUEST,
                RecordError::Queue(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, axum::Json(json!({"error": e.to_string()}))).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn push_status(a: Arc<AutoSign>, headers: HeaderMap, key: String) -> Response {
    if !a.authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response();
    }
    match tokio::task::spawn_blocking(move || a.status(&key)).await {
        Ok(Ok(Some(v))) => axum::Json(v).into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"state": "unknown", "error": "no push of that digest was recorded"})),
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn public_key(a: Arc<AutoSign>, repository: String) -> Response {
    let name = if repository == DEFAULT_KEY {
        repository
    } else if sigil_formats::reference::is_repository_path(&repository) {
        a.rules.key_name(&repository)
    } else {
        return (StatusCode::NOT_FOUND, "not a repository name\n").into_response();
    };
    match tokio::task::spawn_blocking(move || a.keys.existing(&name)).await {
        Ok(Ok(Some(k))) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            k.public_key().to_pem(),
        )
            .into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            "no key yet: it is made with the repository's first signed push, or by sigil keys create\n",
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The routes: the notification endpoint and the public keys.
pub fn router(a: Arc<AutoSign>) -> Router {
    Router::new()
        .route("/api/v1/registry/events", post(events))
        .route(
            "/api/v1/registry/pushes/{*key}",
            get(
                |State(a): State<Arc<AutoSign>>,
                 headers: HeaderMap,
                 UrlPath(key): UrlPath<String>| { push_status(a, headers, key) },
            ),
        )
        .route(
            "/api/v1/cosign.pub",
            get(|State(a): State<Arc<AutoSign>>| public_key(a, DEFAULT_KEY.to_owned())),
        )
        .route(
            "/api/v1/repositories/{*rest}",
            get(
                |State(a): State<Arc<AutoSign>>, UrlPath(rest): UrlPath<String>| async move {
                    match rest.strip_suffix("/cosign.pub") {
                        Some(repo) => public_key(a, repo.to_owned()).await,
                        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
                    }
                },
            ),
        )
        .with_state(a)
}

//! The OCI distribution API over one pooled HTTP client: manifests, blobs, uploads, referrers
//! and tag deletion, with Docker's token authentication.
//!
//! Why not `oci-client`'s request code: it sends `GET /v2/` before *every* request to a registry
//! that needs no token, which doubles the traffic of an anonymous verification, and it reads
//! manifests and blobs without a size bound. Here:
//!
//! - credentials (flags, else the Docker config) are looked up once per registry; basic
//!   credentials go out with the first request, so a registry with basic auth costs no extra
//!   round trip;
//! - a `401` with a bearer challenge is answered once per repository and scope: the token is
//!   kept and reused for every later request to that repository;
//! - every manifest and blob is size-checked before it is read (`Content-Length` and the
//!   descriptor's size), read with a cap, and its digest checked;
//! - redirects from https to http are refused, and credentials never follow a redirect to
//!   another host (reqwest strips them);
//! - every request is counted ([`Registry::stats`]), so the cost of a verification is visible.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, StatusCode, header};

use crate::cache::Cache;
use crate::manifest::{self, ACCEPT_MANIFESTS, Descriptor, Index, Manifest};
use crate::{ImageRef, RegistryError, credentials};

/// Largest manifest read unless told otherwise (distribution's own limit is 4 MiB).
pub const DEFAULT_MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;
/// Largest attachment blob read unless told otherwise (cosign's `COSIGN_MAX_ATTACHMENT_SIZE`).
pub const DEFAULT_MAX_ATTACHMENT_SIZE: u64 = 128 * 1024 * 1024;
/// Default longest time a registry request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default most attachments read per manifest.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 1024;
/// Default most attachment bytes read per manifest.
pub const DEFAULT_MAX_ATTACHMENTS_TOTAL: u64 = 256 * 1024 * 1024;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Plain HTTP for every registry (cosign's `--allow-http-registry`). As in cosign, loopback
    /// registries (`localhost`, `127.0.0.1`, `[::1]`) speak HTTP anyway.
    pub allow_http: bool,
    /// Accept invalid TLS certificates (cosign's `--allow-insecure-registry`).
    pub allow_insecure: bool,
    /// Basic-auth user name.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
    /// A bearer token.
    pub token: Option<String>,
    /// Largest manifest accepted.
    pub max_manifest_size: u64,
    /// Largest attachment (signature payload, attestation, SBOM, bundle) accepted.
    pub max_attachment_size: u64,
    /// Most attachments read for one manifest (distinct layers of its `.sig`/`.att`/`.sbom`
    /// tag, or of its referrers).
    pub max_attachments: usize,
    /// Most attachment bytes read for one manifest, all attachments together.
    pub max_attachments_total: u64,
    /// Longest a request may take, from connecting to the end of its answer (cosign's
    /// `--timeout`).
    pub timeout: Duration,
    /// The Docker `config.json` to read credentials from (a mounted `imagePullSecret`'s
    /// `.dockerconfigjson`); `None`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub docker_config: Option<std::path::PathBuf>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_insecure: false,
            username: None,
            password: None,
            token: None,
            max_manifest_size: DEFAULT_MAX_MANIFEST_SIZE,
            max_attachment_size: DEFAULT_MAX_ATTACHMENT_SIZE,
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
            max_attachments_total: DEFAULT_MAX_ATTACHMENTS_TOTAL,
            timeout: DEFAULT_TIMEOUT,
            docker_config: None,
        }
    }
}

/// Requests sent, by method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// HEAD requests.
    pub head: u64,
    /// GET requests (token requests included).
    pub get: u64,
    /// PUT, POST, PATCH and DELETE requests.
    pub write: u64,
}

impl Stats {
    /// The requests made since `earlier` (a reading of the same counters).
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            head: self.head.saturating_sub(earlier.head),
            get: self.get.saturating_sub(earlier.get),
            write: self.write.saturating_sub(earlier.write),
        }
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.head + self.get + self.write
    }
}

thread_local! {
    static THREAD_STATS: std::cell::Cell<Stats> = const { std::cell::Cell::new(Stats { head: 0, get: 0, write: 0 }) };
}

/// The requests every registry client made on this thread so far: the difference of two
/// readings is what the work between them cost, even while other threads share the client.
pub fn thread_stats() -> Stats {
    THREAD_STATS.with(std::cell::Cell::get)
}

#[derive(Default)]
struct Counters {
    head: AtomicU64,
    get: AtomicU64,
    write: AtomicU64,
}

/// A credential for one registry, resolved once.
#[derive(Clone)]
enum Cred {
    Anonymous,
    Basic(String, String),
    Bearer(String),
    IdentityToken(String),
}

/// A manifest as the registry served it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The exact bytes (their digest is `digest`).
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// The registry's `Content-Type`.
    pub content_type: Option<String>,
    /// The parsed document.
    pub manifest: Manifest,
}

/// What a HEAD of a manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest`.
    pub digest: String,
    /// `Content-Type`.
    pub media_type: Option<String>,
    /// `Content-Length`.
    pub size: Option<u64>,
}

/// A registry client: one connection pool, one credential lookup per registry and one token per
/// repository for every request it makes. Cheap to share between threads.
pub struct Registry {
    /// For https URLs: the platform's roots (loaded on first use: ~300 file reads).
    tls: OnceLock<Result<Client, String>>,
    /// For plain-HTTP (loopback, --allow-http-registry) URLs: no root store is ever loaded.
    plain: OnceLock<Result<Client, String>>,
    options: RegistryOptions,
    creds: Mutex<HashMap<String, Cred>>,
    /// (registry, repository) -> (token, allows push).
    tokens: Mutex<HashMap<(String, String), (String, bool)>>,
    counters: Counters,
    cache: Option<Cache>,
    /// Ask for push rights with the first token of each repository.
    writer: bool,
    /// Answer reads from saved evidence and send no request at all.
    evidence: Option<crate::evidence::Evidence>,
}

/// Where a request goes: a registry and a repository in it.
#[derive(Debug, Clone, Copy)]
pub struct Repo<'a> {
    /// Host (and port).
    pub registry: &'a str,
    /// Repository path.
    pub repository: &'a str,
}

impl<'a> From<&'a ImageRef> for Repo<'a> {
    fn from(image: &'a ImageRef) -> Self {
        Self {
            registry: image.registry(),
            repository: image.repository(),
        }
    }
}

impl Registry {
    /// A client with these options.
    pub fn new(options: &RegistryOptions) -> Result<Self, RegistryError> {
        Ok(Self {
            tls: OnceLock::new(),
            plain: OnceLock::new(),
            options: options.clone(),
            creds: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            cache: None,
            writer: false,
            evidence: None,
        })
    }

    /// A client that reads only the evidence saved in `dir` ([`crate::evidence::save`]) and
    /// sends no request: manifests, tags, blobs and referrers come from the directory, each
    /// checked against its digest; anything not saved is absent.
    pub fn offline(
        dir: &std::path::Path,
        options: &RegistryOptions,
    ) -> Result<Self, RegistryError> {
        let mut r = Self::new(options)?;
        r.evidence = Some(crate::evidence::Evidence::open(dir)?);
        Ok(r)
    }

    /// Marks the client as one that will write to the repositories it reads (signing): the first
    /// token for a repository then carries push rights too, saving a second token exchange.
    pub fn writing(mut self) -> Self {
        self.writer = true;
        self
    }

    /// Uses `cache` for signature manifests and attachment blobs.
    pub fn with_cache(mut self, cache: Option<Cache>) -> Self {
        self.cache = cache;
        self
    }

    /// The cache in use.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// A manifest behind a tag, through the cache: when the cache has seen the tag, a HEAD says
    /// whether it still points to the cached manifest; otherwise one GET fetches it.
    pub fn get_manifest_cached(
        &self,
        repo: Repo<'_>,
        tag: &str,
    ) -> Result<Option<FetchedManifest>, RegistryError> {
        let Some(cache) = self.cache.as_ref().filter(|_| self.evidence.is_none()) else {
            return self.get_manifest(repo, tag);
        };
        let key = format!("{}/{}:{tag}", repo.registry, repo.repository);
        if cache.get_ref(&key).is_some() {
            let Some(head) = self.head_manifest(repo, tag)? else {
                cache.forget_ref(&key);
                return Ok(None);
            };
            if let Some(bytes) = cache.get(&head.digest)
                && let Ok(manifest) = Manifest::parse(&bytes, head.media_type.as_deref())
            {
                return Ok(Some(FetchedManifest {
                    bytes,
                    digest: head.digest,
                    content_type: head.media_type,
                    manifest,
                }));
            }
            let fetched = self.get_manifest(repo, &head.digest)?;
            if let Some(f) = &fetched {
                cache.put(&f.bytes);
                cache.put_ref(&key, &f.digest);
            }
            return Ok(fetched);
        }
        let fetched = self.get_manifest(repo, tag)?;
        match &fetched {
            Some(f) => {
                cache.put(&f.bytes);
                cache.put_ref(&key, &f.digest);
            }
            None => cache.forget_ref(&key),
        }
        Ok(fetched)
    }

    fn builder(&self) -> reqwest::blocking::ClientBuilder {
        Client::builder()
            .user_agent(concat!("sigil/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.options.timeout.min(Duration::from_secs(10)))
            .timeout(self.options.timeout)
            .pool_max_idle_per_host(32)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let downgrade = attempt.url().scheme() == "http"
                    && attempt
                        .previous()
                        .last()
                        .is_some_and(|u| u.scheme() == "https");
                if downgrade {
                    attempt.error("refusing a redirect from https to http")
                } else if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }))
    }

    /// The HTTP client for `url`: the TLS one (built on first use) for https, else one whose
    /// TLS configuration trusts nothing, so plain-HTTP work never reads the system's roots.
    fn http(&self, url: &str) -> Result<&Client, RegistryError> {
        let cell = if url.starts_with("https:") {
            self.tls.get_or_init(|| {
                self.builder()
                    .danger_accept_invalid_certs(self.options.allow_insecure)
                    .build()
                    .map_err(|e| e.to_string())
            })
        } else {
            self.plain.get_or_init(|| {
                let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                self.builder()
                    .tls_backend_preconfigured(tls)
                    .build()
                    .map_err(|e| e.to_string())
            })
        };
        cell.as_ref().map_err(|e| RegistryError::Runtime(e.clone()))
    }

    /// Whether this client reads saved evidence only ([`Registry::offline`]).
    pub fn is_offline(&self) -> bool {
        self.evidence.is_some()
    }

    /// The options this client was made with.
    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// Requests sent so far.
    pub fn stats(&self) -> Stats {
        Stats {
            head: self.counters.head.load(Ordering::Relaxed),
            get: self.counters.get.load(Ordering::Relaxed),
            write: self.counters.write.load(Ordering::Relaxed),
        }
    }

    fn scheme(&self, registry: &str) -> &'static str {
        if self.options.allow_http || is_loopback(registry) {
            "http"
        } else {
            "https"
        }
    }

    /// Whether credentials may be sent to the token service `realm` named by `registry`'s
    /// challenge: `https` (or `http` when the registry itself is plain HTTP on loopback), and on
    /// the registry's host or under the domain the registry's host belongs to (Docker Hub's
    /// `registry-1.docker.io` names `auth.docker.io`).
    fn realm_allowed(&self, registry: &str, realm: &str) -> Result<(), String> {
        let (scheme, rest) = realm
            .split_once("://")
            .ok_or_else(|| format!("the token realm {realm:?} is not a URL"))?;
        let plain_loopback = self.scheme(registry) == "http" && is_loopback(registry);
        match scheme {
            "https" => {}
            "http" if plain_loopback => {}
            _ => {
                return Err(format!(
                    "the token realm {realm} is not https (credentials go over TLS unless the registry itself is plain HTTP on loopback)"
                ));
            }
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(format!("the token realm {realm} carries user information"));
        }
        let realm_host = host_of(authority).to_ascii_lowercase();
        let registry_host = host_of(registry).to_ascii_lowercase();
        if realm_host == registry_host {
            return Ok(());
        }
        let literal = registry_host.parse::<std::net::IpAddr>().is_ok()
            || registry_host.starts_with('[')
            || registry_host == "localhost";
        if !literal
            && let Some((_, parent)) = registry_host.split_once('.')
            && parent.contains('.')
            && (realm_host == parent || realm_host.ends_with(&format!(".{parent}")))
        {
            return Ok(());
        }
        Err(format!(
            "the token realm {realm} is on {realm_host}, neither the registry's host {registry_host} nor under its domain; no credentials are sent there"
        ))
    }

    fn url(&self, repo: Repo<'_>, rest: &str) -> String {
        format!(
            "{}://{}/v2/{}/{rest}",
            self.scheme(repo.registry),
            repo.registry,
            repo.repository
        )
    }

    fn cred(&self, registry: &str) -> Result<Cred, RegistryError> {
        if let Some(c) = self
            .creds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(registry)
        {
            return Ok(c.clone());
        }
        let o = &self.options;
        if let Some(p) = &o.docker_config
            && !p.exists()
        {
            return Err(RegistryError::Credentials(format!(
                "the Docker config {} does not exist",
                p.display()
            )));
        }
        let cred = match (&o.token, &o.username, &o.password) {
            (Some(t), _, _) => Cred::Bearer(t.clone()),
            (None, Some(u), Some(p)) => Cred::Basic(u.clone(), p.clone()),
            _ => match o
                .docker_config
                .clone()
                .or_else(credentials::default_config_path)
            {
                None => Cred::Anonymous,
                Some(path) => match credentials::lookup(&path, registry)
                    .map_err(|e| RegistryError::Credentials(e.to_string()))?
                {
                    Some(credentials::Credential::Basic { username, password }) => {
                        Cred::Basic(username, password)
                    }
                    Some(credentials::Credential::IdentityToken(t)) => Cred::IdentityToken(t),
                    None => Cred::Anonymous,
                },
            },
        };
        self.creds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(registry.to_owned(), cred.clone());
        Ok(cred)
    }

    fn count(&self, method: &Method) {
        let c = match *method {
            Method::HEAD => &self.counters.head,
            Method::GET => &self.counters.get,
            _ => &self.counters.write,
        };
        c.fetch_add(1, Ordering::Relaxed);
        THREAD_STATS.with(|t| {
            let mut s = t.get();
            match *method {
                Method::HEAD => s.head += 1,
                Method::GET => s.get += 1,
                _ => s.write += 1,
            }
            t.set(s);
        });
    }

    fn authorize(
        &self,
        rb: RequestBuilder,
        repo: Repo<'_>,
        push: bool,
    ) -> Result<RequestBuilder, RegistryError> {
        let key = (repo.registry.to_owned(), repo.repository.to_owned());
        if let Some((token, can_push)) = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            && (*can_push || !push)
        {
            return Ok(rb.bearer_auth(token));
        }
        Ok(match self.cred(repo.registry)? {
            Cred::Basic(u, p) => rb.basic_auth(u, Some(p)),
            Cred::Bearer(t) => rb.bearer_auth(t),
            Cred::Anonymous | Cred::IdentityToken(_) => rb,
        })
    }

    /// Sends a request built by `build` (called again for the retry after a token exchange).
    fn send(
        &self,
        repo: Repo<'_>,
        method: Method,
        url: &str,
        push: bool,
        build: &dyn Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        if self.evidence.is_some() {
            return Err(RegistryError::Runtime(format!(
                "{method} {url}: this client reads saved evidence only and sends no request"
            )));
        }
        let go = |this: &Self| -> Result<Response, RegistryError> {
            let mut retried = false;
            loop {
                let rb = build(this.http(url)?.request(method.clone(), url));
                let rb = this.authorize(rb, repo, push)?;
                this.count(&method);
                match rb.send() {
                    Ok(r) => return Ok(r),
                    // A kept-alive connection the registry closed as it was reused: an
                    // idempotent request goes once more, on a new connection.
                    Err(e) if !retried && is_idempotent(&method) && connection_dropped(&e) => {
                        retried = true;
                    }
                    Err(e) => return Err(transport(repo.registry, &e)),
                }
            }
        };
        self.token_from_known_challenge(repo, push)?;
        let resp = go(self)?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(challenge) = challenge.as_deref().and_then(parse_bearer_challenge) else {
            return Err(RegistryError::Unauthorized {
                registry: repo.registry.to_owned(),
                detail: format!(
                    "{method} {url}: 401 ({})",
                    challenge.as_deref().unwrap_or("no challenge")
                ),
            });
        };
        self.realm_allowed(repo.registry, &challenge.realm)
            .map_err(|detail| RegistryError::Unauthorized {
                registry: repo.registry.to_owned(),
                detail,
            })?;
        self.fetch_token(repo, push, &challenge)?;
        if let Some(c) = &self.cache {
            c.put_note(
                "challenges",
                repo.registry,
                &format!(
                    "{}\n{}",
                    challenge.realm,
                    challenge.service.as_deref().unwrap_or("")
                ),
            );
        }
        let resp = go(self)?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(RegistryError::Unauthorized {
                registry: repo.registry.to_owned(),
                detail: format!("{method} {url}: 401 with a fresh token"),
            });
        }
        Ok(resp)
    }

    /// When this registry challenged us before (remembered in the cache) and no token for the
    /// repository is held, fetches one now instead of learning the realm from a 401 again.
    fn token_from_known_challenge(&self, repo: Repo<'_>, push: bool) -> Result<(), RegistryError> {
        let Some(cache) = &self.cache else {
            return Ok(());
        };
        let key = (repo.registry.to_owned(), repo.repository.to_owned());
        if let Some((_, can_push)) = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            && (*can_push || !push)
        {
            return Ok(());
        }
        // Credentials go only to a realm of the live challenge: a realm read from the cache
        // directory (which anyone who can write there chooses) is used for anonymous tokens.
        if !matches!(self.cred(repo.registry)?, Cred::Anonymous) {
            return Ok(());
        }
        let Some(note) = cache.get_note("challenges", repo.registry) else {
            return Ok(());
        };
        let (realm, service) = note.split_once('\n').unwrap_or((note.as_str(), ""));
        if self.realm_allowed(repo.registry, realm).is_err() {
            return Ok(());
        }
        let challenge = Challenge {
            realm: realm.to_owned(),
            service: (!service.is_empty()).then(|| service.to_owned()),
        };
        self.fetch_token(repo, push, &challenge)
    }

    fn fetch_token(
        &self,
        repo: Repo<'_>,
        push: bool,
        challenge: &Challenge,
    ) -> Result<(), RegistryError> {
        let push = push || self.writer;
        let scope = format!(
            "repository:{}:{}",
            repo.repository,
            if push { "pull,push" } else { "pull" }
        );
        let unauthorized = |detail: String| RegistryError::Unauthorized {
            registry: repo.registry.to_owned(),
            detail,
        };
        let cred = self.cred(repo.registry)?;
        let rb = match &cred {
            Cred::IdentityToken(refresh) => {
                // Docker's OAuth2 refresh-token grant, as docker login stores it.
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("client_id", "sigil"),
                    ("scope", scope.as_str()),
                ];
                if let Some(s) = &challenge.service {
                    form.push(("service", s.as_str()));
                }
                self.count(&Method::POST);
                self.http(&challenge.realm)?
                    .post(&challenge.realm)
                    .form(&form)
            }
            _ => {
                let mut query = vec![("scope", scope.as_str())];
                if let Some(s) = &challenge.service {
                    query.push(("service", s.as_str()));
                }
                let rb = self
                    .http(&challenge.realm)?
                    .get(&challenge.realm)
                    .query(&query);
                self.count(&Method::GET);
                match &cred {
                    Cred::Basic(u, p) => rb.basic_auth(u, Some(p)),
                    _ => rb,
                }
            }
        };
        let resp = rb.send().map_err(|e| transport(repo.registry, &e))?;
        let status = resp.status();
        let body = read_capped(resp, 1024 * 1024).map_err(|e| RegistryError::Registry {
            registry: repo.registry.to_owned(),
            detail: format!("token response: {e}"),
        })?;
        if !status.is_success() {
            return Err(unauthorized(format!(
                "the token service {} answered {status}: {}",
                challenge.realm,
                snippet(&body)
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| unauthorized(format!("malformed token response: {e}")))?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the token response holds no token".into()))?;
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                (repo.registry.to_owned(), repo.repository.to_owned()),
                (token, push),
            );
        Ok(())
    }

    /// HEAD of a manifest by tag or digest; `None` when the registry says 404.
    pub fn head_manifest(
        &self,
        repo: Repo<'_>,
        reference: &str,
    ) -> Result<Option<ManifestHead>, RegistryError> {
        if let Some(e) = &self.evidence {
            return e.head_manifest(repo, reference, self.options.max_manifest_size);
        }
        let url = self.url(repo, &format!("manifests/{reference}"));
        let resp = self.send(repo, Method::HEAD, &url, false, &|rb| {
            rb.header(header::ACCEPT, ACCEPT_MANIFESTS)
        })?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = check_status(repo, &url, resp)?;
        let h = resp.headers();
        let digest = h
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let media_type = header_str(h, header::CONTENT_TYPE);
        let size = resp.content_length();
        match digest {
            Some(d) => {
                manifest::check_digest(&d).map_err(|e| RegistryError::Registry {
                    registry: repo.registry.to_owned(),
                    detail: format!("HEAD {url}: {e}"),
                })?;
                Ok(Some(ManifestHead {
                    digest: d,
                    media_type,
                    size,
                }))
            }
            // No digest header: fetch the manifest and hash it.
            None => Ok(self.get_manifest(repo, reference)?.map(|m| ManifestHead {
                size: Some(m.bytes.len() as u64),
                digest: m.digest,
                media_type: m.content_type,
            })),
        }
    }

    /// GET of a manifest by tag or digest; `None` when the registry says 404. The bytes are
    /// size-checked and hashed; a digest reference must match them.
    pub fn get_manifest(
        &self,
        repo: Repo<'_>,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, RegistryError> {
        if let Some(e) = &self.evidence {
            return e.get_manifest(repo, reference, self.options.max_manifest_size);
        }
        let url = self.url(repo, &format!("manifests/{reference}"));
        let resp = self.send(repo, Method::GET, &url, false, &|rb| {
            rb.header(header::ACCEPT, ACCEPT_MANIFESTS)
        })?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = check_status(repo, &url, resp)?;
        let limit = self.options.max_manifest_size;
        if let Some(len) = resp.content_length()
            && len > limit
        {
            return Err(RegistryError::TooLarge {
                what: format!("manifest {url}"),
                size: len,
                limit,
            });
        }
        let content_type = header_str(resp.headers(), header::CONTENT_TYPE);
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_capped(resp, limit).map_err(|e| match e {
            CapError::TooLarge => RegistryError::TooLarge {
                what: format!("manifest {url}"),
                size: limit + 1,
                limit,
            },
            CapError::Io(e) => transport_io(repo.registry, &e),
        })?;
        let digest = manifest::sha256_digest(&bytes);
        let expected = if reference.contains(':') {
            Some(reference.to_owned())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(RegistryError::DigestMismatch {
                what: format!("manifest {url}"),
                expected,
                actual: digest,
            });
        }
        let manifest = Manifest::parse(&bytes, content_type.as_deref()).map_err(|e| {
            RegistryError::Manifest {
                what: url.clone(),
                error: e,
            }
        })?;
        Ok(Some(FetchedManifest {
            bytes,
            digest,
            content_type,
            manifest,
        }))
    }

    /// GET of a blob the caller holds a descriptor for, refused before the request when the
    /// descriptor is larger than `limit`; the bytes must have the descriptor's size and digest.
    pub fn get_blob(
        &self,
        repo: Repo<'_>,
        desc: &Descriptor,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        manifest::check_digest(&desc.digest).map_err(|e| RegistryError::Manifest {
            what: format!("{}/{}", repo.registry, repo.repository),
            error: e,
        })?;
        if let Some(e) = &self.evidence {
            return e.get_blob(repo, desc, limit);
        }
        let url = self.url(repo, &format!("blobs/{}", desc.digest));
        if desc.size > limit {
            return Err(RegistryError::TooLarge {
                what: format!("blob {url}"),
                size: desc.size,
                limit,
            });
        }
        if let Some(bytes) = self.cache.as_ref().and_then(|c| c.get(&desc.digest))
            && bytes.len() as u64 == desc.size
        {
            return Ok(bytes);
        }
        let resp = self.send(repo, Method::GET, &url, false, &|rb| rb)?;
        let resp = check_status(repo, &url, resp)?;
        let bytes = read_capped(resp, desc.size).map_err(|e| match e {
            CapError::TooLarge => RegistryError::DigestMismatch {
                what: format!("blob {url}"),
                expected: format!("{} bytes", desc.size),
                actual: "more bytes".into(),
            },
            CapError::Io(e) => transport_io(repo.registry, &e),
        })?;
        let digest = manifest::sha256_digest(&bytes);
        if digest != desc.digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob {url}"),
                expected: desc.digest.clone(),
                actual: digest,
            });
        }
        if let Some(c) = &self.cache {
            c.put(&bytes);
        }
        Ok(bytes)
    }

    /// A blob as a stream (for copying; the receiving registry checks the digest).
    pub fn blob_reader(&self, repo: Repo<'_>, digest: &str) -> Result<Response, RegistryError> {
        let url = self.url(repo, &format!("blobs/{digest}"));
        let resp = self.send(repo, Method::GET, &url, false, &|rb| rb)?;
        check_status(repo, &url, resp)
    }

    /// Whether the repository holds a blob.
    pub fn blob_exists(&self, repo: Repo<'_>, digest: &str) -> Result<bool, RegistryError> {
        let url = self.url(repo, &format!("blobs/{digest}"));
        let resp = self.send(repo, Method::HEAD, &url, false, &|rb| rb)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        check_status(repo, &url, resp).map(|_| true)
    }

    /// Uploads a blob unless the repository has it; returns its descriptor.
    pub fn put_blob(
        &self,
        repo: Repo<'_>,
        media_type: &str,
        data: &[u8],
    ) -> Result<Descriptor, RegistryError> {
        let desc = Descriptor::of(media_type, data);
        if !self.blob_exists(repo, &desc.digest)? {
            if let Some(put) = self.start_upload(repo, &desc.digest, None)? {
                let body = data.to_vec();
                let resp = self.send(repo, Method::PUT, &put, true, &|rb| {
                    rb.header(header::CONTENT_TYPE, "application/octet-stream")
                        .body(body.clone())
                })?;
                check_status(repo, &put, resp)?;
            }
        }
        Ok(desc)
    }

    /// Uploads a blob of known size and digest from the reader `open` gives (one monolithic
    /// PUT), after trying a cross-repository mount from `mount_from` on the same registry (then
    /// `open` is not called).
    pub fn put_blob_stream<R: Read + Send + 'static>(
        &self,
        repo: Repo<'_>,
        digest: &str,
        size: u64,
        mount_from: Option<&str>,
        open: impl FnOnce() -> Result<R, RegistryError>,
    ) -> Result<(), RegistryError> {
        let Some(put) = self.start_upload(repo, digest, mount_from)? else {
            return Ok(());
        };
        let cell = Mutex::new(Some(open()?));
        // The push token exists by now (the POST needed it), so this PUT is not challenged and
        // its one-shot body is sent once.
        let resp = self.send(repo, Method::PUT, &put, true, &|rb| {
            let body = match cell
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
            {
                Some(r) => reqwest::blocking::Body::sized(r, size),
                None => reqwest::blocking::Body::from(Vec::new()),
            };
            rb.header(header::CONTENT_TYPE, "application/octet-stream")
                .body(body)
        })?;
        check_status(repo, &put, resp).map(|_| ())
    }

    /// Starts an upload (or mounts `digest` from `mount_from`): the URL to PUT the bytes to, or
    /// `None` when the mount made the blob present.
    fn start_upload(
        &self,
        repo: Repo<'_>,
        digest: &str,
        mount_from: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        let mut url = self.url(repo, "blobs/uploads/");
        if let Some(from) = mount_from {
            url = format!("{url}?mount={digest}&from={from}");
        }
        let resp = self.send(repo, Method::POST, &url, true, &|rb| {
            rb.header(header::CONTENT_LENGTH, "0")
        })?;
        if resp.status() == StatusCode::CREATED && mount_from.is_some() {
            return Ok(None);
        }
        let resp = check_status(repo, &url, resp)?;
        let location = header_str(resp.headers(), header::LOCATION).ok_or_else(|| {
            RegistryError::Registry {
                registry: repo.registry.to_owned(),
                detail: format!("POST {url}: no Location for the upload"),
            }
        })?;
        let base = reqwest::Url::parse(&url).map_err(|e| RegistryError::Registry {
            registry: repo.registry.to_owned(),
            detail: e.to_string(),
        })?;
        let mut put = base.join(&location).map_err(|e| RegistryError::Registry {
            registry: repo.registry.to_owned(),
            detail: format!("upload location {location:?}: {e}"),
        })?;
        put.query_pairs_mut().append_pair("digest", digest);
        Ok(Some(put.to_string()))
    }

    /// PUTs a manifest under a tag or its digest; returns the digest of the bytes.
    pub fn put_manifest(
        &self,
        repo: Repo<'_>,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let url = self.url(repo, &format!("manifests/{reference}"));
        let body = bytes.to_vec();
        let resp = self.send(repo, Method::PUT, &url, true, &|rb| {
            rb.header(header::CONTENT_TYPE, media_type)
                .body(body.clone())
        })?;
        check_status(repo, &url, resp)?;
        Ok(manifest::sha256_digest(bytes))
    }

    /// Deletes a manifest by digest (registries refuse deleting by tag).
    pub fn delete_manifest(&self, repo: Repo<'_>, digest: &str) -> Result<bool, RegistryError> {
        let url = self.url(repo, &format!("manifests/{digest}"));
        let resp = self.send(repo, Method::DELETE, &url, true, &|rb| rb)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        check_status(repo, &url, resp).map(|_| true)
    }

    /// The referrers API listing for `digest`; `None` when the registry has no referrers API
    /// (a 404), so that the caller falls back to the tag schema. Any other failure is an error.
    pub fn referrers(&self, repo: Repo<'_>, digest: &str) -> Result<Option<Index>, RegistryError> {
        if let Some(e) = &self.evidence {
            return Ok(Some(e.referrers(repo, digest)));
        }
        let url = self.url(repo, &format!("referrers/{digest}"));
        let resp = self.send(repo, Method::GET, &url, false, &|rb| {
            rb.header(header::ACCEPT, manifest::OCI_INDEX)
        })?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = check_status(repo, &url, resp)?;
        let limit = self.options.max_manifest_size;
        let bytes = read_capped(resp, limit).map_err(|e| match e {
            CapError::TooLarge => RegistryError::TooLarge {
                what: format!("referrers listing {url}"),
                size: limit + 1,
                limit,
            },
            CapError::Io(e) => transport_io(repo.registry, &e),
        })?;
        match Manifest::parse(&bytes, Some(manifest::OCI_INDEX)) {
            Ok(Manifest::Index(i)) => Ok(Some(i)),
            Ok(Manifest::Image(_)) => Err(RegistryError::Manifest {
                what: url,
                error: manifest::ManifestError::Json(
                    "the referrers listing is not an index".into(),
                ),
            }),
            Err(error) => Err(RegistryError::Manifest { what: url, error }),
        }
    }
}

/// A bearer challenge's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The token service URL.
    pub realm: String,
    /// The `service` parameter to send back.
    pub service: Option<String>,
}

/// The host of `host[:port]` (IPv6 literals keep their brackets).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.find(']').map_or(authority, |i| &authority[..=i]);
    }
    authority
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(h, _)| h)
}

/// Loopback means a literal loopback IP address (`127.0.0.0/8`, `[::1]`) or `localhost`; a name
/// that merely starts with `127.` is not.
pub fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    literal
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Parses a `WWW-Authenticate` value `Bearer realm="…",service="…",scope="…"`; `None` for any
/// other scheme, a missing realm, or a realm that is not an http(s) URL.
pub fn parse_bearer_challenge(value: &str) -> Option<Challenge> {
    let (scheme, params) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.as_str() {
            "realm" => realm = Some(val.to_owned()),
            "service" => service = Some(val.to_owned()),
            _ => {}
        }
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    let realm = realm?;
    // The realm is where credentials go: it must be a web URL.
    if !(realm.starts_with("https://") || realm.starts_with("http://")) {
        return None;
    }
    Some(Challenge { realm, service })
}

fn header_str(h: &header::HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

enum CapError {
    TooLarge,
    Io(std::io::Error),
}

impl std::fmt::Display for CapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge => f.write_str("too large"),
            Self::Io(e) => e.fmt(f),
        }
    }
}

/// Reads at most `limit` bytes; more is an error.
fn read_capped(resp: Response, limit: u64) -> Result<Vec<u8>, CapError> {
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit) as usize);
    resp.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(CapError::Io)?;
    if out.len() as u64 > limit {
        return Err(CapError::TooLarge);
    }
    Ok(out)
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(300)]);
    s.trim().replace('\n', " ")
}

/// Turns a non-success status into an error naming the registry's own error codes.
fn check_status(repo: Repo<'_>, url: &str, resp: Response) -> Result<Response, RegistryError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = read_capped(resp, 64 * 1024).unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        code: String,
        #[serde(default)]
        message: String,
    }
    let (codes, detail) = match serde_json::from_slice::<Envelope>(&body) {
        Ok(env) if !env.errors.is_empty() => (
            env.errors.iter().map(|e| e.code.clone()).collect(),
            env.errors
                .iter()
                .map(|e| format!("{}: {}", e.code, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => (Vec::new(), snippet(&body)),
    };
    let registry = repo.registry.to_owned();
    let detail = format!("{url}: {status} {detail}");
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            RegistryError::Unauthorized { registry, detail }
        }
        _ => RegistryError::Status {
            registry,
            status: status.as_u16(),
            codes,
            detail,
        },
    })
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    )
}

/// Whether a request failed because the connection was closed or reset under it (not a
/// refused connection, a timeout or an answer).
fn connection_dropped(e: &reqwest::Error) -> bool {
    if e.is_connect() || e.is_timeout() || e.is_status() {
        return false;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && h.is_incomplete_message()
        {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        source = err.source();
    }
    false
}

fn transport(registry: &str, e: &reqwest::Error) -> RegistryError {
    let mut detail = error_chain(e);
    // Name the host that failed when it is not the registry (a redirect to a blob store, a
    // token service), and say that a timeout was one.
    if let Some(host) = e.url().and_then(|u| {
        let h = u.host_str()?;
        Some(match u.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_owned(),
        })
    }) && host != registry
    {
        detail = format!("{host} (where the registry sent the request) failed: {detail}");
    }
    if e.is_timeout() {
        detail = format!("no answer within the timeout (--timeout): {detail}");
    }
    if e.is_connect() || e.is_timeout() {
        RegistryError::Unreachable {
            registry: registry.to_owned(),
            detail,
        }
    } else {
        RegistryError::Registry {
            registry: registry.to_owned(),
            detail,
        }
    }
}

fn transport_io(registry: &str, e: &std::io::Error) -> RegistryError {
    RegistryError::Unreachable {
        registry: registry.to_owned(),
        detail: format!("reading the response: {e}"),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_a_lock_is_held_does_not_poison_later_calls() {
        let r = Registry::new(&RegistryOptions::default()).unwrap();
        std::thread::scope(|s| {
            let _ = s
                .spawn(|| {
                    let _held = r
                        .creds
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    panic!("a request panicked");
                })
                .join();
        });
        assert!(r.creds.is_poisoned());
        // Later requests still get their credentials.
        assert!(matches!(r.cred("127.0.0.1:5000"), Ok(Cred::Anonymous)));
    }

    #[test]
    fn loopback_is_a_literal_loopback_address_or_localhost() {
        for yes in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.1:5000",
            "127.8.9.10:1",
            "[::1]",
            "[::1]:5000",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "127.evil.example",
            "127.evil.example:5000",
            "127.0.0.1.nip.io",
            "evil.localhost",
            "localhost.evil.example",
            "[::2]:5000",
            "10.0.0.1",
            "ghcr.io",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
        let r = Registry::new(&RegistryOptions::default()).unwrap();
        assert_eq!(r.scheme("127.evil.example:5000"), "https");
        assert_eq!(r.scheme("127.0.0.1:5000"), "http");
    }

    #[test]
    fn token_realms_must_be_https_and_on_the_registrys_domain() {
        let r = Registry::new(&RegistryOptions::default()).unwrap();
        let ok = |reg: &str, realm: &str| r.realm_allowed(reg, realm);
        assert_eq!(ok("ghcr.io", "https://ghcr.io/token"), Ok(()));
        assert_eq!(
            ok("registry-1.docker.io", "https://auth.docker.io/token"),
            Ok(())
        );
        assert_eq!(
            ok("index.docker.io", "https://auth.docker.io/token"),
            Ok(())
        );
        assert_eq!(
            ok("registry.gitlab.com", "https://gitlab.com/jwt/auth"),
            Ok(())
        );
        assert_eq!(ok("127.0.0.1:5000", "http://127.0.0.1:6000/t"), Ok(()));
        let err = ok("ghcr.io", "http://ghcr.io/token").unwrap_err();
        assert!(err.contains("is not https"), "{err}");
        let err = ok("ghcr.io", "https://evil.example/token").unwrap_err();
        assert!(err.contains("neither the registry's host"), "{err}");
        // A public suffix is not a shared domain, nor is a look-alike.
        assert!(ok("a.example.com", "https://example.com.evil/t").is_err());
        assert!(ok("myreg.io", "https://evil.io/t").is_err());
        assert!(ok("ghcr.io", "https://user@ghcr.io/t").is_err());
        // A loopback registry's realm is on its own host: not another address.
        assert!(ok("127.0.0.1:5000", "http://127.0.0.2:6000/t").is_err());
        assert!(ok("127.0.0.1:5000", "https://evil.example/t").is_err());
        // Plain HTTP is for loopback registries only, even with --allow-http-registry.
        let lan = Registry::new(&RegistryOptions {
            allow_http: true,
            ..Default::default()
        })
        .unwrap();
        assert!(
            lan.realm_allowed("reg.lan.example", "http://reg.lan.example/t")
                .is_err()
        );
    }

    #[test]
    fn bearer_challenges() {
        assert_eq!(
            parse_bearer_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#
            ),
            Some(Challenge {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            })
        );
        assert_eq!(
            parse_bearer_challenge(r#"bearer realm=https://r.example/t"#),
            Some(Challenge {
                realm: "https://r.example/t".into(),
                service: None
            })
        );
        assert_eq!(parse_bearer_challenge(r#"Basic realm="Registry""#), None);
        assert_eq!(
            parse_bearer_challenge(r#"Bearer realm="file:///etc/passwd""#),
            None
        );
        assert_eq!(parse_bearer_challenge(r#"Bearer service="x""#), None);
        assert_eq!(
            parse_bearer_challenge(r#"Bearer realm="unterminated"#),
            None
        );
    }
}

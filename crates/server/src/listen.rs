//! Serving a router on a socket with limits that hostile clients cannot exhaust: a cap on
//! concurrent connections (connections beyond it are closed at once, so the accept loop never
//! spins on exhausted file descriptors), a deadline for each request's headers that also ends
//! idle keep-alive connections (slowloris and idle floods), a deadline for the TLS handshake and
//! for reading a request body, request bodies refused from their declared `Content-Length`
//! before any byte is read (no `100 Continue` for them), and the soft file-descriptor limit
//! raised to the hard one. Every Sigil server uses it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

/// What one server allows each client.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Deadline for a request's headers, counted from when the connection is idle (so it also
    /// ends idle keep-alive connections).
    pub header_timeout: Duration,
    /// Deadline for reading a request body.
    pub body_timeout: Duration,
    /// Deadline for a TLS handshake.
    pub handshake_timeout: Duration,
    /// Largest request body; a larger declared `Content-Length` is refused from the headers.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 32_768,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            max_body: 4 * 1024 * 1024,
        }
    }
}

/// Counters of what the limits refused.
#[derive(Debug, Default)]
pub struct LimitStats {
    /// Connections closed because `max_connections` were open.
    pub refused_connections: AtomicU64,
    /// Requests refused for their declared or actual body size.
    pub oversized_bodies: AtomicU64,
    /// Request bodies not received within the deadline.
    pub slow_bodies: AtomicU64,
}

fn refuse(status: StatusCode, message: String) -> Response {
    let mut r = (
        status,
        axum::Json(serde_json::json!({"code": status.as_u16(), "message": message})),
    )
        .into_response();
    // The rest of the body is not read: the connection cannot be reused.
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Reads request bodies under the limits before the router sees them: a declared
/// `Content-Length` over the limit is answered 413 without reading (nor sending
/// `100 Continue`), a body that grows past it 413, one that takes too long 408.
pub fn guard_bodies(router: Router, limits: &Limits, stats: Arc<LimitStats>) -> Router {
    let (max, timeout) = (limits.max_body, limits.body_timeout);
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: axum::middleware::Next| {
            let stats = stats.clone();
            async move {
                let declared = req
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
                match declared {
                    Some(None) => {
                        return refuse(StatusCode::BAD_REQUEST, "malformed Content-Length".into());
                    }
                    Some(Some(n)) if n > max as u64 => {
                        stats.oversized_bodies.fetch_add(1, Ordering::Relaxed);
                        return refuse(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!("the request body is {n} bytes; at most {max} are accepted"),
                        );
                    }
                    Some(Some(0)) => return next.run(req).await,
                    None if !req.headers().contains_key(header::TRANSFER_ENCODING) => {
                        return next.run(req).await;
                    }
                    _ => {}
                }
                let (parts, body) = req.into_parts();
                let bytes =
                    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await {
                        Ok(Ok(b)) => b,
                        Ok(Err(_)) => {
                            stats.oversized_bodies.fetch_add(1, Ordering::Relaxed);
                            return refuse(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                format!("the request body is over {max} bytes (or was cut off)"),
                            );
                        }
                        Err(_) => {
                            stats.slow_bodies.fetch_add(1, Ordering::Relaxed);
                            return refuse(
                                StatusCode::REQUEST_TIMEOUT,
                                format!("the request body did not arrive within {timeout:?}"),
                            );
                        }
                    };
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        },
    ))
}

/// Raises the soft limit on open files to the hard limit (a server with many clients needs
/// one descriptor per connection); returns the soft limit in effect.
pub fn raise_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        let _ = setrlimit(Resource::Nofile, l);
    }
    getrlimit(Resource::Nofile).current
}

/// A server certificate that can be replaced while serving (a renewed certificate, a rotated
/// Kubernetes Secret): new connections get the newest one that loaded; connections already
/// open keep theirs.
#[derive(Debug)]
pub struct ReloadableCert {
    current: std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>,
}

impl ReloadableCert {
    /// Replaces the certificate; when the new chain or key does not load (or they do not
    /// belong together), the previous one stays and the error says why.
    pub fn reload(&self, cert_pem: &[u8], key_pem: &[u8]) -> std::io::Result<()> {
        let new = certified_key(cert_pem, key_pem)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(new);
        Ok(())
    }
}

impl rustls::server::ResolvesServerCert for ReloadableCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> std::io::Result<rustls::sign::CertifiedKey> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("TLS certificate: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("TLS certificate: no CERTIFICATE block".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid(format!("TLS key: {e}")))?;
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .map_err(|e| invalid(format!("TLS key: {e}")))?;
    let ck = rustls::sign::CertifiedKey::new(certs, signer);
    ck.keys_match()
        .map_err(|e| invalid(format!("TLS certificate and key: {e}")))?;
    Ok(ck)
}

/// TLS for a server whose certificate can be replaced while it serves
/// ([`ReloadableCert::reload`]).
pub fn reloadable_tls_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> std::io::Result<(Arc<rustls::ServerConfig>, Arc<ReloadableCert>)> {
    let cert = Arc::new(ReloadableCert {
        current: std::sync::RwLock::new(Arc::new(certified_key(cert_pem, key_pem)?)),
    });
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), cert))
}

/// TLS for a server: certificate chain and private key as PEM.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> std::io::Result<Arc<rustls::ServerConfig>> {
    reloadable_tls_config(cert_pem, key_pem).map(|(config, _)| config)
}

/// Serves `app` (already guarded with [`guard_bodies`]) on `listener`, over TLS when `tls` is
/// given, until `shutdown` completes; then finishes the requests in flight for at most 30
/// seconds.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    stats: Arc<LimitStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            // Out of descriptors or a connection reset before it was accepted: go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            stats.refused_connections.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let app = app.clone();
        let limits = limits.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(stream, app, &limits, watcher).await,
                Some(a) => {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(limits.handshake_timeout, a.accept(stream)).await
                    {
                        serve_connection(tls, app, &limits, watcher).await;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(Duration::from_secs(30)) => {},
    }
    Ok(())
}

async fn serve_connection<I>(
    io: I,
    app: Router,
    limits: &Limits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), service);
    let _ = watcher.watch(conn).await;
}

/// Ends on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The TLS configuration a server takes.
pub use rustls::ServerConfig as TlsConfig;

/// A listener on `listen` (`host:port`), the address named in the error.
pub async fn bind(listen: &str) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))
}

/// A multi-threaded runtime for a service.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start the runtime: {e}")))
}

/// Runs `app` on `listen` on a runtime of its own until SIGINT or SIGTERM: binds, calls
/// `started` with the bound address and its scheme (to announce it and write a ready file),
/// then serves with `limits` (bodies guarded), over TLS when `tls` is given.
pub fn run(
    listen: &str,
    tls: Option<Arc<TlsConfig>>,
    limits: Limits,
    app: Router,
    started: impl FnOnce(std::net::SocketAddr, &'static str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    runtime()?.block_on(async move {
        let listener = bind(listen).await?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        started(listener.local_addr()?, scheme)?;
        let stats = Arc::new(crate::LimitStats::default());
        let app = guard_bodies(app, &limits, stats.clone());
        serve(listener, app, limits, tls, stats, shutdown_signal()).await
    })
}

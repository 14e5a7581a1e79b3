//! Sigil's HTTP services. Today: the transparency log — a Rekor v1-compatible API and the C2SP
//! tlog-tiles read API over one store (embedded redb, or PostgreSQL), with batched sequencing
//! and signed checkpoints.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sigil_server::log::{Log, LogConfig};
//! use sigil_tlog::store::Embedded;
//!
//! let store = Arc::new(Embedded::open(std::path::Path::new("/var/lib/sigil-log"))?);
//! let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)?;
//! let log = Log::open(store, LogConfig {
//!     origin: "log.example.org".into(),
//!     key,
//!     batch_max_size: 1024,
//!     batch_max_age: std::time::Duration::from_millis(50),
//! })?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! sigil_server::serve(listener, sigil_server::log::api::router(log.clone(), 4 << 20), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! log.shutdown();
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod log;

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves `app` over TLS (rustls; certificate chain and private key as PEM) on `listener` until
/// `shutdown` completes, then finishes the requests in flight (for at most 30 seconds).
pub async fn serve_tls(
    listener: std::net::TcpListener,
    app: axum::Router,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(cert_pem, key_pem).await?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
    });
    listener.set_nonblocking(true)?;
    axum_server::from_tcp_rustls(listener, config)
        .handle(handle)
        .serve(app.into_make_service())
        .await
}

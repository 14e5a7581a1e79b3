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
//! use sigil_store::log::Embedded;
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

pub mod listen;
pub mod log;

pub use listen::{LimitStats, Limits};

/// Serves `app` on `listener` with the default [`Limits`] until `shutdown` completes, then
/// finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::default();
    let stats = std::sync::Arc::new(LimitStats::default());
    let app = listen::guard_bodies(app, &limits, stats.clone());
    listen::serve(listener, app, limits, None, stats, shutdown).await
}

//! Sigil's transparency log in the test's own process: the real log (admission, sequencing,
//! checkpoints, proofs) on an embedded store in a temporary directory, served on a random
//! loopback port until dropped.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use sigil_crypto::{KeyAlgorithm, SigningKey};

pub struct InprocLog {
    pub url: String,
    pub key: SigningKey,
    pub log: Arc<sigil_server::log::Log>,
    pub dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

impl InprocLog {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let store = Arc::new(sigil_store::log::Embedded::open(dir.path()).unwrap());
        let log = sigil_server::log::Log::open(
            store,
            sigil_server::log::LogConfig {
                origin: "log.test".into(),
                key: SigningKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap(),
                batch_max_size: 64,
                batch_max_age: Duration::from_millis(2),
            },
        )
        .unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = sigil_server::log::api::router(log.clone(), 1 << 20);
        rt.spawn(sigil_server::serve(listener, app, std::future::pending()));
        Self {
            url,
            key,
            log,
            dir,
            _rt: rt,
        }
    }
}

impl Drop for InprocLog {
    fn drop(&mut self) {
        self.log.shutdown();
    }
}

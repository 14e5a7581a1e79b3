//! The log with nothing durable: the real admission, sequencer, checkpoints, SETs and inclusion
//! proofs over a store that keeps only tiles and the head in memory (no entries, no indexes,
//! no fsync). It measures how fast the appends can go on this machine when storage costs
//! nothing: drive it with `sigil-log-bench`. Not a log anyone should run.
//!
//! ```text
//! cargo run --release -p sigil-server --example memory_log -- READY_FILE
//! cargo run --release -p sigil-bench -- --rekor-url "$(cat READY_FILE)" --entries 60000 --clients 64
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sigil_server::log::{Log, LogConfig};
use sigil_store::log::{Batch, Head, LogStore, StoreError, StoredEntry};
use sigil_tlog::merkle::Hash;

#[derive(Default)]
struct Memory {
    head: Mutex<Option<Head>>,
    tiles: Mutex<HashMap<(u8, u64), Vec<Hash>>>,
}

impl LogStore for Memory {
    fn head(&self) -> Result<Option<Head>, StoreError> {
        Ok(self.head.lock().expect("lock").clone())
    }
    fn size(&self) -> Result<u64, StoreError> {
        Ok(self
            .head
            .lock()
            .expect("lock")
            .as_ref()
            .map_or(0, |h| h.size))
    }
    fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut t = self.tiles.lock().expect("lock");
        for (l, i, h) in &batch.tiles {
            t.insert((*l, *i), h.clone());
        }
        *self.head.lock().expect("lock") = Some(batch.head.clone());
        Ok(())
    }
    fn publish(&self, head: &Head) -> Result<(), StoreError> {
        *self.head.lock().expect("lock") = Some(head.clone());
        Ok(())
    }
    fn entries(&self, _: u64, _: u64) -> Result<Vec<StoredEntry>, StoreError> {
        Ok(Vec::new())
    }
    fn find_leaf(&self, _: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    fn tile(&self, level: u8, index: u64) -> Result<Vec<Hash>, StoreError> {
        Ok(self
            .tiles
            .lock()
            .expect("lock")
            .get(&(level, index))
            .cloned()
            .unwrap_or_default())
    }
    fn search(&self, _: &[u8; 32], _: usize) -> Result<Vec<u64>, StoreError> {
        Ok(Vec::new())
    }
    fn search_rows(&self) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        Ok(Vec::new())
    }
    fn is_local(&self) -> bool {
        true
    }
    fn backend(&self) -> &'static str {
        "memory"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ready = std::env::args()
        .nth(1)
        .ok_or("usage: memory_log READY_FILE")?;
    let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)?;
    let log = Log::open(
        Arc::new(Memory::default()),
        LogConfig {
            origin: "memory.log".into(),
            key,
            batch_max_size: 1024,
            batch_max_age: std::time::Duration::ZERO,
        },
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        std::fs::write(&ready, format!("http://{}", listener.local_addr()?))?;
        sigil_server::serve(
            listener,
            sigil_server::log::api::router(log.clone(), 4 << 20),
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await
    })?;
    log.shutdown();
    Ok(())
}

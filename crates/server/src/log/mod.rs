//! The transparency log: admission, sequencing in batches, signed checkpoints, and what the API
//! serves (entries with SETs and inclusion proofs, consistency proofs, tiles).
//!
//! Appends go to one sequencer thread, which takes up to `batch_max_size` entries or waits at
//! most `batch_max_age`, then (1) computes the new tree and signs its checkpoint, (2) writes
//! entries, tiles and checkpoint in one durable transaction, and only then (3) publishes the
//! checkpoint and answers every client of the batch. A client is answered only once its entry
//! is durable and covered by a published checkpoint. A checkpoint leaves the process only after
//! its commit; when a commit fails, the sequencer retries exactly that batch (same entries, same
//! tree, same checkpoint) before it takes anything else, so the log never signs two
//! inconsistent checkpoints.

pub mod api;
pub mod ct;
pub mod entries;
pub mod setup;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, mpsc};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::hash::hex_lower;
use sigil_crypto::{Digest, HashAlgorithm, SigningKey};
use sigil_store::log::{Batch, Head, LogStore, NewEntry, StoreError, StoreTiles, TileCache};
use sigil_tlog::merkle::{Hash, leaf_hash};
use sigil_tlog::tiles::{self, Edge, TileError, TileSource};

use entries::Admitted;

/// How a log runs.
pub struct LogConfig {
    /// The checkpoint origin and signing key name (a schema-less URL such as `log.example.org`).
    pub origin: String,
    /// The log's signing key (ECDSA P-256 as Rekor v1, or Ed25519).
    pub key: SigningKey,
    /// Most entries per batch.
    pub batch_max_size: usize,
    /// Longest a batch waits for more entries.
    pub batch_max_age: Duration,
}

/// Why an append did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Storage failed (answered with 503); nothing was acknowledged.
    #[error("{0}")]
    Unavailable(String),
    /// The log is shutting down.
    #[error("the log is shutting down")]
    Closed,
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Added at this index.
    New(u64),
    /// Already in the log at this index.
    Duplicate(u64),
}

struct Pending {
    admitted: Admitted,
    leaf: Hash,
    /// The outcome, with the integration time of a new entry.
    reply: tokio::sync::oneshot::Sender<Result<(Appended, Option<i64>), AppendError>>,
}

/// A log entry as the v1 API returns it (`LogEntry`), with its UUID.
pub struct EntryView {
    /// The entry's UUID (its leaf hash, hex).
    pub uuid: String,
    body_b64: String,
    integrated_time: i64,
    log_id: String,
    index: u64,
    proof: Vec<Hash>,
    head: Head,
    set_b64: String,
}

impl EntryView {
    /// The entry as JSON.
    pub fn to_value(&self) -> Value {
        json!({
            "body": self.body_b64,
            "integratedTime": self.integrated_time,
            "logID": self.log_id,
            "logIndex": self.index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self.head.checkpoint,
                    "hashes": self.proof.iter().map(|h| hex_lower(h)).collect::<Vec<_>>(),
                    "logIndex": self.index,
                    "rootHash": hex_lower(&self.head.root),
                    "treeSize": self.head.size,
                },
                "signedEntryTimestamp": self.set_b64,
            }
        })
    }

    /// `{"<uuid>": entry}` as JSON text, written directly: the same bytes as serialising
    /// [`to_value`](Self::to_value) under the UUID, without building the tree (the answer to
    /// every append).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            // Writing a &str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, s);
        }
        let mut out = Vec::with_capacity(1024 + self.body_b64.len() + 67 * self.proof.len());
        out.push(b'{');
        string(&mut out, &self.uuid);
        out.extend_from_slice(b":{\"body\":");
        string(&mut out, &self.body_b64);
        out.extend_from_slice(
            format!(",\"integratedTime\":{},\"logID\":", self.integrated_time).as_bytes(),
        );
        string(&mut out, &self.log_id);
        out.extend_from_slice(
            format!(
                ",\"logIndex\":{},\"verification\":{{\"inclusionProof\":{{\"checkpoint\":",
                self.index
            )
            .as_bytes(),
        );
        string(&mut out, &self.head.checkpoint);
        out.extend_from_slice(b",\"hashes\":[");
        for (i, h) in self.proof.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(hex_lower(h).as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(
            format!(
                "],\"logIndex\":{},\"rootHash\":\"{}\",\"treeSize\":{}}},\"signedEntryTimestamp\":",
                self.index,
                hex_lower(&self.head.root),
                self.head.size
            )
            .as_bytes(),
        );
        string(&mut out, &self.set_b64);
        out.extend_from_slice(b"}}}");
        out
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// Entries appended.
    pub appended: AtomicU64,
    /// Duplicates answered 409.
    pub duplicates: AtomicU64,
    /// Entries refused (400).
    pub rejected: AtomicU64,
    /// Batches sequenced.
    pub batches: AtomicU64,
    /// Storage failures.
    pub storage_errors: AtomicU64,
    /// Sum of integration times (ms).
    pub integration_ms_sum: AtomicU64,
}

/// A running log.
pub struct Log {
    store: Arc<dyn LogStore>,
    key: SigningKey,
    origin: String,
    log_id: [u8; 32],
    head: RwLock<Head>,
    cache: TileCache,
    tx: std::sync::Mutex<Option<mpsc::SyncSender<Pending>>>,
    /// A batch whose commit failed: committed before anything else.
    retry: std::sync::Mutex<Option<(Batch, Edge)>>,
    sequencer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Counters.
    pub metrics: Metrics,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn tile_err(e: TileError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The SHA-256 of the key's DER SPKI: Rekor v1's log ID.
pub fn log_id(key: &sigil_crypto::PublicKey) -> [u8; 32] {
    let d = Digest::of(HashAlgorithm::Sha256, key.spki_der());
    d.as_bytes().try_into().expect("32 bytes")
}

impl Log {
    /// Opens the log on `store`: publishes a head for entries made durable before a crash, and
    /// starts the sequencer.
    pub fn open(store: Arc<dyn LogStore>, config: LogConfig) -> Result<Arc<Self>, StoreError> {
        let cache = TileCache::new(8192);
        let size = store.size()?;
        let verifier = sigil_tlog::checkpoint::NoteVerifier::new(
            &config.origin,
            config.key.public_key().clone(),
        );
        let head = match store.head()? {
            // Kept only when it is this log's valid checkpoint for the stored tree.
            Some(h)
                if h.size == size
                    && sigil_tlog::checkpoint::Checkpoint::verify_envelope(
                        &h.checkpoint,
                        std::slice::from_ref(&verifier),
                    )
                    .is_ok_and(|c| c.size == h.size && c.root_hash == h.root) =>
            {
                h
            }
            _ => {
                // A new log, or a batch made durable whose checkpoint was not yet published.
                let src = StoreTiles::new(store.as_ref(), &cache);
                let root = tiles::tree_root(&src, size).map_err(tile_err)?;
                let head = sign_head(&config.origin, &config.key, size, root)?;
                store.publish(&head)?;
                head
            }
        };
        let edge = Edge::load(&StoreTiles::new(store.as_ref(), &cache), size).map_err(tile_err)?;
        let (tx, rx) = mpsc::sync_channel::<Pending>(65_536);
        let log = Arc::new(Self {
            log_id: log_id(config.key.public_key()),
            store,
            key: config.key,
            origin: config.origin,
            head: RwLock::new(head),
            cache,
            tx: std::sync::Mutex::new(Some(tx)),
            retry: std::sync::Mutex::new(None),
            sequencer: std::sync::Mutex::new(None),
            metrics: Metrics::default(),
        });
        let seq = log.clone();
        let (max_size, max_age) = (config.batch_max_size.max(1), config.batch_max_age);
        let handle = std::thread::Builder::new()
            .name("sigil-log-sequencer".into())
            .spawn(move || seq.sequence(rx, edge, max_size, max_age))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the sequencer: {e}")))?;
        *log.sequencer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handle);
        Ok(log)
    }

    /// Stops taking appends and waits until every accepted one is answered.
    pub fn shutdown(&self) {
        self.tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = self
            .sequencer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = h.join();
        }
    }

    /// Signs `message` with the log's key (an RFC 6962 SCT or tree head, when the log runs
    /// as a CT log).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, sigil_crypto::KeyError> {
        self.key.sign(message)
    }

    /// The log's signing key's algorithm.
    pub fn key_algorithm(&self) -> sigil_crypto::KeyAlgorithm {
        self.key.algorithm()
    }

    /// The checkpoint origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log ID (SHA-256 of the key's SPKI).
    pub fn id(&self) -> [u8; 32] {
        self.log_id
    }

    /// The log's public key.
    pub fn public_key(&self) -> &sigil_crypto::PublicKey {
        self.key.public_key()
    }

    /// Whether storage calls may run on an async worker (see [`LogStore::is_local`]).
    pub fn store_is_local(&self) -> bool {
        self.store.is_local()
    }

    /// Whether the log only serves reads (its data directory cannot be written).
    pub fn read_only(&self) -> bool {
        self.store.read_only()
    }

    /// The storage backend's name.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The published head.
    pub fn head(&self) -> Head {
        self.head
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Appends an admitted entry; returns once it is durable and covered by a published
    /// checkpoint (or already was).
    pub async fn append(&self, admitted: Admitted) -> Result<Appended, AppendError> {
        self.append_timed(admitted).await.map(|(a, _)| a)
    }

    /// [`append`](Self::append), also giving a new entry's integration time.
    pub async fn append_timed(
        &self,
        admitted: Admitted,
    ) -> Result<(Appended, Option<i64>), AppendError> {
        if self.store.read_only() {
            return Err(AppendError::Unavailable(
                "the data directory is read-only: this log serves reads only".into(),
            ));
        }
        let leaf = leaf_hash(&admitted.body);
        let (reply, rx) = tokio::sync::oneshot::channel();
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or(AppendError::Closed)?;
        let pending = Pending {
            admitted,
            leaf,
            reply,
        };
        // The channel is bounded: a full queue pushes back on clients instead of growing.
        let started = Instant::now();
        let pending = match tx.try_send(pending) {
            Ok(()) => None,
            Err(mpsc::TrySendError::Full(p)) => Some(p),
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(AppendError::Closed),
        };
        if let Some(p) = pending {
            tokio::task::spawn_blocking(move || tx.send(p))
                .await
                .map_err(|_| AppendError::Closed)?
                .map_err(|_| AppendError::Closed)?;
        }
        let r = rx.await.map_err(|_| AppendError::Closed)?;
        if matches!(r, Ok((Appended::New(_), _))) {
            self.metrics
                .integration_ms_sum
                .fetch_add(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        r
    }

    fn sequence(
        &self,
        rx: mpsc::Receiver<Pending>,
        mut edge: Edge,
        max_size: usize,
        max_age: Duration,
    ) {
        while let Ok(first) = rx.recv() {
            // Group commit: everything queued while the last batch was committed goes into this
            // one; only when the queue is empty does the batch wait (at most `max_age`) for more.
            let deadline = Instant::now() + max_age;
            let mut batch = vec![first];
            while batch.len() < max_size {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(mpsc::TryRecvError::Disconnected) => break,
                    Err(mpsc::TryRecvError::Empty) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        match rx.recv_timeout(deadline - now) {
                            Ok(p) => batch.push(p),
                            Err(_) => break,
                        }
                    }
                }
            }
            if let Err(e) = self.integrate(batch, &mut edge) {
                self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
                // Resynchronise with what storage holds.
                if let Ok(size) = self.store.size()
                    && let Ok(e2) =
                        Edge::load(&StoreTiles::new(self.store.as_ref(), &self.cache), size)
                {
                    edge = e2;
                }
                let _ = e;
            }
        }
    }

    fn integrate(&self, batch: Vec<Pending>, edge: &mut Edge) -> Result<(), StoreError> {
        self.metrics.batches.fetch_add(1, Ordering::Relaxed);
        // A batch whose commit failed goes first, unchanged.
        let retry = self
            .retry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((b, next)) = retry {
            if let Err(e) = self.store.append(&b) {
                for p in batch {
                    let _ = p.reply.send(Err(AppendError::Unavailable(e.to_string())));
                }
                *self
                    .retry
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((b, next));
                return Err(e);
            }
            self.cache.committed(&b.tiles);
            *edge = next;
            *self
                .head
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = b.head.clone();
        }
        let first = edge.size();
        let now = unix_now();
        let mut in_batch: HashMap<Hash, u64> = HashMap::new();
        let mut entries = Vec::new();
        let mut answers: Vec<(Pending, Appended)> = Vec::new();
        // One lookup for the whole batch.
        let leaves: Vec<Hash> = batch.iter().map(|p| p.leaf).collect();
        let known = match self.store.find_leaves(&leaves) {
            Ok(k) => k,
            Err(e) => {
                for p in batch {
                    let _ = p.reply.send(Err(AppendError::Unavailable(e.to_string())));
                }
                return Err(e);
            }
        };
        for (mut p, known) in batch.into_iter().zip(known) {
            if let Some(&i) = in_batch.get(&p.leaf) {
                answers.push((p, Appended::Duplicate(i)));
                continue;
            }
            if let Some(i) = known {
                answers.push((p, Appended::Duplicate(i)));
                continue;
            }
            let index = first + entries.len() as u64;
            in_batch.insert(p.leaf, index);
            entries.push(NewEntry {
                // The pending request needs only its reply from here on.
                body: std::mem::take(&mut p.admitted.body),
                leaf: p.leaf,
                integrated_time: now,
                keys: p.admitted.keys.iter().map(|k| search_key(k)).collect(),
            });
            answers.push((p, Appended::New(index)));
        }
        if !entries.is_empty() {
            let leaves: Vec<Hash> = entries.iter().map(|e| e.leaf).collect();
            let mut next = edge.clone();
            let changed = next.append(&leaves);
            let overlay = Overlay {
                changed: changed
                    .iter()
                    .map(|(l, i, h)| ((*l, *i), Arc::new(h.clone())))
                    .collect(),
                base: StoreTiles::new(self.store.as_ref(), &self.cache),
            };
            let fail_all = |answers: Vec<(Pending, Appended)>, e: &StoreError| {
                for (p, a) in answers {
                    let r = match a {
                        Appended::Duplicate(i) if i < first => Ok((a, None)),
                        _ => Err(AppendError::Unavailable(e.to_string())),
                    };
                    let _ = p.reply.send(r);
                }
            };
            let head = match tiles::tree_root(&overlay, next.size())
                .map_err(tile_err)
                .and_then(|root| sign_head(&self.origin, &self.key, next.size(), root))
            {
                Ok(h) => h,
                Err(e) => {
                    fail_all(answers, &e);
                    return Err(e);
                }
            };
            let batch = Batch {
                first,
                entries,
                tiles: changed,
                head,
            };
            if let Err(e) = self.store.append(&batch) {
                fail_all(answers, &e);
                // Keep the signed tree: it is the only one this size may ever have.
                *self
                    .retry
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((batch, next));
                return Err(e);
            }
            self.cache.committed(&batch.tiles);
            *edge = next;
            *self
                .head
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = batch.head;
        }
        for (p, a) in answers {
            match a {
                Appended::New(_) => self.metrics.appended.fetch_add(1, Ordering::Relaxed),
                Appended::Duplicate(_) => self.metrics.duplicates.fetch_add(1, Ordering::Relaxed),
            };
            let t = matches!(a, Appended::New(_)).then_some(now);
            let _ = p.reply.send(Ok((a, t)));
        }
        Ok(())
    }

    /// The entry at `index` as the v1 API returns it (`{uuid: LogEntry}`), with an inclusion
    /// proof to the published head and a fresh SET; `None` when it is not (yet) published.
    pub fn entry_json(&self, index: u64) -> Result<Option<(String, Value)>, StoreError> {
        self.entry_json_with(index, None)
    }

    /// [`entry_json`](Self::entry_json) for an entry whose body and integration time the caller
    /// already holds (just appended), saving a read.
    pub fn entry_json_with(
        &self,
        index: u64,
        known: Option<sigil_store::log::StoredEntry>,
    ) -> Result<Option<(String, Value)>, StoreError> {
        Ok(self
            .entry_view(index, known)?
            .map(|v| (v.uuid.clone(), v.to_value())))
    }

    /// The parts of the entry at `index` as the v1 API returns it: the inclusion proof to the
    /// published head and a fresh SET; `None` when it is not (yet) published.
    pub fn entry_view(
        &self,
        index: u64,
        known: Option<sigil_store::log::StoredEntry>,
    ) -> Result<Option<EntryView>, StoreError> {
        let head = self.head();
        if index >= head.size {
            return Ok(None);
        }
        let e = match known {
            Some(e) => e,
            None => match self.store.entries(index, 1)?.into_iter().next() {
                Some(e) => e,
                None => return Ok(None),
            },
        };
        let src = StoreTiles::new(self.store.as_ref(), &self.cache);
        let proof = tiles::inclusion_proof(&src, index, head.size).map_err(tile_err)?;
        let uuid = hex_lower(&leaf_hash(&e.body));
        let body_b64 = STANDARD.encode(&e.body);
        let log_id = hex_lower(&self.log_id);
        let canonical = sigil_tlog::set::payload(&body_b64, e.integrated_time, &log_id, index)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let set = self
            .key
            .sign_message(canonical.as_bytes())
            .map_err(|e| StoreError::Unavailable(format!("signing: {e}")))?;
        Ok(Some(EntryView {
            uuid,
            body_b64,
            integrated_time: e.integrated_time,
            log_id,
            index,
            proof,
            head,
            set_b64: STANDARD.encode(set),
        }))
    }

    /// The published entry with this UUID (64 hex, or 80 hex with a tree-ID prefix).
    pub fn entry_by_uuid(
        &self,
        uuid: &str,
    ) -> Result<Option<sigil_store::log::StoredEntry>, StoreError> {
        let hex = if uuid.len() == 80 { &uuid[16..] } else { uuid };
        let Some(bytes) = sigil_crypto::hash::hex_decode(hex).filter(|b| b.len() == 32) else {
            return Ok(None);
        };
        let leaf: Hash = bytes.try_into().expect("32 bytes");
        let Some(i) = self
            .store
            .find_leaf(&leaf)?
            .filter(|i| *i < self.head().size)
        else {
            return Ok(None);
        };
        // The embedded index keeps a 128-bit prefix: confirm the whole hash.
        Ok(self
            .store
            .entries(i, 1)?
            .into_iter()
            .next()
            .filter(|e| leaf_hash(&e.body) == leaf))
    }

    /// The inclusion proof of the entry at `index` in the tree of `size` entries (both
    /// published).
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, TileError> {
        let src = StoreTiles::new(self.store.as_ref(), &self.cache);
        tiles::inclusion_proof(&src, index, size)
    }

    /// A consistency proof between two published sizes (`second` at most the head's).
    pub fn consistency(&self, first: u64, second: u64) -> Result<(Hash, Vec<Hash>), TileError> {
        let src = StoreTiles::new(self.store.as_ref(), &self.cache);
        let root = tiles::tree_root(&src, second)?;
        let proof = if first == 0 || first == second {
            Vec::new()
        } else {
            tiles::consistency_proof(&src, first, second)?
        };
        Ok((root, proof))
    }

    /// A tile's hashes, limited to the published tree.
    pub fn tile(&self, level: u8, index: u64) -> Result<Vec<Hash>, StoreError> {
        let size = self.head().size;
        let hashes_at_level = size >> (8 * u32::from(level));
        let start = index.saturating_mul(tiles::TILE_WIDTH);
        if start >= hashes_at_level {
            return Ok(Vec::new());
        }
        let width = (hashes_at_level - start).min(tiles::TILE_WIDTH) as usize;
        let mut t = self.store.tile(level, index)?;
        t.truncate(width);
        Ok(t)
    }

    /// Entry bodies `start..start+count` within the published tree.
    pub fn bodies(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let size = self.head().size;
        let count = count.min(size.saturating_sub(start));
        Ok(self
            .store
            .entries(start, count)?
            .into_iter()
            .map(|e| e.body)
            .collect())
    }

    /// Published entries carrying a search key.
    pub fn search(&self, key: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let size = self.head().size;
        Ok(self
            .store
            .search(&search_key(key), limit)?
            .into_iter()
            .filter(|i| *i < size)
            .collect())
    }
}

/// Tiles of a batch being sequenced, over the stored ones.
struct Overlay<'a> {
    changed: HashMap<(u8, u64), Arc<Vec<Hash>>>,
    base: StoreTiles<'a>,
}

impl TileSource for Overlay<'_> {
    fn tile(&self, level: u8, index: u64) -> Result<Arc<Vec<Hash>>, TileError> {
        match self.changed.get(&(level, index)) {
            Some(t) => Ok(t.clone()),
            None => self.base.tile(level, index),
        }
    }

    fn cached_subtree(&self, height: u8, index: u64) -> Option<Hash> {
        self.base.cached_subtree(height, index)
    }

    fn remember_subtree(&self, height: u8, index: u64, hash: Hash) {
        self.base.remember_subtree(height, index, hash)
    }
}

/// The stored form of a search key.
pub fn search_key(key: &str) -> [u8; 32] {
    Digest::of(HashAlgorithm::Sha256, key.as_bytes())
        .as_bytes()
        .try_into()
        .expect("32 bytes")
}

/// The bytes a SET signs: RFC 8785 canonical JSON of `{body, integratedTime, logID, logIndex}`.
/// Written directly for the values a log produces (base64 and hex need no escaping; integers
/// below 2^53 print as themselves), through the general canonicaliser otherwise.
fn sign_head(origin: &str, key: &SigningKey, size: u64, root: Hash) -> Result<Head, StoreError> {
    let text = format!("{origin}\n{size}\n{}\n", STANDARD.encode(root));
    let checkpoint = sigil_tlog::checkpoint::sign_note(&text, origin, key)
        .map_err(|e| StoreError::Unavailable(format!("signing the checkpoint: {e}")))?;
    Ok(Head {
        size,
        root,
        checkpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The append's answer, written directly, is byte for byte what serde_json writes for the
    /// same entry as a tree (the GET endpoints' path).
    #[test]
    fn the_direct_entry_answer_matches_the_json_tree() {
        let checkpoints = [
            String::new(),
            "log.example/x\n3\nq83=\n\n\u{2014} log.example/x AbCd==\n".to_owned(),
            "quote \" backslash \\ tab \t nul \u{0} del \u{7f} bell \u{7}".to_owned(),
        ];
        for (n, checkpoint) in checkpoints.iter().enumerate() {
            for proof_len in [0usize, 1, 20] {
                for (time, index) in [(0i64, 0u64), (-1, u64::MAX), (i64::MAX, 1 << 53)] {
                    let view = EntryView {
                        uuid: hex_lower(&[n as u8; 32]),
                        body_b64: STANDARD.encode(b"{\"kind\":\"x\"}"),
                        integrated_time: time,
                        log_id: hex_lower(&[0xab; 32]),
                        index,
                        proof: (0..proof_len).map(|i| [i as u8; 32]).collect(),
                        head: Head {
                            size: index.saturating_add(1),
                            root: [0xcd; 32],
                            checkpoint: checkpoint.clone(),
                        },
                        set_b64: STANDARD.encode([1u8, 2, 3]),
                    };
                    let tree =
                        serde_json::to_vec(&json!({ view.uuid.clone(): view.to_value() })).unwrap();
                    assert_eq!(
                        String::from_utf8(view.to_json_bytes()).unwrap(),
                        String::from_utf8(tree).unwrap()
                    );
                }
            }
        }
    }
}

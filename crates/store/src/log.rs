//! Log storage behind one trait, with two backends that pass the same tests: [`Embedded`] (a
//! redb file in a data directory, the default) and [`crate::postgres::Postgres`].
//!
//! A store holds the entries (canonical bodies with their integration time), the Merkle tree as
//! C2SP tiles, a leaf-hash index (duplicates, UUID lookups), a search index, and the latest
//! signed tree head. [`LogStore::append`] writes one sequenced batch — entries, changed tiles,
//! index keys and the checkpoint signed for the new tree — in one durable transaction (one
//! fsync), and refuses a batch that does not start at the stored size: a store never holds two
//! different trees. [`LogStore::publish`] stores a head for the stored size without entries (a
//! new log's empty tree).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, MultimapTableDefinition, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, TableDefinition,
};

pub use crate::runs::IndexOptions;
use crate::runs::{EntryKeys, Key, KeyIndex};
use sigil_tlog::merkle::Hash;

/// A stored signed tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Leaves in the tree.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The signed checkpoint (C2SP signed note) for this size and root.
    pub checkpoint: String,
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The canonical body.
    pub body: Vec<u8>,
    /// Its leaf hash.
    pub leaf: Hash,
    /// Unix seconds at integration.
    pub integrated_time: i64,
    /// Search keys (hashed by the caller).
    pub keys: Vec<[u8; 32]>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// Its index.
    pub index: u64,
    /// The canonical body.
    pub body: Vec<u8>,
    /// Unix seconds at integration.
    pub integrated_time: i64,
}

/// One sequenced batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The index of the first entry (the stored size before the batch).
    pub first: u64,
    /// The entries, in index order.
    pub entries: Vec<NewEntry>,
    /// Every tile that changed: `(level, index, hashes)`.
    pub tiles: Vec<(u8, u64, Vec<Hash>)>,
    /// The signed head of the tree after the batch.
    pub head: Head,
}

/// Why storage failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot take writes or answer now (disk full, read-only, database gone).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A batch that does not continue the stored tree.
    #[error("the batch starts at {batch}, the stored tree has {stored} entries")]
    Conflict {
        /// The batch's first index.
        batch: u64,
        /// The stored size.
        stored: u64,
    },
    /// Stored data that does not decode.
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
}

/// What a log needs from storage.
pub trait LogStore: Send + Sync {
    /// The latest published signed head, `None` for a new log.
    fn head(&self) -> Result<Option<Head>, StoreError>;
    /// Entries stored (at least the head's size).
    fn size(&self) -> Result<u64, StoreError>;
    /// Appends a batch atomically and durably.
    fn append(&self, batch: &Batch) -> Result<(), StoreError>;
    /// Publishes a signed head for the stored size (never smaller than the current head).
    fn publish(&self, head: &Head) -> Result<(), StoreError>;
    /// Entries `start..start+count` that exist.
    fn entries(&self, start: u64, count: u64) -> Result<Vec<StoredEntry>, StoreError>;
    /// The index of the entry with this leaf hash.
    fn find_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError>;
    /// [`find_leaf`](Self::find_leaf) for many leaves at once (one round trip where it matters).
    fn find_leaves(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        leaves.iter().map(|l| self.find_leaf(l)).collect()
    }
    /// A tile's hashes (empty when absent).
    fn tile(&self, level: u8, index: u64) -> Result<Vec<Hash>, StoreError>;
    /// Indexes of entries carrying a search key, ascending, at most `limit`.
    fn search(&self, key: &[u8; 32], limit: usize) -> Result<Vec<u64>, StoreError>;
    /// Whether the store only serves reads (an embedded log on a read-only directory).
    fn read_only(&self) -> bool {
        false
    }
    /// Whether calls are fast local reads that may run on an async worker (an embedded file),
    /// rather than network round trips that belong on a blocking thread.
    fn is_local(&self) -> bool {
        false
    }
    /// Every search-index row: the stored key prefix and the entry index (for migrations).
    fn search_rows(&self) -> Result<Vec<(Vec<u8>, u64)>, StoreError>;
    /// A human name of the backend (`embedded`, `postgres`).
    fn backend(&self) -> &'static str;
}

/// Copies a whole log from one store to another, empty one (embedded to PostgreSQL, or back
/// for a backup): entries, tiles (rebuilt from the bodies and checked against the signed
/// root) and search rows, in transactions of `chunk` entries; the signed head goes with the
/// last one. Returns the number of entries copied.
pub fn migrate(from: &dyn LogStore, to: &dyn LogStore, chunk: u64) -> Result<u64, StoreError> {
    let Some(head) = from.head()? else {
        return Ok(0);
    };
    let target = to.size()?;
    if target != 0 {
        return Err(StoreError::Conflict {
            batch: 0,
            stored: target,
        });
    }
    let mut keys: std::collections::HashMap<u64, Vec<[u8; 32]>> = Default::default();
    for (prefix, index) in from.search_rows()? {
        let mut k = [0u8; 32];
        let n = prefix.len().min(32);
        k[..n].copy_from_slice(&prefix[..n]);
        keys.entry(index).or_default().push(k);
    }
    let mut edge = sigil_tlog::tiles::Edge::default();
    let mut done = 0;
    while done < head.size {
        let entries = from.entries(done, chunk.max(1).min(head.size - done))?;
        if entries.is_empty() || entries[0].index != done {
            return Err(StoreError::Corrupt(format!("entry {done} is missing")));
        }
        let new: Vec<NewEntry> = entries
            .iter()
            .map(|e| NewEntry {
                leaf: sigil_tlog::merkle::leaf_hash(&e.body),
                body: e.body.clone(),
                integrated_time: e.integrated_time,
                keys: keys.remove(&e.index).unwrap_or_default(),
            })
            .collect();
        let leaves: Vec<Hash> = new.iter().map(|e| e.leaf).collect();
        let tiles = edge.append(&leaves);
        let size = done + new.len() as u64;
        // Intermediate heads are placeholders (no checkpoint); a log opened on them re-signs.
        let batch_head = if size == head.size {
            head.clone()
        } else {
            Head {
                size,
                root: [0; 32],
                checkpoint: String::new(),
            }
        };
        to.append(&Batch {
            first: done,
            entries: new,
            tiles,
            head: batch_head,
        })?;
        done = size;
    }
    let cache = TileCache::new(64);
    let root = sigil_tlog::tiles::tree_root(&StoreTiles::new(to, &cache), head.size)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if root != head.root {
        return Err(StoreError::Corrupt(
            "the copied tree's root is not the signed root".into(),
        ));
    }
    Ok(done)
}

/// Entries in chunks keyed by their first index, each entry `i64 integrated time ‖ u32 length ‖
/// body`, stored deflate-compressed (a tag byte says how). A chunk grows to
/// [`CHUNK_RAW_BYTES`], which compresses to about one 4 KiB page for typical entries (base64
/// keys, certificates and signatures compress by a quarter or more): few large values, no
/// per-entry key overhead, no power-of-two slack.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entry_chunks");
/// Uncompressed size at which a chunk is closed.
const CHUNK_RAW_BYTES: usize = 7600;
/// Largest uncompressed chunk accepted when reading (a single entry may exceed the target).
const MAX_CHUNK_RAW: u64 = 16 * 1024 * 1024;

/// A chunk as stored: `1 ‖ deflate(raw)` when that is smaller, else `0 ‖ raw`.
fn pack_chunk(raw: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::DeflateEncoder::new(vec![1u8], flate2::Compression::fast());
    if enc.write_all(raw).is_ok()
        && let Ok(c) = enc.finish()
        && c.len() < raw.len() + 1
    {
        return c;
    }
    let mut v = Vec::with_capacity(raw.len() + 1);
    v.push(0);
    v.extend_from_slice(raw);
    v
}

/// The raw bytes of a stored chunk.
fn unpack_chunk(first: u64, v: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Read as _;
    match v.split_first() {
        Some((0, raw)) => Ok(raw.to_vec()),
        Some((1, packed)) => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(packed)
                .take(MAX_CHUNK_RAW + 1)
                .read_to_end(&mut out)
                .map_err(|e| StoreError::Corrupt(format!("entry chunk {first}: {e}")))?;
            if out.len() as u64 > MAX_CHUNK_RAW {
                return Err(StoreError::Corrupt(format!(
                    "entry chunk {first} is too large"
                )));
            }
            Ok(out)
        }
        _ => Err(StoreError::Corrupt(format!(
            "entry chunk {first} has an unknown format"
        ))),
    }
}
/// Stores written before the run index: leaf-hash prefix to index (read once, to convert).
const LEAVES: TableDefinition<&[u8], u64> = TableDefinition::new("leaves");

fn encode_entry(out: &mut Vec<u8>, integrated_time: i64, body: &[u8]) {
    out.extend_from_slice(&integrated_time.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// The entries of the chunk starting at `first` (index, time, body), in order.
fn decode_chunk(first: u64, mut v: &[u8]) -> Result<Vec<StoredEntry>, StoreError> {
    let bundle = first;
    let mut out = Vec::new();
    let mut index = first;
    while !v.is_empty() {
        if v.len() < 12 {
            return Err(StoreError::Corrupt(format!(
                "entry chunk {bundle} is truncated"
            )));
        }
        let time = i64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
        let len = u32::from_be_bytes(v[8..12].try_into().expect("4 bytes")) as usize;
        if v.len() < 12 + len {
            return Err(StoreError::Corrupt(format!(
                "entry chunk {bundle} is truncated"
            )));
        }
        out.push(StoredEntry {
            index,
            integrated_time: time,
            body: v[12..12 + len].to_vec(),
        });
        index += 1;
        v = &v[12 + len..];
    }
    Ok(out)
}
const TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("tiles");
/// Stores written before the run index: search-key prefix to indexes (read once, to convert).
const SEARCH: MultimapTableDefinition<&[u8], u64> = MultimapTableDefinition::new("search");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The key rows of entries not yet in an index run, one row per batch (keyed by its first
/// index, so that inserts append): per entry, `leaf prefix ‖ u32 count ‖ search prefixes`.
const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("index_journal");

/// The 128-bit prefix of a leaf hash or search-key hash that the index keeps (at least 16
/// bytes in).
fn prefix(k: &[u8]) -> Key {
    let mut p = Key::default();
    let n = p.len();
    p.copy_from_slice(&k[..n]);
    p
}

fn encode_journal(rows: &[EntryKeys]) -> Vec<u8> {
    let mut v = Vec::new();
    for e in rows {
        v.extend_from_slice(&e.leaf);
        v.extend_from_slice(&(e.search.len() as u32).to_be_bytes());
        for k in &e.search {
            v.extend_from_slice(k);
        }
    }
    v
}

fn decode_journal(first: u64, mut v: &[u8], out: &mut Vec<EntryKeys>) -> Result<(), StoreError> {
    let bad = || StoreError::Corrupt(format!("index journal row {first} is truncated"));
    let mut index = first;
    while !v.is_empty() {
        let head = v.get(..20).ok_or_else(bad)?;
        let n = u32::from_be_bytes(head[16..20].try_into().expect("4 bytes")) as usize;
        let keys = v
            .get(20..20 + n.checked_mul(16).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        out.push(EntryKeys {
            index,
            leaf: prefix(head),
            search: keys.chunks_exact(16).map(prefix).collect(),
        });
        v = &v[20 + n * 16..];
        index += 1;
    }
    Ok(())
}

/// Refuses a key index that lost its runs: the entries below the journal's first (or below the
/// stored size, when the journal is empty) must be covered by runs.
fn check_index(
    dir: &Path,
    covered: u64,
    first_journaled: Option<u64>,
    size: u64,
) -> Result<(), StoreError> {
    let needed = first_journaled.unwrap_or(size).min(size);
    if covered < needed {
        return Err(StoreError::Corrupt(format!(
            "{}: the key index covers the entries below {covered}, the journal starts at \
             {needed}: index runs are missing (restore the index directory from the same \
             backup as log.redb)",
            dir.join("index").display()
        )));
    }
    Ok(())
}

/// A table that a store may lack: `None` when it does.
fn legacy_table<T>(t: Result<T, redb::TableError>) -> Result<Option<T>, StoreError> {
    match t {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

/// The journaled key rows, and the rows of a store written before the run index (its B-tree
/// tables), grouped by entry.
fn read_keys(r: &ReadTransaction) -> Result<(Vec<EntryKeys>, Vec<EntryKeys>), StoreError> {
    let mut journal = Vec::new();
    if let Some(t) = legacy_table(r.open_table(JOURNAL))? {
        for item in t.iter().map_err(unavailable)? {
            let (k, v) = item.map_err(unavailable)?;
            decode_journal(k.value(), v.value(), &mut journal)?;
        }
    }
    let mut legacy: std::collections::BTreeMap<u64, EntryKeys> = Default::default();
    fn entry(m: &mut std::collections::BTreeMap<u64, EntryKeys>, i: u64) -> &mut EntryKeys {
        m.entry(i).or_insert_with(|| EntryKeys {
            index: i,
            leaf: [0; 16],
            search: Vec::new(),
        })
    }
    let key = |k: &[u8], what: &str| -> Result<Key, StoreError> {
        if k.len() != 16 {
            return Err(StoreError::Corrupt(format!(
                "a {what} index key is not 16 bytes"
            )));
        }
        Ok(prefix(k))
    };
    if let Some(t) = legacy_table(r.open_table(LEAVES))? {
        for item in t.iter().map_err(unavailable)? {
            let (k, v) = item.map_err(unavailable)?;
            entry(&mut legacy, v.value()).leaf = key(k.value(), "leaf")?;
        }
    }
    if let Some(t) = legacy_table(r.open_multimap_table(SEARCH))? {
        for item in t.iter().map_err(unavailable)? {
            let (k, vs) = item.map_err(unavailable)?;
            let k = key(k.value(), "search")?;
            for v in vs {
                entry(&mut legacy, v.map_err(unavailable)?.value())
                    .search
                    .push(k);
            }
        }
    }
    Ok((journal, legacy.into_values().collect()))
}

/// The embedded store: one redb file, `log.redb`, in the data directory.
///
/// After a failed write (a full or read-only disk), redb refuses further writes on the same
/// handle; the store then reopens the file before the next write, which recovers it to the last
/// committed transaction. Until a reopen succeeds, operations answer [`StoreError::Unavailable`].
///
/// A data directory that cannot be written at all (a read-only mount or permissions) is opened
/// read-only: reads are served, every write answers [`StoreError::Unavailable`].
pub struct Embedded {
    db: std::sync::RwLock<Option<Arc<Handle>>>,
    keys: Arc<KeyIndex>,
    failed: std::sync::atomic::AtomicBool,
    path: PathBuf,
    read_only: bool,
}

/// An open database: read-write, or read-only when the directory cannot be written.
enum Handle {
    ReadWrite(Database),
    ReadOnly(ReadOnlyDatabase),
}

impl Handle {
    fn begin_read(&self) -> Result<ReadTransaction, redb::TransactionError> {
        match self {
            Self::ReadWrite(db) => db.begin_read(),
            Self::ReadOnly(db) => db.begin_read(),
        }
    }

    fn writable(&self) -> Result<&Database, StoreError> {
        match self {
            Self::ReadWrite(db) => Ok(db),
            Self::ReadOnly(_) => Err(StoreError::Unavailable(
                "the data directory is read-only: this log serves reads only".into(),
            )),
        }
    }
}

/// Whether opening for writing failed because the file system or the permissions forbid it.
fn is_read_only_error(e: &redb::DatabaseError) -> bool {
    match e {
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => {
            io.kind() == std::io::ErrorKind::PermissionDenied
                || io.kind() == std::io::ErrorKind::ReadOnlyFilesystem
        }
        _ => false,
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn encode_head(h: &Head) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + h.checkpoint.len());
    v.extend_from_slice(&h.size.to_be_bytes());
    v.extend_from_slice(&h.root);
    v.extend_from_slice(h.checkpoint.as_bytes());
    v
}

fn decode_head(v: &[u8]) -> Result<Head, StoreError> {
    if v.len() < 40 {
        return Err(StoreError::Corrupt("the stored head is truncated".into()));
    }
    let size = u64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
    let root: Hash = v[8..40].try_into().expect("32 bytes");
    let checkpoint = String::from_utf8(v[40..].to_vec())
        .map_err(|_| StoreError::Corrupt("the stored checkpoint is not UTF-8".into()))?;
    Ok(Head {
        size,
        root,
        checkpoint,
    })
}

/// Tile hashes as bytes and back.
pub fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flatten().copied().collect()
}

/// Tile bytes as hashes; a length that is not a multiple of 32 is corrupt.
pub fn tile_hashes(bytes: &[u8]) -> Result<Vec<Hash>, StoreError> {
    if bytes.len() % 32 != 0 {
        return Err(StoreError::Corrupt(format!(
            "a tile of {} bytes",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect())
}

impl Embedded {
    /// Opens (or creates) the store in `dir`. When the directory cannot be written but holds a
    /// log, the log is opened read-only (see [`Embedded::is_read_only`]).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, IndexOptions::default())
    }

    /// [`open`](Self::open) with the key index kept as `options` says.
    pub fn open_with(dir: &Path, options: IndexOptions) -> Result<Self, StoreError> {
        let path = dir.join("log.redb");
        let created = std::fs::create_dir_all(dir)
            .map_err(|e| redb::DatabaseError::Storage(redb::StorageError::Io(e)))
            .and_then(|()| Database::create(&path));
        let db = match created {
            Ok(db) => db,
            Err(e) if is_read_only_error(&e) && path.is_file() => {
                let db = ReadOnlyDatabase::open(&path).map_err(|e2| match e2 {
                    redb::DatabaseError::RepairAborted => unavailable(format!(
                        "{}: {e}; it cannot be opened read-only either: it was not closed \
                         cleanly and needs a repair, which needs write access (start the log \
                         once with the directory writable)",
                        path.display()
                    )),
                    e2 => unavailable(format!("{}: {e}; read-only: {e2}", path.display())),
                })?;
                // The tables must be there already: a read-only log cannot create them.
                let r = db.begin_read().map_err(unavailable)?;
                r.open_table(META)
                    .map_err(|e| unavailable(format!("{}: {e}", path.display())))?;
                let (mut journal, legacy) = read_keys(&r)?;
                let size = read_size(&r.open_table(META).map_err(unavailable)?)?;
                drop(r);
                // A store from before the run index keeps its rows in B-trees: held in memory.
                journal.extend(legacy);
                let first = journal.iter().map(|e| e.index).min();
                let keys = KeyIndex::open(&dir.join("index"), options, false, journal)?;
                check_index(dir, keys.covered(), first, size)?;
                return Ok(Self {
                    db: std::sync::RwLock::new(Some(Arc::new(Handle::ReadOnly(db)))),
                    keys,
                    failed: std::sync::atomic::AtomicBool::new(false),
                    path,
                    read_only: true,
                });
            }
            Err(e) => return Err(unavailable(format!("{}: {e}", path.display()))),
        };
        let w = db.begin_write().map_err(unavailable)?;
        {
            w.open_table(ENTRIES).map_err(unavailable)?;
            w.open_table(TILES).map_err(unavailable)?;
            w.open_table(META).map_err(unavailable)?;
            w.open_table(JOURNAL).map_err(unavailable)?;
        }
        w.commit().map_err(unavailable)?;
        let r = db.begin_read().map_err(unavailable)?;
        let (journal, legacy) = read_keys(&r)?;
        let size = read_size(&r.open_table(META).map_err(unavailable)?)?;
        drop(r);
        let first = journal.iter().chain(&legacy).map(|e| e.index).min();
        let keys = KeyIndex::open(&dir.join("index"), options, true, journal)?;
        if !legacy.is_empty() {
            // A store from before the run index: its B-tree rows become runs, then go.
            keys.import(&legacy)?;
            let w = db.begin_write().map_err(unavailable)?;
            w.delete_table(LEAVES).map_err(unavailable)?;
            w.delete_multimap_table(SEARCH).map_err(unavailable)?;
            w.commit().map_err(unavailable)?;
        }
        check_index(dir, keys.covered(), first, size)?;
        Ok(Self {
            db: std::sync::RwLock::new(Some(Arc::new(Handle::ReadWrite(db)))),
            keys,
            failed: std::sync::atomic::AtomicBool::new(false),
            path,
            read_only: false,
        })
    }

    /// Whether the store was opened read-only (its directory cannot be written).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The database handle, reopened first when a write failed or none is open. A failed write
    /// leaves redb's handle refusing reads too ("previous I/O error"), so reads reopen it as
    /// writes do: the file holds the last committed transaction. When it cannot be opened for
    /// writing (the disk is still full), reads are served from a read-only handle until a
    /// write (which always tries to reopen for writing) succeeds.
    fn handle(&self, for_write: bool) -> Result<Arc<Handle>, StoreError> {
        use std::sync::atomic::Ordering;
        // A read-only handle standing in after a failed write (not a read-only directory).
        let stand_in = |h: &Handle| !self.read_only && matches!(h, Handle::ReadOnly(_));
        let usable = |h: &Arc<Handle>| {
            !self.failed.load(Ordering::Acquire) || self.read_only || (!for_write && stand_in(h))
        };
        if let Some(db) = self
            .db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && usable(db)
        {
            return Ok(db.clone());
        }
        let mut slot = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(db) = slot.as_ref()
            && usable(db)
        {
            return Ok(db.clone());
        }
        // Drop the old handle (and its file lock) before opening again; wait for readers.
        if let Some(old) = slot.take() {
            let mut old = old;
            for _ in 0..1000 {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(a) => {
                        old = a;
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            }
        }
        match Database::create(&self.path) {
            Ok(db) => {
                let db = Arc::new(Handle::ReadWrite(db));
                *slot = Some(db.clone());
                self.failed.store(false, Ordering::Release);
                Ok(db)
            }
            Err(e) => {
                let e = format!("reopening {}: {e}", self.path.display());
                // Reads go on from the last commit meanwhile.
                match ReadOnlyDatabase::open(&self.path) {
                    Ok(ro) => {
                        let ro = Arc::new(Handle::ReadOnly(ro));
                        *slot = Some(ro.clone());
                        if for_write {
                            Err(unavailable(e))
                        } else {
                            Ok(ro)
                        }
                    }
                    Err(e2) => Err(unavailable(format!("{e} (read-only: {e2})"))),
                }
            }
        }
    }

    /// Runs a write, marking the handle for reopening when it fails.
    fn write<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let handle = self.handle(true)?;
        let r = f(handle.writable()?);
        if matches!(r, Err(StoreError::Unavailable(_))) {
            self.failed
                .store(true, std::sync::atomic::Ordering::Release);
        }
        r
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_size(t: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<u64, StoreError> {
    match t.get("size").map_err(unavailable)? {
        None => Ok(0),
        Some(v) => {
            let b: [u8; 8] = v
                .value()
                .try_into()
                .map_err(|_| StoreError::Corrupt("the stored size is not 8 bytes".into()))?;
            Ok(u64::from_be_bytes(b))
        }
    }
}

impl LogStore for Embedded {
    fn read_only(&self) -> bool {
        self.read_only
    }

    fn head(&self) -> Result<Option<Head>, StoreError> {
        let db = self.handle(false)?;
        let r = db.begin_read().map_err(unavailable)?;
        let t = r.open_table(META).map_err(unavailable)?;
        match t.get("head").map_err(unavailable)? {
            None => Ok(None),
            Some(v) => decode_head(v.value()).map(Some),
        }
    }

    fn size(&self) -> Result<u64, StoreError> {
        let db = self.handle(false)?;
        let r = db.begin_read().map_err(unavailable)?;
        let t = r.open_table(META).map_err(unavailable)?;
        read_size(&t)
    }

    fn publish(&self, head: &Head) -> Result<(), StoreError> {
        self.write(|db| {
            let w = db.begin_write().map_err(unavailable)?;
            {
                let mut meta = w.open_table(META).map_err(unavailable)?;
                let stored = read_size(&meta)?;
                let current = match meta.get("head").map_err(unavailable)? {
                    None => 0,
                    Some(v) => decode_head(v.value())?.size,
                };
                if head.size != stored || head.size < current {
                    return Err(StoreError::Conflict {
                        batch: head.size,
                        stored,
                    });
                }
                meta.insert("head", encode_head(head).as_slice())
                    .map_err(unavailable)?;
            }
            w.commit().map_err(unavailable)
        })
    }

    fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        // The batch's key rows: journaled in its transaction, then handed to the index.
        let rows: Vec<EntryKeys> = batch
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| EntryKeys {
                index: batch.first + i as u64,
                leaf: prefix(&e.leaf),
                search: e.keys.iter().map(|k| prefix(k)).collect(),
            })
            .collect();
        self.write(|db| {
            let w = db.begin_write().map_err(unavailable)?;
            {
                let mut meta = w.open_table(META).map_err(unavailable)?;
                let stored = read_size(&meta)?;
                if stored != batch.first
                    || batch.head.size != batch.first + batch.entries.len() as u64
                {
                    return Err(StoreError::Conflict {
                        batch: batch.first,
                        stored,
                    });
                }
                let mut entries = w.open_table(ENTRIES).map_err(unavailable)?;
                let mut journal = w.open_table(JOURNAL).map_err(unavailable)?;
                // Rows already written to index runs leave the journal.
                let covered = self.keys.covered();
                if journal
                    .first()
                    .map_err(unavailable)?
                    .is_some_and(|(k, _)| k.value() < covered)
                {
                    journal
                        .retain_in(..covered, |_, _| false)
                        .map_err(unavailable)?;
                }
                journal
                    .insert(batch.first, encode_journal(&rows).as_slice())
                    .map_err(unavailable)?;
                // The last chunk grows until it is about a page; then a new one starts. The
                // open chunk is stored uncompressed, so that each chunk is compressed once,
                // when it closes, rather than on every batch that extends it.
                let last = match entries.last().map_err(unavailable)? {
                    Some((k, v)) => Some((
                        k.value(),
                        v.value().first() == Some(&0),
                        unpack_chunk(k.value(), v.value())?,
                    )),
                    None => None,
                };
                let (mut chunk, mut buf) = match last {
                    Some((k, stored_raw, raw)) => {
                        if raw.len() < CHUNK_RAW_BYTES {
                            (k, raw)
                        } else {
                            if stored_raw {
                                entries
                                    .insert(k, pack_chunk(&raw).as_slice())
                                    .map_err(unavailable)?;
                            }
                            (batch.first, Vec::new())
                        }
                    }
                    None => (batch.first, Vec::new()),
                };
                for (i, e) in batch.entries.iter().enumerate() {
                    let index = batch.first + i as u64;
                    if !buf.is_empty() && buf.len() + 12 + e.body.len() > CHUNK_RAW_BYTES {
                        entries
                            .insert(chunk, pack_chunk(&buf).as_slice())
                            .map_err(unavailable)?;
                        buf.clear();
                        chunk = index;
                    }
                    encode_entry(&mut buf, e.integrated_time, &e.body);
                }
                if !buf.is_empty() {
                    let mut open = Vec::with_capacity(buf.len() + 1);
                    open.push(0);
                    open.extend_from_slice(&buf);
                    entries
                        .insert(chunk, open.as_slice())
                        .map_err(unavailable)?;
                }
                let mut tiles = w.open_table(TILES).map_err(unavailable)?;
                // A partial level-0 tile is the leaf hashes of the last entries: it is derived
                // from them when read (see `tile`) rather than rewritten, 8 KiB at most, by
                // every batch.
                for (level, index, hashes) in batch
                    .tiles
                    .iter()
                    .filter(|(l, _, h)| *l > 0 || h.len() as u64 == sigil_tlog::tiles::TILE_WIDTH)
                {
                    tiles
                        .insert((*level, *index), tile_bytes(hashes).as_slice())
                        .map_err(unavailable)?;
                }
                let size = batch.first + batch.entries.len() as u64;
                meta.insert("size", &size.to_be_bytes()[..])
                    .map_err(unavailable)?;
                meta.insert("head", encode_head(&batch.head).as_slice())
                    .map_err(unavailable)?;
            }
            w.commit().map_err(unavailable)
        })?;
        // The batch is durable. Its rows join the index; when that writes a run and the run
        // fails (a full disk), the rows stay in memory and the journal, and the next batch
        // tries again: the append itself stands.
        let _ = self.keys.committed(&rows);
        Ok(())
    }

    fn entries(&self, start: u64, count: u64) -> Result<Vec<StoredEntry>, StoreError> {
        let end = start.saturating_add(count);
        if count == 0 {
            return Ok(Vec::new());
        }
        let db = self.handle(false)?;
        let r = db.begin_read().map_err(unavailable)?;
        let t = r.open_table(ENTRIES).map_err(unavailable)?;
        // The chunk holding `start` begins at or before it.
        let from = match t.range(..=start).map_err(unavailable)?.next_back() {
            Some(item) => item.map_err(unavailable)?.0.value(),
            None => start,
        };
        let mut out = Vec::new();
        for item in t.range(from..end).map_err(unavailable)? {
            let (k, v) = item.map_err(unavailable)?;
            let raw = unpack_chunk(k.value(), v.value())?;
            out.extend(
                decode_chunk(k.value(), &raw)?
                    .into_iter()
                    .filter(|e| e.index >= start && e.index < end),
            );
        }
        Ok(out)
    }

    fn find_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        self.keys.find_leaf(&prefix(leaf))
    }

    fn tile(&self, level: u8, index: u64) -> Result<Vec<Hash>, StoreError> {
        let db = self.handle(false)?;
        let r = db.begin_read().map_err(unavailable)?;
        let t = r.open_table(TILES).map_err(unavailable)?;
        let stored = match t.get((level, index)).map_err(unavailable)? {
            None => Vec::new(),
            Some(v) => tile_hashes(v.value())?,
        };
        if level > 0 || stored.len() as u64 == sigil_tlog::tiles::TILE_WIDTH {
            return Ok(stored);
        }
        // The partial level-0 tile: the leaf hashes of the entries it covers.
        drop(t);
        drop(r);
        let width = sigil_tlog::tiles::TILE_WIDTH;
        Ok(self
            .entries(index.saturating_mul(width), width)?
            .iter()
            .map(|e| sigil_tlog::merkle::leaf_hash(&e.body))
            .collect())
    }

    fn search(&self, key: &[u8; 32], limit: usize) -> Result<Vec<u64>, StoreError> {
        self.keys.search(&prefix(key), limit)
    }

    fn search_rows(&self) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        Ok(self
            .keys
            .search_rows()?
            .into_iter()
            .map(|(k, i)| (k.to_vec(), i))
            .collect())
    }

    fn is_local(&self) -> bool {
        true
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }
}

/// A [`sigil_tlog::tiles::TileSource`] over a store, with full tiles (immutable) cached in memory.
pub struct StoreTiles<'a> {
    store: &'a dyn LogStore,
    cache: &'a TileCache,
}

impl<'a> StoreTiles<'a> {
    /// Tiles of `store` through `cache`.
    pub fn new(store: &'a dyn LogStore, cache: &'a TileCache) -> Self {
        Self { store, cache }
    }
}

type TileMap = std::collections::HashMap<(u8, u64), Arc<Vec<Hash>>>;

/// A bounded cache of full tiles, of subtree hashes computed from them, and of the right edge
/// (the latest partial tile of each level, kept current by the log's writer).
pub struct TileCache {
    map: std::sync::Mutex<TileMap>,
    edge: std::sync::RwLock<TileMap>,
    subtrees: std::sync::Mutex<std::collections::HashMap<(u8, u64), Hash>>,
    capacity: usize,
}

impl TileCache {
    /// Holds at most `capacity` tiles (8 KiB each).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Default::default(),
            edge: Default::default(),
            subtrees: Default::default(),
            capacity,
        }
    }

    /// Remembers a full tile.
    pub fn insert(&self, level: u8, index: u64, hashes: Arc<Vec<Hash>>) {
        if hashes.len() as u64 != sigil_tlog::tiles::TILE_WIDTH {
            return;
        }
        let mut m = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= self.capacity {
            // Cheap eviction: forget everything below the top levels' working set.
            m.retain(|(l, _), _| *l > 0);
            if m.len() >= self.capacity {
                m.clear();
            }
        }
        m.insert((level, index), hashes);
    }

    /// Records the tiles a commit changed: full ones join the cache of immutable tiles, partial
    /// ones become the edge (tiles only grow, so a reader of an older tree size finds every
    /// hash it needs in them). A tile that became full leaves the edge.
    pub fn committed(&self, tiles: &[(u8, u64, Vec<Hash>)]) {
        let mut e = self
            .edge
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (level, index, hashes) in tiles {
            let t = Arc::new(hashes.clone());
            e.retain(|(l, i), _| !(*l == *level && *i <= *index));
            if (hashes.len() as u64) < sigil_tlog::tiles::TILE_WIDTH {
                e.insert((*level, *index), t);
            } else {
                self.insert(*level, *index, t);
            }
        }
    }

    fn get(&self, level: u8, index: u64) -> Option<Arc<Vec<Hash>>> {
        if let Some(t) = self
            .edge
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(level, index))
        {
            return Some(t.clone());
        }
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(level, index))
            .cloned()
    }
}

impl sigil_tlog::tiles::TileSource for StoreTiles<'_> {
    fn cached_subtree(&self, height: u8, index: u64) -> Option<Hash> {
        self.cache
            .subtrees
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(height, index))
            .copied()
    }

    fn remember_subtree(&self, height: u8, index: u64, hash: Hash) {
        let mut m = self
            .cache
            .subtrees
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= self.cache.capacity * 16 {
            m.clear();
        }
        m.insert((height, index), hash);
    }

    fn tile(&self, level: u8, index: u64) -> Result<Arc<Vec<Hash>>, sigil_tlog::tiles::TileError> {
        if let Some(t) = self.cache.get(level, index) {
            return Ok(t);
        }
        let t = Arc::new(self.store.tile(level, index).map_err(|e| {
            sigil_tlog::tiles::TileError::Storage {
                level,
                index,
                detail: e.to_string(),
            }
        })?);
        self.cache.insert(level, index, t.clone());
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first: u64, n: u64) -> Batch {
        let entries: Vec<NewEntry> = (first..first + n)
            .map(|i| NewEntry {
                body: format!("{{\"i\":{i}}}").into_bytes(),
                leaf: sigil_tlog::merkle::leaf_hash(format!("{{\"i\":{i}}}").as_bytes()),
                integrated_time: 1,
                keys: vec![[7u8; 32]],
            })
            .collect();
        Batch {
            first,
            entries,
            tiles: Vec::new(),
            head: Head {
                size: first + n,
                root: [0; 32],
                checkpoint: String::new(),
            },
        }
    }

    /// What a closed store holds: each entry chunk's format tag, and the journal's batch keys.
    struct OnDisk {
        chunk_tags: Vec<u8>,
        journal: Vec<u64>,
    }

    fn on_disk(dir: &Path) -> OnDisk {
        let db = Database::create(dir.join("log.redb")).unwrap();
        let r = db.begin_read().unwrap();
        let rows = |t: TableDefinition<u64, &[u8]>| -> Vec<(u64, u8)> {
            r.open_table(t)
                .unwrap()
                .iter()
                .unwrap()
                .map(|x| {
                    let (k, v) = x.unwrap();
                    (k.value(), v.value().first().copied().unwrap_or(0))
                })
                .collect()
        };
        OnDisk {
            chunk_tags: rows(ENTRIES).into_iter().map(|(_, t)| t).collect(),
            journal: rows(JOURNAL).into_iter().map(|(k, _)| k).collect(),
        }
    }

    #[test]
    fn a_store_written_before_the_run_index_is_converted_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(0, 3);
        Embedded::open(dir.path()).unwrap().append(&b).unwrap();
        // Rewrite it as the B-tree index kept its rows: no journal, no runs.
        std::fs::remove_dir_all(dir.path().join("index")).unwrap();
        {
            let db = Database::create(dir.path().join("log.redb")).unwrap();
            let w = db.begin_write().unwrap();
            {
                w.open_table(JOURNAL).unwrap().retain(|_, _| false).unwrap();
                let mut leaves = w.open_table(LEAVES).unwrap();
                let mut search = w.open_multimap_table(SEARCH).unwrap();
                for (i, e) in b.entries.iter().enumerate() {
                    leaves.insert(&e.leaf[..16], i as u64).unwrap();
                    search.insert(&[7u8; 16][..], i as u64).unwrap();
                }
            }
            w.commit().unwrap();
        }
        let store = Embedded::open(dir.path()).unwrap();
        assert_eq!(store.find_leaf(&b.entries[2].leaf).unwrap(), Some(2));
        assert_eq!(store.search(&[7u8; 32], 10).unwrap(), vec![0, 1, 2]);
        // The old tables are gone; the rows live in runs and come back on the next open.
        drop(store);
        {
            let db = Database::create(dir.path().join("log.redb")).unwrap();
            let r = db.begin_read().unwrap();
            assert!(matches!(
                r.open_table(LEAVES),
                Err(redb::TableError::TableDoesNotExist(_))
            ));
        }
        let store = Embedded::open(dir.path()).unwrap();
        assert_eq!(store.find_leaf(&b.entries[0].leaf).unwrap(), Some(0));
        store.append(&batch(3, 2)).unwrap();
        assert_eq!(store.search(&[7u8; 32], 10).unwrap(), vec![0, 1, 2, 3, 4]);
    }

    proptest::proptest! {
        #[test]
        fn any_journal_row_decodes_or_is_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut out = Vec::new();
            match decode_journal(9, &bytes, &mut out) {
                Ok(()) => proptest::prop_assert!(out.iter().enumerate().all(|(i, e)| e.index == 9 + i as u64)),
                Err(e) => proptest::prop_assert!(matches!(e, StoreError::Corrupt(_))),
            }
        }
    }

    #[test]
    fn closed_chunks_are_compressed_once_and_the_open_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Embedded::open(dir.path()).unwrap();
        let body = |i: u64| format!("{{\"i\":{i},\"pad\":\"{}\"}}", "ab".repeat(250)).into_bytes();
        for b in 0..30u64 {
            let mut batch = batch(b * 3, 3);
            for (j, e) in batch.entries.iter_mut().enumerate() {
                e.body = body(b * 3 + j as u64);
            }
            store.append(&batch).unwrap();
        }
        let all = store.entries(0, 100).unwrap();
        assert_eq!(all.len(), 90);
        assert!(all.iter().all(|e| e.body == body(e.index)));
        drop(store);
        let tags = on_disk(dir.path()).chunk_tags;
        assert!(tags.len() > 5, "{tags:?}");
        let (open, closed) = tags.split_last().unwrap();
        assert_eq!(*open, 0, "the open chunk is stored as it is");
        assert!(closed.iter().all(|t| *t == 1), "{tags:?}");
    }

    #[test]
    fn the_journal_keeps_only_rows_not_yet_in_runs() {
        let dir = tempfile::tempdir().unwrap();
        let options = IndexOptions {
            flush_entries: 10,
            background: false,
        };
        let store = Embedded::open_with(dir.path(), options).unwrap();
        for i in 0..5 {
            store.append(&batch(i * 4, 4)).unwrap();
        }
        // 20 entries: runs hold the first 12 (flushed after the third batch), the journal the
        // rest once the next batch trimmed it.
        assert_eq!(store.keys.covered(), 12);
        drop(store);
        assert_eq!(on_disk(dir.path()).journal, vec![12, 16]);
        let store = Embedded::open_with(dir.path(), options).unwrap();
        assert_eq!(
            store.search(&[7u8; 32], 100).unwrap(),
            (0..20).collect::<Vec<_>>()
        );
        drop(store);
        // A copy of the data directory without its index runs is refused, not served with
        // searches that miss entries.
        std::fs::remove_dir_all(dir.path().join("index")).unwrap();
        let e = Embedded::open_with(dir.path(), options).err().unwrap();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("index runs are missing")),
            "{e}"
        );
    }
}

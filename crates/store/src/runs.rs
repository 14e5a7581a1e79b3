//! The embedded store's key index, written sequentially: an LSM tree in its simplest form.
//!
//! Leaf hashes and search keys are random, so a B-tree index dirties one page per inserted key
//! and the log's commits write (and sync) far more index pages than entry bytes. Here the rows
//! of recent entries live in memory (made durable by the store's journal, which is written in
//! index order). Every [`IndexOptions::flush_entries`] entries they are set aside, still
//! answering lookups, and a background thread writes them out as an immutable, sorted *run*
//! file per index. The same thread merges runs of about one size, [`MERGE_FAN_IN`] at a time,
//! so a lookup consults few of them. Each run keeps a Bloom filter
//! and the first key of every block in memory, so a lookup reads at most the blocks holding
//! its key, and a key a run does not hold costs no read at all.
//!
//! A run file is `MAGIC ‖ rows ‖ row count (u64 BE) ‖ SHA-256 of everything before it`, each
//! row `key (16 bytes) ‖ entry index (u64 BE)`, strictly ascending. The `MANIFEST` file names
//! the runs of each index and how many entries they cover; it is replaced atomically (written
//! beside, synced, renamed, directory synced), so a crash leaves the old set or the new one.
//! Files the manifest does not name are leftovers of an interrupted flush or merge, and are
//! removed when the store opens.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::log::StoreError;

/// A key: a 128-bit prefix of a leaf hash or of a search key's hash.
pub type Key = [u8; 16];

const MAGIC: &[u8; 8] = b"SIGRUN1\n";
const ROW: usize = 24;
/// Rows per block: one 4 KiB read.
const BLOCK_ROWS: usize = 170;
/// Runs of one size tier merged at once.
pub const MERGE_FAN_IN: usize = 4;
const BLOOM_BITS_PER_ROW: u64 = 10;
const BLOOM_PROBES: u64 = 7;
/// Rows written between two syncs of a run being written (about 4 MiB).
const SYNC_EVERY_ROWS: u64 = 174_763;
/// Largest run accepted (rows): 2^36 rows is 1.5 TiB.
const MAX_ROWS: u64 = 1 << 36;

/// How the index is kept.
#[derive(Debug, Clone, Copy)]
pub struct IndexOptions {
    /// Entries whose rows are held in memory before they are written out as a run.
    pub flush_entries: u64,
    /// Whether runs are written and merged by a background thread (off: at once, on the thread
    /// that filled the memory).
    pub background: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            flush_entries: 65_536,
            background: true,
        }
    }
}

fn corrupt(path: &Path, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{}: {what}", path.display()))
}

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {e}", path.display()))
}

fn row_at(b: &[u8]) -> (Key, u64) {
    let mut k = [0u8; 16];
    k.copy_from_slice(&b[..16]);
    let mut i = [0u8; 8];
    i.copy_from_slice(&b[16..24]);
    (k, u64::from_be_bytes(i))
}

/// A Bloom filter over keys that are already uniformly random (hash prefixes).
struct Bloom {
    bits: Vec<u64>,
}

impl Bloom {
    fn new(rows: u64) -> Self {
        let words = (rows * BLOOM_BITS_PER_ROW).div_ceil(64).max(1);
        Self {
            bits: vec![0; words as usize],
        }
    }

    fn probes(&self, key: &Key) -> impl Iterator<Item = usize> {
        let m = self.bits.len() as u64 * 64;
        let h1 = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
        let h2 = u64::from_le_bytes(key[8..].try_into().expect("8 bytes")) | 1;
        (0..BLOOM_PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }

    fn insert(&mut self, key: &Key) {
        let m = self.bits.len() as u64 * 64;
        let h1 = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
        let h2 = u64::from_le_bytes(key[8..].try_into().expect("8 bytes")) | 1;
        for i in 0..BLOOM_PROBES {
            let b = (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize;
            self.bits[b / 64] |= 1 << (b % 64);
        }
    }

    fn may_contain(&self, key: &Key) -> bool {
        self.probes(key)
            .all(|b| self.bits[b / 64] & (1 << (b % 64)) != 0)
    }
}

/// What a run's rows give its reader, built as they go by (written or read): the first key of
/// each block and the filter, with the order checked.
struct Shape {
    fences: Vec<Key>,
    bloom: Bloom,
    last: Option<(Key, u64)>,
    rows: u64,
}

impl Shape {
    /// For at most `max_rows` rows.
    fn new(max_rows: u64) -> Self {
        Self {
            fences: Vec::with_capacity((max_rows as usize).div_ceil(BLOCK_ROWS)),
            bloom: Bloom::new(max_rows),
            last: None,
            rows: 0,
        }
    }

    /// The next row of the run at `path`; it must follow the last one.
    fn push(&mut self, (k, i): (Key, u64), path: &Path) -> Result<(), StoreError> {
        if self.last.is_some_and(|l| l >= (k, i)) {
            return Err(corrupt(path, format!("row {} is out of order", self.rows)));
        }
        if self.rows as usize % BLOCK_ROWS == 0 {
            self.fences.push(k);
        }
        if self.last.is_none_or(|(lk, _)| lk != k) {
            self.bloom.insert(&k);
        }
        self.last = Some((k, i));
        self.rows += 1;
        Ok(())
    }

    fn run(self, id: u64, path: PathBuf, file: File) -> Run {
        Run {
            id,
            path,
            file,
            rows: self.rows,
            fences: self.fences,
            bloom: self.bloom,
        }
    }
}

/// One immutable sorted run.
struct Run {
    id: u64,
    path: PathBuf,
    file: File,
    rows: u64,
    /// The first key of every block.
    fences: Vec<Key>,
    bloom: Bloom,
}

impl Run {
    /// Opens a run, checking its checksum and order, and builds its fences and filter.
    fn open(path: PathBuf, id: u64) -> Result<Self, StoreError> {
        let file = File::open(&path).map_err(|e| io_err(&path, e))?;
        let len = file.metadata().map_err(|e| io_err(&path, e))?.len();
        let body = len
            .checked_sub((MAGIC.len() + 8 + 32) as u64)
            .filter(|b| b % ROW as u64 == 0)
            .ok_or_else(|| corrupt(&path, format!("a run file of {len} bytes")))?;
        let rows = body / ROW as u64;
        if rows > MAX_ROWS {
            return Err(corrupt(&path, "too many rows"));
        }
        let mut r = BufReader::with_capacity(1 << 16, &file);
        let mut hasher = sigil_crypto::hash::Hasher::new(sigil_crypto::HashAlgorithm::Sha256);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(|e| io_err(&path, e))?;
        if &magic != MAGIC {
            return Err(corrupt(&path, "not a sigil index run"));
        }
        hasher.update(&magic);
        let mut shape = Shape::new(rows);
        let mut row = [0u8; ROW];
        for _ in 0..rows {
            r.read_exact(&mut row).map_err(|e| io_err(&path, e))?;
            hasher.update(&row);
            shape.push(row_at(&row), &path)?;
        }
        let mut trailer = [0u8; 40];
        r.read_exact(&mut trailer).map_err(|e| io_err(&path, e))?;
        hasher.update(&trailer[..8]);
        if u64::from_be_bytes(trailer[..8].try_into().expect("8 bytes")) != rows
            || hasher.finish().as_bytes() != &trailer[8..]
        {
            return Err(corrupt(&path, "the checksum does not match"));
        }
        Ok(shape.run(id, path, file))
    }

    /// Appends the indexes stored under `key` (ascending) to `out`, up to `limit` in all.
    fn get(&self, key: &Key, limit: usize, out: &mut Vec<u64>) -> Result<(), StoreError> {
        if self.rows == 0 || !self.bloom.may_contain(key) {
            return Ok(());
        }
        // Rows of `key` may begin in the last block whose first key is smaller.
        let mut block = self.fences.partition_point(|f| f < key).saturating_sub(1);
        let mut buf = vec![0u8; BLOCK_ROWS * ROW];
        loop {
            let first = (block * BLOCK_ROWS) as u64;
            if first >= self.rows {
                return Ok(());
            }
            let n = (self.rows - first).min(BLOCK_ROWS as u64) as usize;
            let bytes = &mut buf[..n * ROW];
            self.file
                .read_exact_at(bytes, MAGIC.len() as u64 + first * ROW as u64)
                .map_err(|e| io_err(&self.path, e))?;
            for r in bytes.chunks_exact(ROW) {
                let (k, i) = row_at(r);
                if k < *key {
                    continue;
                }
                if k > *key || out.len() >= limit {
                    return Ok(());
                }
                out.push(i);
            }
            block += 1;
        }
    }

    /// Every row, in order (positional reads: runs are shared between threads).
    fn rows(&self) -> RunRows<'_> {
        RunRows {
            run: self,
            buf: Vec::new(),
            pos: 0,
            next: 0,
        }
    }
}

/// The rows of a run, read 64 KiB at a time.
struct RunRows<'a> {
    run: &'a Run,
    buf: Vec<u8>,
    pos: usize,
    /// The next row to read from the file.
    next: u64,
}

const READ_ROWS: u64 = 2730;

impl Iterator for RunRows<'_> {
    type Item = Result<(Key, u64), StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos == self.buf.len() {
            let n = (self.run.rows - self.next).min(READ_ROWS);
            if n == 0 {
                return None;
            }
            self.buf.resize(n as usize * ROW, 0);
            let at = MAGIC.len() as u64 + self.next * ROW as u64;
            if let Err(e) = self.run.file.read_exact_at(&mut self.buf, at) {
                self.next = self.run.rows;
                self.buf.clear();
                self.pos = 0;
                return Some(Err(io_err(&self.run.path, e)));
            }
            self.next += n;
            self.pos = 0;
        }
        let r = row_at(&self.buf[self.pos..self.pos + ROW]);
        self.pos += ROW;
        Some(Ok(r))
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Writes `rows` (ascending, distinct, at most `max_rows`) as run `id` in `dir`, durably, and
/// returns it open, with the fences and filter built as the rows went by.
fn write_run(
    dir: &Path,
    id: u64,
    max_rows: u64,
    rows: impl Iterator<Item = Result<(Key, u64), StoreError>>,
) -> Result<Run, StoreError> {
    let path = run_path(dir, id);
    let tmp = path.with_extension("tmp");
    let result = (|| {
        let mut shape = Shape::new(max_rows);
        let f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 16, &f);
        let mut hasher = sigil_crypto::hash::Hasher::new(sigil_crypto::HashAlgorithm::Sha256);
        let mut put = |w: &mut BufWriter<&File>, b: &[u8]| {
            hasher.update(b);
            w.write_all(b).map_err(|e| io_err(&tmp, e))
        };
        put(&mut w, MAGIC)?;
        let mut n = 0u64;
        for row in rows {
            let (k, i) = row?;
            shape.push((k, i), &tmp)?;
            let mut b = [0u8; ROW];
            b[..16].copy_from_slice(&k);
            b[16..].copy_from_slice(&i.to_be_bytes());
            put(&mut w, &b)?;
            n += 1;
            // Write back as we go: one large sync at the end would queue the whole run ahead
            // of the sequencer's next commit on the disk.
            if n % SYNC_EVERY_ROWS == 0 {
                w.flush()
                    .and_then(|()| w.get_ref().sync_data())
                    .map_err(|e| io_err(&tmp, e))?;
            }
        }
        put(&mut w, &n.to_be_bytes())?;
        w.write_all(hasher.finish().as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| io_err(&tmp, e))?;
        drop(w);
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        // The rename is durable before any manifest names the run.
        sync_dir(dir)?;
        let file = File::open(&path).map_err(|e| io_err(&path, e))?;
        Ok(shape.run(id, path.clone(), file))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Merges ascending row streams into one ascending stream without repeats.
fn merge_rows<'a>(
    mut sources: Vec<RunRows<'a>>,
) -> impl Iterator<Item = Result<(Key, u64), StoreError>> + 'a {
    let mut heads: Vec<Option<(Key, u64)>> = Vec::new();
    let mut failed: Option<StoreError> = None;
    for s in &mut sources {
        match s.next().transpose() {
            Ok(h) => heads.push(h),
            Err(e) => {
                failed.get_or_insert(e);
                heads.push(None);
            }
        }
    }
    let mut last: Option<(Key, u64)> = None;
    std::iter::from_fn(move || {
        loop {
            if let Some(e) = failed.take() {
                return Some(Err(e));
            }
            let (s, row) = heads
                .iter()
                .enumerate()
                .filter_map(|(s, h)| h.map(|r| (s, r)))
                .min_by_key(|(_, r)| *r)?;
            heads[s] = match sources[s].next().transpose() {
                Ok(h) => h,
                Err(e) => {
                    failed = Some(e);
                    None
                }
            };
            if last != Some(row) {
                last = Some(row);
                return Some(Ok(row));
            }
        }
    })
}

/// The runs of both indexes, as the manifest names them.
#[derive(Clone, Default)]
struct RunSet {
    leaves: Vec<Arc<Run>>,
    search: Vec<Arc<Run>>,
    /// Entries `0..covered` have their rows in these runs.
    covered: u64,
}

/// Rows of entries not yet written to a run.
#[derive(Default)]
struct Memory {
    leaves: HashMap<Key, u64>,
    search: HashMap<Key, Vec<u64>>,
    /// The entries held: `from..to`.
    from: u64,
    to: u64,
}

/// One entry's rows, as the store journals them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryKeys {
    /// The entry's index.
    pub index: u64,
    /// Its leaf-hash prefix.
    pub leaf: Key,
    /// Its search-key prefixes.
    pub search: Vec<Key>,
}

/// Both key indexes of an embedded store (leaf hashes, search keys) over one directory.
pub struct KeyIndex {
    dir: PathBuf,
    options: IndexOptions,
    writable: bool,
    memory: RwLock<Memory>,
    /// Rows moved out of memory, being written as runs.
    frozen: RwLock<Option<Arc<Memory>>>,
    runs: RwLock<Arc<RunSet>>,
    /// Held while the run set changes (flush, merge): one manifest writer at a time.
    changing: Mutex<u64>,
    merger: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

const MANIFEST: &str = "MANIFEST";
/// Largest manifest read: a few runs per size tier name far fewer bytes.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

impl KeyIndex {
    /// Opens the index in `dir` (created when writable), with the journaled rows of entries
    /// not yet in a run. Removes files the manifest does not name.
    pub fn open(
        dir: &Path,
        options: IndexOptions,
        writable: bool,
        journal: impl IntoIterator<Item = EntryKeys>,
    ) -> Result<Arc<Self>, StoreError> {
        if writable {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        let manifest = dir.join(MANIFEST);
        let (covered, leaves, search) = match File::open(&manifest) {
            Ok(f) => {
                let mut text = String::new();
                f.take(MAX_MANIFEST_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(|e| corrupt(&manifest, e))?;
                if text.len() as u64 > MAX_MANIFEST_BYTES {
                    return Err(corrupt(
                        &manifest,
                        format!("larger than {MAX_MANIFEST_BYTES} bytes"),
                    ));
                }
                parse_manifest(&text).ok_or_else(|| corrupt(&manifest, "malformed"))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, Vec::new(), Vec::new()),
            Err(e) => return Err(io_err(&manifest, e)),
        };
        let open = |ids: &[u64]| -> Result<Vec<Arc<Run>>, StoreError> {
            ids.iter()
                .map(|&id| Run::open(run_path(dir, id), id).map(Arc::new))
                .collect()
        };
        let set = RunSet {
            leaves: open(&leaves)?,
            search: open(&search)?,
            covered,
        };
        let mut next_id = leaves.iter().chain(&search).max().map_or(1, |m| m + 1);
        if writable && let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if let Some(id) = name
                    .strip_suffix(".run")
                    .or_else(|| name.strip_suffix(".tmp"))
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    next_id = next_id.max(id + 1);
                    let named = leaves.contains(&id) || search.contains(&id);
                    if name.ends_with(".tmp") || !named {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
            let _ = std::fs::remove_file(dir.join("MANIFEST.tmp"));
        }
        let mut memory = Memory {
            from: covered,
            to: covered,
            ..Default::default()
        };
        for e in journal {
            if e.index < covered {
                continue;
            }
            memory.add(&e);
        }
        let index = Arc::new(Self {
            dir: dir.to_owned(),
            options,
            writable,
            memory: RwLock::new(memory),
            frozen: RwLock::new(None),
            runs: RwLock::new(Arc::new(set)),
            changing: Mutex::new(next_id),
            merger: Mutex::new(None),
        });
        if writable && options.background {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let weak = Arc::downgrade(&index);
            std::thread::Builder::new()
                .name("sigil-log-merge".into())
                .spawn(move || {
                    while rx.recv().is_ok() {
                        let Some(index) = weak.upgrade() else { return };
                        // A failed write or merge leaves the runs as they were; the next
                        // nudge (the next full memory) retries.
                        if index.write_frozen().is_ok() {
                            while let Ok(true) = index.merge_once() {}
                        }
                    }
                })
                .map_err(|e| StoreError::Unavailable(format!("merge thread: {e}")))?;
            *index
                .merger
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
            index.nudge();
        }
        Ok(index)
    }

    /// Entries `0..covered` are in runs; rows of older journal entries are no longer needed.
    pub fn covered(&self) -> u64 {
        self.runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .covered
    }

    /// Takes the rows of newly committed entries. When enough are held they are frozen and
    /// written out as runs: by the background thread (the caller, the sequencer, does not wait
    /// for the files), or at once without one.
    pub fn committed(&self, entries: &[EntryKeys]) -> Result<(), StoreError> {
        let full = {
            let mut m = self
                .memory
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for e in entries {
                m.add(e);
            }
            m.to - m.from >= self.options.flush_entries
        };
        if full && self.writable && self.freeze() {
            match self.options.background {
                true => self.nudge(),
                false => self.write_frozen()?,
            }
        }
        Ok(())
    }

    /// Takes the rows of a store written before the run index, and writes them out as runs.
    pub fn import(&self, entries: &[EntryKeys]) -> Result<(), StoreError> {
        {
            let mut m = self
                .memory
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for e in entries {
                m.add(e);
            }
        }
        self.flush()
    }

    /// Writes every row held in memory out as runs, now.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.write_frozen()?;
        if self.freeze() {
            self.write_frozen()?;
        }
        Ok(())
    }

    /// Moves the rows in memory aside, to be written as runs, unless rows wait already (they
    /// go first; memory keeps growing meanwhile). Whether it did.
    fn freeze(&self) -> bool {
        let mut m = self
            .memory
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut frozen = self
            .frozen
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if frozen.is_some() || m.to == m.from {
            return false;
        }
        let to = m.to;
        let rows = std::mem::replace(
            &mut *m,
            Memory {
                from: to,
                to,
                ..Default::default()
            },
        );
        *frozen = Some(Arc::new(rows));
        true
    }

    /// Writes the frozen rows as one run per index, names them in the manifest, and lets them
    /// go from memory.
    fn write_frozen(&self) -> Result<(), StoreError> {
        let mut next_id = self
            .changing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(m) = self
            .frozen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        else {
            return Ok(());
        };
        let mut leaf_rows: Vec<(Key, u64)> = m.leaves.iter().map(|(k, i)| (*k, *i)).collect();
        let mut search_rows: Vec<(Key, u64)> = m
            .search
            .iter()
            .flat_map(|(k, is)| is.iter().map(move |i| (*k, *i)))
            .collect();
        let to = m.to;
        leaf_rows.sort_unstable();
        search_rows.sort_unstable();
        search_rows.dedup();
        let (lid, sid) = (*next_id, *next_id + 1);
        *next_id += 2;
        let (nl, ns) = (leaf_rows.len() as u64, search_rows.len() as u64);
        let written = write_run(&self.dir, lid, nl, leaf_rows.into_iter().map(Ok))
            .and_then(|l| {
                Ok((
                    l,
                    write_run(&self.dir, sid, ns, search_rows.into_iter().map(Ok))?,
                ))
            })
            .and_then(|(l, s)| {
                let mut set = RunSet::clone(
                    &self
                        .runs
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                set.leaves.push(Arc::new(l));
                set.search.push(Arc::new(s));
                set.covered = to;
                self.write_manifest(&set)?;
                Ok(set)
            });
        let set = match written {
            Ok(set) => set,
            Err(e) => {
                let _ = std::fs::remove_file(run_path(&self.dir, lid));
                let _ = std::fs::remove_file(run_path(&self.dir, sid));
                return Err(e);
            }
        };
        // Runs first, then the frozen rows: a reader (memory, frozen, then runs) sees every row.
        *self
            .runs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
        *self
            .frozen
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        drop(next_id);
        match self.options.background {
            true => self.nudge(),
            false => while self.merge_once()? {},
        }
        Ok(())
    }

    fn nudge(&self) {
        if let Some(tx) = self
            .merger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            let _ = tx.send(());
        }
    }

    fn write_manifest(&self, set: &RunSet) -> Result<(), StoreError> {
        let ids = |runs: &[Arc<Run>]| {
            runs.iter()
                .map(|r| r.id.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let text = format!(
            "sigil key index 1\ncovered {}\nleaves {}\nsearch {}\n",
            set.covered,
            ids(&set.leaves),
            ids(&set.search)
        );
        let path = self.dir.join(MANIFEST);
        let tmp = self.dir.join("MANIFEST.tmp");
        let r = File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| io_err(&path, e));
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r?;
        sync_dir(&self.dir)
    }

    /// Merges one tier's worth of runs, if a tier has [`MERGE_FAN_IN`]; whether it did.
    fn merge_once(&self) -> Result<bool, StoreError> {
        let set = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for leaves in [true, false] {
            let runs = if leaves { &set.leaves } else { &set.search };
            let Some(group) = merge_group(runs) else {
                continue;
            };
            let id = {
                let mut next = self
                    .changing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *next += 1;
                *next - 1
            };
            let path = run_path(&self.dir, id);
            let sources = group.iter().map(|r| r.rows()).collect();
            let most = group.iter().map(|r| r.rows).sum();
            let merged = Arc::new(write_run(&self.dir, id, most, merge_rows(sources))?);
            // Swap under the lock: flushes may have added runs meanwhile.
            let _guard = self
                .changing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut new = RunSet::clone(
                &self
                    .runs
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            let list = if leaves {
                &mut new.leaves
            } else {
                &mut new.search
            };
            let at = list
                .iter()
                .position(|r| r.id == group[0].id)
                .unwrap_or(list.len());
            list.retain(|r| !group.iter().any(|g| g.id == r.id));
            list.insert(at.min(list.len()), merged);
            if let Err(e) = self.write_manifest(&new) {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
            *self
                .runs
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(new);
            for g in &group {
                let _ = std::fs::remove_file(&g.path);
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// The entry carrying this leaf prefix.
    pub fn find_leaf(&self, key: &Key) -> Result<Option<u64>, StoreError> {
        if let Some(i) = self
            .memory
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .leaves
            .get(key)
        {
            return Ok(Some(*i));
        }
        if let Some(f) = self
            .frozen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && let Some(i) = f.leaves.get(key)
        {
            return Ok(Some(*i));
        }
        let set = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = Vec::new();
        for r in set.leaves.iter().rev() {
            r.get(key, 1, &mut out)?;
            if let Some(i) = out.first() {
                return Ok(Some(*i));
            }
        }
        Ok(None)
    }

    /// Entries carrying this search prefix, ascending, at most `limit`.
    pub fn search(&self, key: &Key, limit: usize) -> Result<Vec<u64>, StoreError> {
        let mut out: Vec<u64> = self
            .memory
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .search
            .get(key)
            .cloned()
            .unwrap_or_default();
        if let Some(f) = self
            .frozen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && let Some(v) = f.search.get(key)
        {
            out.extend_from_slice(v);
        }
        let set = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for r in &set.search {
            let mut found = Vec::new();
            r.get(key, limit, &mut found)?;
            out.extend(found);
        }
        out.sort_unstable();
        out.dedup();
        out.truncate(limit);
        Ok(out)
    }

    /// Every search row (key prefix, entry index), for migrations.
    pub fn search_rows(&self) -> Result<Vec<(Key, u64)>, StoreError> {
        let mut out: Vec<(Key, u64)> = self
            .memory
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .search
            .iter()
            .flat_map(|(k, is)| is.iter().map(move |i| (*k, *i)))
            .collect();
        if let Some(f) = self
            .frozen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            out.extend(
                f.search
                    .iter()
                    .flat_map(|(k, is)| is.iter().map(move |i| (*k, *i))),
            );
        }
        let set = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for r in &set.search {
            for row in r.rows() {
                out.push(row?);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// How many runs each index has (leaves, search).
    pub fn run_counts(&self) -> (usize, usize) {
        let s = self
            .runs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (s.leaves.len(), s.search.len())
    }
}

impl Drop for KeyIndex {
    fn drop(&mut self) {
        self.merger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

impl Memory {
    /// Adds an entry's rows. Entries come in index order (commits, the journal, an import), so
    /// a key's list stays ascending and a repeated key of one entry is its last element.
    fn add(&mut self, e: &EntryKeys) {
        self.leaves.entry(e.leaf).or_insert(e.index);
        for k in &e.search {
            let v = self.search.entry(*k).or_default();
            match v.last() {
                Some(&last) if last >= e.index => {
                    if !v.contains(&e.index) {
                        v.push(e.index);
                        v.sort_unstable();
                    }
                }
                _ => v.push(e.index),
            }
        }
        self.to = self.to.max(e.index + 1);
    }
}

fn run_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:08}.run"))
}

/// The oldest [`MERGE_FAN_IN`] neighbouring runs of about one size (the largest at most twice
/// the smallest): size-tiered merging, so each row is rewritten about log4(runs) times.
fn merge_group(runs: &[Arc<Run>]) -> Option<Vec<Arc<Run>>> {
    runs.windows(MERGE_FAN_IN)
        .find(|w| {
            let min = w.iter().map(|r| r.rows).min().unwrap_or(0);
            let max = w.iter().map(|r| r.rows).max().unwrap_or(0);
            max <= min.saturating_mul(2).max(1)
        })
        .map(|w| w.to_vec())
}

fn parse_manifest(text: &str) -> Option<(u64, Vec<u64>, Vec<u64>)> {
    let mut lines = text.lines();
    if lines.next()? != "sigil key index 1" {
        return None;
    }
    let covered = lines.next()?.strip_prefix("covered ")?.parse().ok()?;
    let ids = |l: &str, p: &str| -> Option<Vec<u64>> {
        l.strip_prefix(p)?
            .split_whitespace()
            .map(|s| s.parse().ok())
            .collect()
    };
    let leaves = ids(lines.next()?, "leaves")?;
    let search = ids(lines.next()?, "search")?;
    Some((covered, leaves, search))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> Key {
        // Spread like hash prefixes, but reproducible.
        let d = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, &n.to_be_bytes());
        d.as_bytes()[..16].try_into().unwrap()
    }

    /// Entry `i` has leaf `key(i)` and search keys `key(1_000_000 + i % 7)` (shared) and
    /// `key(2_000_000 + i)` (its own).
    fn entry(i: u64) -> EntryKeys {
        EntryKeys {
            index: i,
            leaf: key(i),
            search: vec![key(1_000_000 + i % 7), key(2_000_000 + i)],
        }
    }

    fn options(flush: u64) -> IndexOptions {
        IndexOptions {
            flush_entries: flush,
            background: false,
        }
    }

    fn check(index: &KeyIndex, n: u64) {
        for i in (0..n).step_by(7) {
            assert_eq!(index.find_leaf(&key(i)).unwrap(), Some(i), "leaf {i}");
            assert_eq!(index.search(&key(2_000_000 + i), 5).unwrap(), vec![i]);
        }
        assert_eq!(index.find_leaf(&key(n + 1)).unwrap(), None);
        assert!(index.search(&key(3_000_000), 5).unwrap().is_empty());
        let shared: Vec<u64> = (0..n).filter(|i| i % 7 == 3).collect();
        assert_eq!(index.search(&key(1_000_003), usize::MAX).unwrap(), shared);
        assert_eq!(index.search(&key(1_000_003), 4).unwrap(), shared[..4]);
    }

    #[test]
    fn rows_are_found_in_memory_in_runs_and_after_merges_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let journal: Vec<EntryKeys> = (0..1000).map(entry).collect();
        let index = KeyIndex::open(dir.path(), options(50), true, []).unwrap();
        for batch in journal.chunks(13) {
            index.committed(batch).unwrap();
        }
        check(&index, 1000);
        // 19 flushes of ~52 entries, merged four at a time.
        let (leaves, search) = index.run_counts();
        assert!(leaves < 8 && search < 8, "{leaves} and {search} runs");
        let covered = index.covered();
        assert!(covered > 900 && covered <= 1000, "{covered}");
        assert_eq!(index.search_rows().unwrap().len(), 2000);
        drop(index);
        // Reopened with the journal of the entries not yet in runs.
        let rest = journal.iter().filter(|e| e.index >= covered).cloned();
        let index = KeyIndex::open(dir.path(), options(50), true, rest).unwrap();
        check(&index, 1000);
        // Journal rows of entries already in runs are ignored.
        drop(index);
        let index = KeyIndex::open(dir.path(), options(50), true, journal.clone()).unwrap();
        check(&index, 1000);
    }

    #[test]
    fn backgrounds_keep_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let index = KeyIndex::open(
            dir.path(),
            IndexOptions {
                flush_entries: 20,
                background: true,
            },
            true,
            [],
        )
        .unwrap();
        let all: Vec<EntryKeys> = (0..2000).map(entry).collect();
        for batch in all.chunks(10) {
            index.committed(batch).unwrap();
            // Readers during flushes and merges see every committed row.
            let last = batch.last().unwrap().index;
            assert_eq!(index.find_leaf(&key(last)).unwrap(), Some(last));
        }
        check(&index, 2000);
    }

    fn open_err(dir: &Path) -> StoreError {
        KeyIndex::open(dir, options(10), true, []).err().unwrap()
    }

    #[test]
    fn leftover_files_go_and_damaged_runs_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let index = KeyIndex::open(dir.path(), options(10), true, []).unwrap();
        let all: Vec<EntryKeys> = (0..25).map(entry).collect();
        index.committed(&all[..10]).unwrap();
        index.committed(&all[10..20]).unwrap();
        drop(index);
        // An interrupted flush or merge leaves files the manifest does not name.
        std::fs::write(dir.path().join("00000099.run"), b"half a run").unwrap();
        std::fs::write(dir.path().join("00000100.tmp"), b"").unwrap();
        let index = KeyIndex::open(dir.path(), options(10), true, all[20..].to_vec()).unwrap();
        check(&index, 25);
        assert!(!dir.path().join("00000099.run").exists());
        assert!(!dir.path().join("00000100.tmp").exists());
        drop(index);
        // A flipped bit in a named run.
        let run = dir.path().join("00000001.run");
        let mut bytes = std::fs::read(&run).unwrap();
        bytes[40] ^= 1;
        std::fs::write(&run, &bytes).unwrap();
        let e = open_err(dir.path());
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("00000001.run") && m.contains("checksum")),
            "{e}"
        );
        // A truncated one.
        std::fs::write(&run, &bytes[..bytes.len() - 5]).unwrap();
        let e = open_err(dir.path());
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("a run file of")),
            "{e}"
        );
        // A missing one.
        std::fs::remove_file(&run).unwrap();
        let e = open_err(dir.path());
        assert!(
            matches!(&e, StoreError::Unavailable(m) if m.contains("00000001.run")),
            "{e}"
        );
        // A manifest that does not parse.
        std::fs::write(dir.path().join(MANIFEST), "sigil key index 1\ncovered x\n").unwrap();
        let e = open_err(dir.path());
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("MANIFEST") && m.contains("malformed")),
            "{e}"
        );
        // One that is too large to be a manifest.
        std::fs::write(dir.path().join(MANIFEST), vec![b'1'; 70_000]).unwrap();
        let e = open_err(dir.path());
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("larger than 65536 bytes")),
            "{e}"
        );
    }

    #[test]
    fn a_read_only_index_serves_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<EntryKeys> = (0..30).map(entry).collect();
        let index = KeyIndex::open(dir.path(), options(10), true, []).unwrap();
        index.committed(&all[..20]).unwrap();
        drop(index);
        std::fs::write(dir.path().join("00000077.tmp"), b"").unwrap();
        let index = KeyIndex::open(dir.path(), options(10), false, all[20..].to_vec()).unwrap();
        index.committed(&all[..0]).unwrap();
        check(&index, 30);
        // Nothing was removed or written.
        assert!(dir.path().join("00000077.tmp").exists());
        assert_eq!(index.covered(), 20);
    }

    /// A run file holding `rows` as given (sorted or not), with a valid checksum.
    fn run_bytes(rows: &[(Key, u64)]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        for (k, i) in rows {
            v.extend_from_slice(k);
            v.extend_from_slice(&i.to_be_bytes());
        }
        v.extend_from_slice(&(rows.len() as u64).to_be_bytes());
        let d = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, &v);
        v.extend_from_slice(d.as_bytes());
        v
    }

    fn open_run_file(bytes: &[u8]) -> Result<Arc<KeyIndex>, StoreError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST),
            "sigil key index 1\ncovered 3\nleaves 1\nsearch\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("00000001.run"), bytes).unwrap();
        KeyIndex::open(dir.path(), options(10), false, [])
    }

    #[test]
    fn runs_out_of_order_are_refused_even_with_a_valid_checksum() {
        let rows = [(key(1), 1), (key(2), 2), (key(3), 3)];
        let mut sorted = rows.to_vec();
        sorted.sort();
        let index = open_run_file(&run_bytes(&sorted)).unwrap();
        assert_eq!(index.find_leaf(&key(2)).unwrap(), Some(2));
        let mut shuffled = sorted.clone();
        shuffled.swap(0, 2);
        let e = open_run_file(&run_bytes(&shuffled)).err().unwrap();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("out of order")),
            "{e}"
        );
        // A repeated row is out of order too.
        let e = open_run_file(&run_bytes(&[sorted[0], sorted[0]]))
            .err()
            .unwrap();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("row 1 is out of order")),
            "{e}"
        );
        let mut wrong_magic = run_bytes(&sorted);
        wrong_magic[0] = b'X';
        let e = open_run_file(&wrong_magic).err().unwrap();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("not a sigil index run")),
            "{e}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_run_file_is_served_or_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = open_run_file(&bytes).map(|i| i.find_leaf(&key(1)));
        }

        #[test]
        fn any_manifest_is_parsed_or_refused(text in "\\PC{0,80}") {
            let _ = parse_manifest(&text);
            let _ = parse_manifest(&format!("sigil key index 1\n{text}"));
        }

        #[test]
        fn the_bloom_filter_has_no_false_negatives(keys in proptest::collection::vec(proptest::array::uniform16(0u8..), 1..300)) {
            let mut b = Bloom::new(keys.len() as u64);
            for k in &keys {
                b.insert(k);
            }
            for k in &keys {
                proptest::prop_assert!(b.may_contain(k));
            }
        }
    }
}

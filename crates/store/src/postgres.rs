//! The PostgreSQL log store: the same [`LogStore`] contract as the embedded one, for logs that
//! outgrow one machine's disk or need the database's replication and backups.
//!
//! Tables (created on first connect, prefixed `sigil_log_`): `entries` (index, leaf hash,
//! integration time, canonical body), `tiles`, `search` and a one-row `meta` (stored size and
//! signed head). A batch is one transaction that locks the `meta` row, so two servers pointed
//! at one database cannot interleave batches: the second one's batch fails its size check.
//! Connections that break (the database restarted) are reopened on the next call; meanwhile
//! calls answer [`StoreError::Unavailable`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::Client;

use crate::log::{Batch, Head, LogStore, StoreError, StoredEntry, tile_bytes, tile_hashes};
use crate::pg_tls::{self, RustlsConnect};
use sigil_tlog::merkle::Hash;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sigil_log_entries (
    idx BIGINT PRIMARY KEY,
    leaf BYTEA NOT NULL UNIQUE,
    integrated_time BIGINT NOT NULL,
    body BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS sigil_log_tiles (
    level SMALLINT NOT NULL,
    idx BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS sigil_log_search (
    key BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (key, idx)
);
CREATE TABLE IF NOT EXISTS sigil_log_meta (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    head_size BIGINT,
    root BYTEA,
    checkpoint TEXT
);
INSERT INTO sigil_log_meta (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
";

/// Bytes of a search key kept (as the embedded store).
const SEARCH_KEY_LEN: usize = 16;

/// A PostgreSQL-backed log store.
pub struct Postgres {
    config: postgres::Config,
    tls: RustlsConnect,
    writer: Mutex<Option<Client>>,
    readers: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("postgres: {e}"))
}

fn connect(config: &postgres::Config, tls: &RustlsConnect) -> Result<Client, StoreError> {
    config
        .connect(tls.clone())
        .map_err(|e| unavailable(pg_tls::with_sources(&e)))
}

fn i64_of(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} does not fit a BIGINT")))
}

fn u64_of(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative index {v}")))
}

impl Postgres {
    /// Connects (with `readers` extra connections for reads) and creates the tables. `url` is
    /// a `postgres://` URL or `key=value` pairs; its `sslmode` (`disable`, `prefer` (the
    /// default), `require`, `verify-ca`, `verify-full`) and `sslrootcert` mean what they mean
    /// to libpq (see [`pg_tls`]).
    pub fn connect(url: &str, readers: usize) -> Result<Self, StoreError> {
        let parsed =
            pg_tls::parse(url).map_err(|e| StoreError::Unavailable(format!("postgres: {e}")))?;
        let tls = RustlsConnect::new(&parsed)
            .map_err(|e| StoreError::Unavailable(format!("postgres: {e}")))?;
        let config = parsed.config;
        let mut w = connect(&config, &tls)?;
        w.batch_execute(SCHEMA).map_err(unavailable)?;
        Ok(Self {
            config,
            tls,
            writer: Mutex::new(Some(w)),
            readers: (0..readers.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `f` on a connection from `slot`, (re)connecting first when there is none; a failed
    /// call drops the connection so that the next one reconnects.
    fn with<T>(
        &self,
        slot: &Mutex<Option<Client>>,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_checked(slot, false, f)
    }

    /// As [`with`](Self::with); `ping` first checks that the connection still answers (one
    /// round trip), so that a write never starts on a connection the database dropped.
    fn with_checked<T>(
        &self,
        slot: &Mutex<Option<Client>>,
        ping: bool,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        let stale = match guard.as_mut() {
            None => true,
            Some(c) => {
                c.is_closed() || (ping && c.is_valid(std::time::Duration::from_secs(5)).is_err())
            }
        };
        if stale {
            *guard = None;
            *guard = Some(connect(&self.config, &self.tls)?);
        }
        let client = guard.as_mut().expect("connected");
        let r = f(client);
        if matches!(r, Err(StoreError::Unavailable(_))) {
            *guard = None;
        }
        r
    }

    /// A read, retried once on a fresh connection when the first one had gone stale (the
    /// database restarted since it was opened). Reads change nothing, so the retry is safe.
    fn read<T>(&self, f: impl Fn(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        match self.with(&self.readers[i], &f) {
            Err(StoreError::Unavailable(_)) => self.with(&self.readers[i], &f),
            r => r,
        }
    }
}

impl LogStore for Postgres {
    fn head(&self) -> Result<Option<Head>, StoreError> {
        self.read(|c| {
            let row = c
                .query_one(
                    "SELECT head_size, root, checkpoint FROM sigil_log_meta WHERE id = 1",
                    &[],
                )
                .map_err(unavailable)?;
            let size: Option<i64> = row.get(0);
            let Some(size) = size else { return Ok(None) };
            let root: Vec<u8> = row.get(1);
            let checkpoint: String = row.get(2);
            Ok(Some(Head {
                size: u64_of(size)?,
                root: root
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("the stored root is not 32 bytes".into()))?,
                checkpoint,
            }))
        })
    }

    fn size(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let row = c
                .query_one("SELECT size FROM sigil_log_meta WHERE id = 1", &[])
                .map_err(unavailable)?;
            u64_of(row.get(0))
        })
    }

    fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        self.with_checked(&self.writer, true, |c| {
            let mut tx = c.transaction().map_err(unavailable)?;
            let row = tx
                .query_one("SELECT size FROM sigil_log_meta WHERE id = 1 FOR UPDATE", &[])
                .map_err(unavailable)?;
            let stored = u64_of(row.get(0))?;
            if stored != batch.first || batch.head.size != batch.first + batch.entries.len() as u64 {
                return Err(StoreError::Conflict {
                    batch: batch.first,
                    stored,
                });
            }
            let mut idx = Vec::with_capacity(batch.entries.len());
            let mut leaves = Vec::with_capacity(batch.entries.len());
            let mut times = Vec::with_capacity(batch.entries.len());
            let mut bodies = Vec::with_capacity(batch.entries.len());
            let mut skeys = Vec::new();
            let mut sidx = Vec::new();
            for (i, e) in batch.entries.iter().enumerate() {
                let index = i64_of(batch.first + i as u64)?;
                idx.push(index);
                leaves.push(e.leaf.to_vec());
                times.push(e.integrated_time);
                bodies.push(e.body.clone());
                for k in &e.keys {
                    skeys.push(k[..SEARCH_KEY_LEN].to_vec());
                    sidx.push(index);
                }
            }
            tx.execute(
                "INSERT INTO sigil_log_entries (idx, leaf, integrated_time, body)
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bytea[])",
                &[&idx, &leaves, &times, &bodies],
            )
            .map_err(unavailable)?;
            if !skeys.is_empty() {
                tx.execute(
                    "INSERT INTO sigil_log_search (key, idx)
                     SELECT * FROM unnest($1::bytea[], $2::bigint[]) ON CONFLICT DO NOTHING",
                    &[&skeys, &sidx],
                )
                .map_err(unavailable)?;
            }
            let mut levels = Vec::new();
            let mut tidx = Vec::new();
            let mut hashes = Vec::new();
            for (level, index, h) in &batch.tiles {
                levels.push(i16::from(*level));
                tidx.push(i64_of(*index)?);
                hashes.push(tile_bytes(h));
            }
            if !levels.is_empty() {
                tx.execute(
                    "INSERT INTO sigil_log_tiles (level, idx, hashes)
                     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
                     ON CONFLICT (level, idx) DO UPDATE SET hashes = EXCLUDED.hashes",
                    &[&levels, &tidx, &hashes],
                )
                .map_err(unavailable)?;
            }
            let size = i64_of(batch.head.size)?;
            tx.execute(
                "UPDATE sigil_log_meta SET size = $1, head_size = $1, root = $2, checkpoint = $3 WHERE id = 1",
                &[&size, &batch.head.root.to_vec(), &batch.head.checkpoint],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
    }

    fn publish(&self, head: &Head) -> Result<(), StoreError> {
        self.with_checked(&self.writer, true, |c| {
            let mut tx = c.transaction().map_err(unavailable)?;
            let row = tx
                .query_one(
                    "SELECT size, head_size FROM sigil_log_meta WHERE id = 1 FOR UPDATE",
                    &[],
                )
                .map_err(unavailable)?;
            let stored = u64_of(row.get(0))?;
            let current: Option<i64> = row.get(1);
            let current = current.map(u64_of).transpose()?.unwrap_or(0);
            if head.size != stored || head.size < current {
                return Err(StoreError::Conflict {
                    batch: head.size,
                    stored,
                });
            }
            tx.execute(
                "UPDATE sigil_log_meta SET head_size = $1, root = $2, checkpoint = $3 WHERE id = 1",
                &[&i64_of(head.size)?, &head.root.to_vec(), &head.checkpoint],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
    }

    fn entries(&self, start: u64, count: u64) -> Result<Vec<StoredEntry>, StoreError> {
        let (s, e) = (
            i64_of(start)?,
            i64_of(start.saturating_add(count).min(i64::MAX as u64))?,
        );
        self.read(|c| {
            let rows = c
                .query(
                    "SELECT idx, integrated_time, body FROM sigil_log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                    &[&s, &e],
                )
                .map_err(unavailable)?;
            rows.iter()
                .map(|r| {
                    Ok(StoredEntry {
                        index: u64_of(r.get(0))?,
                        integrated_time: r.get(1),
                        body: r.get(2),
                    })
                })
                .collect()
        })
    }

    fn find_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        self.read(|c| {
            let row = c
                .query_opt(
                    "SELECT idx FROM sigil_log_entries WHERE leaf = $1",
                    &[&leaf.to_vec()],
                )
                .map_err(unavailable)?;
            row.map(|r| u64_of(r.get(0))).transpose()
        })
    }

    fn find_leaves(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        let list: Vec<Vec<u8>> = leaves.iter().map(|l| l.to_vec()).collect();
        let found = self.read(|c| {
            let rows = c
                .query(
                    "SELECT leaf, idx FROM sigil_log_entries WHERE leaf = ANY($1)",
                    &[&list],
                )
                .map_err(unavailable)?;
            rows.iter()
                .map(|r| Ok((r.get::<_, Vec<u8>>(0), u64_of(r.get(1))?)))
                .collect::<Result<std::collections::HashMap<_, _>, StoreError>>()
        })?;
        Ok(leaves.iter().map(|l| found.get(&l[..]).copied()).collect())
    }

    fn tile(&self, level: u8, index: u64) -> Result<Vec<Hash>, StoreError> {
        let i = i64_of(index)?;
        self.read(|c| {
            let row = c
                .query_opt(
                    "SELECT hashes FROM sigil_log_tiles WHERE level = $1 AND idx = $2",
                    &[&i16::from(level), &i],
                )
                .map_err(unavailable)?;
            match row {
                None => Ok(Vec::new()),
                Some(r) => tile_hashes(r.get::<_, &[u8]>(0)),
            }
        })
    }

    fn search(&self, key: &[u8; 32], limit: usize) -> Result<Vec<u64>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let rows = c
                .query(
                    "SELECT idx FROM sigil_log_search WHERE key = $1 ORDER BY idx LIMIT $2",
                    &[&key[..SEARCH_KEY_LEN].to_vec(), &limit],
                )
                .map_err(unavailable)?;
            rows.iter().map(|r| u64_of(r.get(0))).collect()
        })
    }

    fn search_rows(&self) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        self.read(|c| {
            let rows = c
                .query("SELECT key, idx FROM sigil_log_search", &[])
                .map_err(unavailable)?;
            rows.iter()
                .map(|r| Ok((r.get::<_, Vec<u8>>(0), u64_of(r.get(1))?)))
                .collect()
        })
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

//! A durable work queue with a record of what is done, in one redb file: signing on push
//! records each pushed digest before it acknowledges the notification ([`Queue::enqueue`]
//! returns once the transaction is on disk), works through what is due, retries failures with
//! a backoff, and resumes after a crash or restart. A key (`repository@digest`) is done at most
//! once: the same digest pushed twice, or one notification delivered twice, gives one job.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::log::StoreError;

const PENDING: TableDefinition<&str, &[u8]> = TableDefinition::new("pending");
const DONE: TableDefinition<&str, &[u8]> = TableDefinition::new("done");

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its key (`repository@digest`).
    pub key: String,
    /// What to do, as the producer wrote it (JSON).
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is due (Unix milliseconds).
    pub due_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// What [`Queue::enqueue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job, durable.
    New,
    /// A job with this key is already waiting.
    Pending,
    /// This key was done already (its record).
    Done(String),
}

/// The queue.
pub struct Queue {
    db: Database,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl Queue {
    /// Opens (or creates) the queue file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(unavailable)?;
        let w = db.begin_write().map_err(unavailable)?;
        w.open_table(PENDING).map_err(unavailable)?;
        w.open_table(DONE).map_err(unavailable)?;
        w.commit().map_err(unavailable)?;
        Ok(Self { db })
    }

    /// Records a job for `key` due at `now_ms`, unless `key` is pending or done. Durable when
    /// it returns [`Enqueued::New`].
    pub fn enqueue(&self, key: &str, payload: &str, now_ms: i64) -> Result<Enqueued, StoreError> {
        let w = self.db.begin_write().map_err(unavailable)?;
        let outcome = {
            let done = w.open_table(DONE).map_err(unavailable)?;
            if let Some(record) = done.get(key).map_err(unavailable)? {
                Enqueued::Done(String::from_utf8_lossy(record.value()).into_owned())
            } else {
                drop(done);
                let mut pending = w.open_table(PENDING).map_err(unavailable)?;
                if pending.get(key).map_err(unavailable)?.is_some() {
                    Enqueued::Pending
                } else {
                    let job = Job {
                        key: key.to_owned(),
                        payload: payload.to_owned(),
                        attempts: 0,
                        due_ms: now_ms,
                        last_error: None,
                    };
                    let bytes = serde_json::to_vec(&job).map_err(unavailable)?;
                    pending.insert(key, bytes.as_slice()).map_err(unavailable)?;
                    Enqueued::New
                }
            }
        };
        if outcome == Enqueued::New {
            w.commit().map_err(unavailable)?;
        } else {
            w.abort().map_err(unavailable)?;
        }
        Ok(outcome)
    }

    /// Up to `limit` jobs due at `now_ms`, the earliest first.
    pub fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Job>, StoreError> {
        let r = self.db.begin_read().map_err(unavailable)?;
        let pending = r.open_table(PENDING).map_err(unavailable)?;
        let mut jobs = Vec::new();
        for item in pending.iter().map_err(unavailable)? {
            let (_, v) = item.map_err(unavailable)?;
            let job: Job = serde_json::from_slice(v.value())
                .map_err(|e| StoreError::Corrupt(format!("a queued job: {e}")))?;
            if job.due_ms <= now_ms {
                jobs.push(job);
            }
        }
        jobs.sort_by_key(|j| j.due_ms);
        jobs.truncate(limit);
        Ok(jobs)
    }

    /// Marks `key` done with `record` (what was produced), durably.
    pub fn complete(&self, key: &str, record: &str) -> Result<(), StoreError> {
        let w = self.db.begin_write().map_err(unavailable)?;
        {
            let mut pending = w.open_table(PENDING).map_err(unavailable)?;
            pending.remove(key).map_err(unavailable)?;
            let mut done = w.open_table(DONE).map_err(unavailable)?;
            done.insert(key, record.as_bytes()).map_err(unavailable)?;
        }
        w.commit().map_err(unavailable)
    }

    /// Puts `job` back, due at `due_ms`, with the attempt counted and `error` recorded.
    pub fn retry(&self, job: &Job, due_ms: i64, error: &str) -> Result<(), StoreError> {
        let mut next = job.clone();
        next.attempts += 1;
        next.due_ms = due_ms;
        next.last_error = Some(error.chars().take(1000).collect());
        let bytes = serde_json::to_vec(&next).map_err(unavailable)?;
        let w = self.db.begin_write().map_err(unavailable)?;
        {
            let mut pending = w.open_table(PENDING).map_err(unavailable)?;
            pending
                .insert(job.key.as_str(), bytes.as_slice())
                .map_err(unavailable)?;
        }
        w.commit().map_err(unavailable)
    }

    /// The record of a done key.
    pub fn done(&self, key: &str) -> Result<Option<String>, StoreError> {
        let r = self.db.begin_read().map_err(unavailable)?;
        let done = r.open_table(DONE).map_err(unavailable)?;
        Ok(done
            .get(key)
            .map_err(unavailable)?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    /// The waiting job for `key`, if any.
    pub fn pending_job(&self, key: &str) -> Result<Option<Job>, StoreError> {
        let r = self.db.begin_read().map_err(unavailable)?;
        let pending = r.open_table(PENDING).map_err(unavailable)?;
        match pending.get(key).map_err(unavailable)? {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("a queued job: {e}"))),
            None => Ok(None),
        }
    }

    /// Jobs waiting.
    pub fn pending(&self) -> Result<u64, StoreError> {
        let r = self.db.begin_read().map_err(unavailable)?;
        let pending = r.open_table(PENDING).map_err(unavailable)?;
        pending.len().map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_queued_once_done_once_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.redb");
        {
            let q = Queue::open(&path).unwrap();
            assert_eq!(q.enqueue("a@sha256:1", "{}", 10).unwrap(), Enqueued::New);
            assert_eq!(
                q.enqueue("a@sha256:1", "{}", 11).unwrap(),
                Enqueued::Pending
            );
            assert_eq!(q.enqueue("b@sha256:2", "{}", 20).unwrap(), Enqueued::New);
            assert_eq!(q.due(15, 10).unwrap().len(), 1);
        }
        // Reopened (a restart): both still wait.
        let q = Queue::open(&path).unwrap();
        assert_eq!(q.pending().unwrap(), 2);
        let jobs = q.due(100, 10).unwrap();
        assert_eq!(jobs[0].key, "a@sha256:1");
        q.retry(&jobs[0], 500, "registry unreachable").unwrap();
        assert_eq!(q.due(100, 10).unwrap().len(), 1);
        let again = q.due(500, 10).unwrap();
        let a = again.iter().find(|j| j.key == "a@sha256:1").unwrap();
        assert_eq!(a.attempts, 1);
        assert_eq!(a.last_error.as_deref(), Some("registry unreachable"));
        q.complete("a@sha256:1", "signed").unwrap();
        assert_eq!(
            q.enqueue("a@sha256:1", "{}", 600).unwrap(),
            Enqueued::Done("signed".into())
        );
        assert_eq!(q.done("a@sha256:1").unwrap().as_deref(), Some("signed"));
        assert!(q.pending_job("a@sha256:1").unwrap().is_none());
        assert_eq!(q.pending_job("b@sha256:2").unwrap().unwrap().attempts, 0);
        assert_eq!(q.pending().unwrap(), 1);
    }
}

//! A process-wide cache of signatures that verified.
//!
//! Signature verification is a pure function of (scheme, key, message, signature), so a success
//! can be remembered: the next check of the exact same bytes is a hash and a lookup instead of an
//! elliptic-curve operation. Certificate-authority links and checkpoint signatures repeat across
//! every bundle a verifier sees; a re-checked bundle repeats entirely. Only successes are stored,
//! so the cache can never turn a failure into a pass. Entries are keyed by a SHA-256 over the
//! length-prefixed parts; the cache holds at most [`CAPACITY`] entries, evicting the oldest.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::hash::{HashAlgorithm, Hasher};

/// Most entries kept (each 32 bytes, twice: about 1 MiB at capacity).
pub const CAPACITY: usize = 16 * 1024;

static ENABLED: AtomicBool = AtomicBool::new(true);
static HITS: AtomicU64 = AtomicU64::new(0);

/// How many verifications the cache has answered in this process.
pub fn hits() -> u64 {
    HITS.load(Ordering::Relaxed)
}

struct Cache {
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(Cache {
            set: HashSet::new(),
            order: VecDeque::new(),
        })
    })
}

/// Turns the cache on or off for this process (benchmarks measure the uncached path).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
    if !enabled {
        clear();
    }
}

/// Forgets every entry.
pub fn clear() {
    if let Ok(mut c) = cache().lock() {
        c.set.clear();
        c.order.clear();
    }
}

/// The cache key of a verification: SHA-256 over the length-prefixed parts.
pub fn key(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Hasher::new(HashAlgorithm::Sha256);
    for p in parts {
        h.update(&(p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_bytes());
    out
}

/// Whether this exact verification succeeded before.
pub fn contains(k: &[u8; 32]) -> bool {
    ENABLED.load(Ordering::Relaxed) && cache().lock().is_ok_and(|c| c.set.contains(k))
}

/// Remembers a successful verification.
pub fn insert(k: [u8; 32]) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(mut c) = cache().lock() {
        if c.set.insert(k) {
            c.order.push_back(k);
            if c.order.len() > CAPACITY {
                if let Some(old) = c.order.pop_front() {
                    c.set.remove(&old);
                }
            }
        }
    }
}

/// Runs `verify` unless the same verification succeeded before; remembers a success.
pub fn verified<E>(parts: &[&[u8]], verify: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
    if !ENABLED.load(Ordering::Relaxed) {
        return verify();
    }
    let k = key(parts);
    if contains(&k) {
        HITS.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    verify()?;
    insert(k);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_successes_are_remembered_and_parts_are_unambiguous() {
        let mut calls = 0;
        let ok = |calls: &mut i32| {
            *calls += 1;
            Ok::<(), ()>(())
        };
        verified(&[b"t", b"k", b"m", b"s1"], || ok(&mut calls)).unwrap();
        verified(&[b"t", b"k", b"m", b"s1"], || ok(&mut calls)).unwrap();
        assert_eq!(calls, 1);
        // A failure is not remembered.
        assert!(verified(&[b"t", b"k", b"m", b"bad"], || Err::<(), ()>(())).is_err());
        assert!(verified(&[b"t", b"k", b"m", b"bad"], || Err::<(), ()>(())).is_err());
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
    }
}

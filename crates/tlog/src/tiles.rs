//! C2SP tlog-tiles: the Merkle tree stored as tiles of 256 hashes, and everything a log needs
//! from them: tile paths, appending leaves (which tiles change), subtree hashes, tree roots,
//! inclusion and consistency proofs, all computed from tiles alone.
//!
//! Level `L` tile `N` holds, at position `i`, the hash of the complete subtree of height `8·L`
//! whose index is `N·256 + i` (level 0 holds leaf hashes). Any complete subtree of height `h`
//! is the Merkle root of `2^(h mod 8)` consecutive hashes of one tile at level `h / 8`, so a
//! proof for a tree of size `n` reads at most a few tiles per level and hashes at most 255 pairs
//! per node.

use crate::merkle::{Hash, node_hash};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Bytes in a full tile.
pub const FULL_TILE_BYTES: usize = 32 * TILE_WIDTH as usize;

/// Why a hash could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A tile the tree needs is missing or too short (storage is inconsistent).
    #[error("tile {level}/{index} is missing or shorter than {needed} hashes")]
    Missing {
        /// Level.
        level: u8,
        /// Index.
        index: u64,
        /// Hashes needed.
        needed: usize,
    },
    /// The storage behind the tiles failed.
    #[error("reading tile {level}/{index}: {detail}")]
    Storage {
        /// Level.
        level: u8,
        /// Index.
        index: u64,
        /// What failed.
        detail: String,
    },
    /// A proof was asked for sizes or an index the tree does not have.
    #[error("no proof for index {index} / sizes {first}..{second} in a tree of {size}")]
    Range {
        /// Index or first size.
        index: u64,
        /// First size.
        first: u64,
        /// Second size.
        second: u64,
        /// Tree size.
        size: u64,
    },
}

/// Where tiles come from (storage, a cache, the sequencer's memory).
pub trait TileSource {
    /// The hashes of tile `index` at `level`: all 256 for a full tile, else as many as exist.
    fn tile(&self, level: u8, index: u64) -> Result<std::sync::Arc<Vec<Hash>>, TileError>;

    /// A remembered subtree hash (complete subtrees never change).
    fn cached_subtree(&self, _height: u8, _index: u64) -> Option<Hash> {
        None
    }

    /// Remembers the hash of a complete subtree.
    fn remember_subtree(&self, _height: u8, _index: u64, _hash: Hash) {}
}

/// The tile path of `index` as C2SP writes it: 3-digit groups, all but the last prefixed `x`
/// (`1234067` is `x001/x234/067`).
pub fn index_path(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
    out
}

/// Parses a C2SP tile index path (`x001/x234/067`) strictly.
pub fn parse_index_path(path: &str) -> Option<u64> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut n: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        let digits = if i + 1 < parts.len() {
            p.strip_prefix('x')?
        } else {
            p
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    // The canonical form only: no leading all-zero groups.
    (index_path(n) == path).then_some(n)
}

/// The Merkle root of a run of hashes whose length is a power of two.
fn fold_pow2(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    if hashes.len() == 1 {
        return hashes[0];
    }
    let mut level: Vec<Hash> = hashes.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level[0]
}

/// The hash of the complete subtree of `height` at `index` (leaves
/// `index·2^height .. (index+1)·2^height`).
pub fn subtree_hash(src: &dyn TileSource, height: u8, index: u64) -> Result<Hash, TileError> {
    let level = height / 8;
    let r = u32::from(height % 8);
    if r > 0
        && let Some(h) = src.cached_subtree(height, index)
    {
        return Ok(h);
    }
    let first = index << r; // position among level-`level` hashes
    let tile = first / TILE_WIDTH;
    let start = (first % TILE_WIDTH) as usize;
    let count = 1usize << r;
    let hashes = src.tile(level, tile)?;
    if hashes.len() < start + count {
        return Err(TileError::Missing {
            level,
            index: tile,
            needed: start + count,
        });
    }
    let h = fold_pow2(&hashes[start..start + count]);
    // A complete subtree's hash never changes, even while its tile is still partial.
    if r > 0 {
        src.remember_subtree(height, index, h);
    }
    Ok(h)
}

/// The largest power of two strictly less than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `start..start+len` where `start` is a multiple of the largest power of two
/// not above `len` (true of every range the RFC 6962 recursions visit).
fn range_hash(src: &dyn TileSource, start: u64, len: u64) -> Result<Hash, TileError> {
    if len.is_power_of_two() {
        let h = len.trailing_zeros() as u8;
        return subtree_hash(src, h, start >> h);
    }
    let k = split(len);
    let left = range_hash(src, start, k)?;
    let right = range_hash(src, start + k, len - k)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of `size` leaves (the empty tree's root is SHA-256 of nothing).
pub fn tree_root(src: &dyn TileSource, size: u64) -> Result<Hash, TileError> {
    if size == 0 {
        return Ok(crate::merkle::empty_root());
    }
    range_hash(src, 0, size)
}

/// RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(
    src: &dyn TileSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TileError> {
    if index >= size {
        return Err(TileError::Range {
            index,
            first: 0,
            second: 0,
            size,
        });
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(out)
}

fn path(
    src: &dyn TileSource,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), TileError> {
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, start, k, out)?;
        out.push(range_hash(src, start + k, n - k)?);
    } else {
        path(src, m - k, start + k, n - k, out)?;
        out.push(range_hash(src, start, k)?);
    }
    Ok(())
}

/// RFC 9162 consistency proof from the tree of `first` leaves to the tree of `second`.
pub fn consistency_proof(
    src: &dyn TileSource,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, TileError> {
    if first == 0 || first > second {
        return Err(TileError::Range {
            index: 0,
            first,
            second,
            size: second,
        });
    }
    let mut out = Vec::new();
    if first < second {
        subproof(src, first, 0, second, true, &mut out)?;
    }
    Ok(out)
}

fn subproof(
    src: &dyn TileSource,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), TileError> {
    if m == n {
        if !whole {
            out.push(range_hash(src, start, n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, k, whole, out)?;
        out.push(range_hash(src, start + k, n - k)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(range_hash(src, start, k)?);
    }
    Ok(())
}

/// The right edge of the tree: the partial (or just-filled) tile at each level. Appending leaves
/// updates it and says which tiles changed, so a writer stores exactly those.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edge {
    size: u64,
    /// `levels[l]` = the hashes of the last tile at level `l` (1..=256 hashes, or empty).
    levels: Vec<Vec<Hash>>,
}

impl Edge {
    /// The edge of a tree of `size` leaves, read from its tiles.
    pub fn load(src: &dyn TileSource, size: u64) -> Result<Self, TileError> {
        let mut levels = Vec::new();
        let mut count = size; // hashes at this level
        let mut level = 0u8;
        while count > 0 {
            let last = (count - 1) / TILE_WIDTH;
            let width = (count - last * TILE_WIDTH) as usize;
            let t = src.tile(level, last)?;
            if t.len() < width {
                return Err(TileError::Missing {
                    level,
                    index: last,
                    needed: width,
                });
            }
            levels.push(t[..width].to_vec());
            count /= TILE_WIDTH;
            level += 1;
        }
        Ok(Self { size, levels })
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The current last tile at `level`, if any.
    pub fn last_tile(&self, level: u8) -> Option<(u64, &[Hash])> {
        let hashes = self.levels.get(usize::from(level))?;
        if hashes.is_empty() {
            return None;
        }
        let count = self.size >> (8 * u32::from(level));
        let index = (count - 1) / TILE_WIDTH;
        Some((index, hashes))
    }

    /// Appends leaf hashes; returns every tile `(level, index, hashes)` that changed, in the
    /// state it must be stored in (tiles completed during the append are returned full).
    pub fn append(&mut self, leaves: &[Hash]) -> Vec<(u8, u64, Vec<Hash>)> {
        let mut out = Vec::new();
        let mut touched: Vec<(u8, u64)> = Vec::new();
        for leaf in leaves {
            let mut carry = *leaf;
            let mut level = 0usize;
            let mut pos = self.size; // index of the new hash at this level
            loop {
                if self.levels.len() <= level {
                    self.levels.push(Vec::new());
                }
                let tile_index = pos / TILE_WIDTH;
                if pos % TILE_WIDTH == 0 {
                    self.levels[level].clear();
                }
                self.levels[level].push(carry);
                let key = (level as u8, tile_index);
                if self.levels[level].len() as u64 == TILE_WIDTH {
                    // Completed: store it full, once.
                    touched.retain(|k| *k != key);
                    out.push((key.0, key.1, self.levels[level].clone()));
                    carry = fold_pow2(&self.levels[level]);
                    level += 1;
                    pos = tile_index;
                } else {
                    if !touched.contains(&key) {
                        touched.push(key);
                    }
                    break;
                }
            }
            self.size += 1;
        }
        for (level, index) in touched {
            if let Some((last, hashes)) = self.last_tile(level)
                && last == index
                && (hashes.len() as u64) < TILE_WIDTH
            {
                out.push((level, index, hashes.to_vec()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{self, leaf_hash};
    use std::collections::HashMap;
    use std::sync::Arc;

    #[derive(Default)]
    struct Mem(HashMap<(u8, u64), Arc<Vec<Hash>>>);

    impl TileSource for Mem {
        fn tile(&self, level: u8, index: u64) -> Result<Arc<Vec<Hash>>, TileError> {
            self.0
                .get(&(level, index))
                .cloned()
                .ok_or(TileError::Missing {
                    level,
                    index,
                    needed: 1,
                })
        }
    }

    /// Builds tiles by appending in uneven batches and checks roots and proofs against the
    /// reference implementation over the plain leaf list, at every size.
    #[test]
    fn tiles_agree_with_the_reference_tree() {
        let leaves: Vec<Hash> = (0u32..1100).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut mem = Mem::default();
        let mut edge = Edge::default();
        let mut done = 0usize;
        for (i, batch) in [1usize, 2, 253, 1, 300, 7, 256, 280].iter().enumerate() {
            let end = (done + batch).min(leaves.len());
            for (level, index, hashes) in edge.append(&leaves[done..end]) {
                mem.0.insert((level, index), Arc::new(hashes));
            }
            done = end;
            let n = done as u64;
            assert_eq!(
                tree_root(&mem, n).unwrap(),
                merkle::root(&leaves[..done]),
                "batch {i}"
            );
            // A reloaded edge equals the live one.
            assert_eq!(Edge::load(&mem, n).unwrap(), edge, "reload at {n}");
            for idx in [0, n / 3, n - 1] {
                assert_eq!(
                    inclusion_proof(&mem, idx, n).unwrap(),
                    merkle::inclusion_proof(&leaves[..done], idx as usize),
                    "inclusion {idx} in {n}"
                );
            }
            for m in [1, n / 2, n] {
                if m == 0 {
                    continue;
                }
                assert_eq!(
                    consistency_proof(&mem, m, n).unwrap(),
                    merkle::consistency_proof(&leaves[..done], m as usize),
                    "consistency {m}..{n}"
                );
            }
        }
        assert_eq!(done, 1100);
        // Earlier sizes stay provable from the grown tiles.
        for n in [1u64, 255, 256, 257, 511, 512, 513, 1024] {
            assert_eq!(
                tree_root(&mem, n).unwrap(),
                merkle::root(&leaves[..n as usize])
            );
        }
        assert!(matches!(
            inclusion_proof(&mem, 5, 5),
            Err(TileError::Range { .. })
        ));
        assert!(matches!(
            consistency_proof(&mem, 6, 5),
            Err(TileError::Range { .. })
        ));
    }

    #[test]
    fn paths() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(index_path(999), "999");
        assert_eq!(index_path(1000), "x001/000");
        for n in [0u64, 7, 999, 1000, 1234067, u64::MAX] {
            assert_eq!(parse_index_path(&index_path(n)), Some(n));
        }
        for bad in [
            "",
            "1",
            "x000/001",
            "001/002",
            "x1/002",
            "0001",
            "x001/x002",
        ] {
            assert_eq!(parse_index_path(bad), None, "{bad}");
        }
    }
}

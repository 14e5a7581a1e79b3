//! RFC 6962 / RFC 9162 Merkle tree hashing and proof verification (SHA-256).
//!
//! `leaf = SHA-256(0x00 ‖ entry)`, `node = SHA-256(0x01 ‖ left ‖ right)`. Verification follows
//! RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency). The recursive reference functions
//! ([`root`], [`inclusion_proof`], [`consistency_proof`]) follow RFC 6962 §2.1 literally; they
//! are the oracle in tests and the starting point for the log service.

use sigil_crypto::{Digest, HashAlgorithm};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// Most hashes an inclusion or consistency proof may carry (a tree of 2^64 leaves needs 64,
/// a consistency proof at most ~2·64).
pub const MAX_PROOF_HASHES: usize = 130;

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is outside the tree.
    #[error("leaf index {index} is not inside a tree of size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for this index and size.
    #[error(
        "the proof has {got} hashes, but index {index} in a tree of size {size} needs {expected}"
    )]
    WrongLength {
        /// Index (or first size for consistency).
        index: u64,
        /// Tree size (second size).
        size: u64,
        /// Hashes given.
        got: usize,
        /// Hashes needed.
        expected: usize,
    },
    /// The recomputed root differs.
    #[error("the proof leads to root {computed}, but the expected root is {expected}")]
    RootMismatch {
        /// Hex of the computed root.
        computed: String,
        /// Hex of the expected root.
        expected: String,
    },
    /// Consistency: the old tree is larger than the new one.
    #[error("tree size went backwards: {first} > {second}")]
    SizeBackwards {
        /// First size.
        first: u64,
        /// Second size.
        second: u64,
    },
    /// Consistency: the first root is not a prefix of the second.
    #[error("the trees are not consistent: the proof does not reproduce the old root {0}")]
    OldRootMismatch(String),
    /// Consistency: the proof has the wrong number of hashes for the two sizes.
    #[error(
        "the consistency proof has the wrong number of hashes ({got}) for tree sizes {first} -> {second}"
    )]
    BadConsistencyLength {
        /// Old size.
        first: u64,
        /// New size.
        second: u64,
        /// Hashes given.
        got: usize,
    },
    /// Consistency between equal sizes with different roots.
    #[error("two different roots for the same tree size {0}")]
    SameSizeDifferentRoot(u64),
}

/// Hash of a leaf entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sigil_crypto::hash::sha256_parts(&[&[0], entry])
}

/// Hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sigil_crypto::hash::sha256_parts(&[&[1], left, right])
}

fn to_hash(d: Digest) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_bytes());
    out
}

fn hex(h: &Hash) -> String {
    sigil_crypto::hash::hex_lower(h)
}

/// Number of hashes in an inclusion proof for `index` in a tree of `size` (RFC 9162 §2.1.3.1).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let inner = 64 - (index ^ (size - 1)).leading_zeros() as usize;
    let border = (index >> inner).count_ones() as usize;
    inner + border
}

/// Verifies that `leaf` is at `index` in the tree of `size` whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch {
            computed: hex(&computed),
            expected: hex(root),
        });
    }
    Ok(())
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            index,
            size,
            got: proof.len(),
            expected,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // With the length checked above, sn always ends at 0.
    Ok(r)
}

/// Verifies that the tree of size `first` with root `first_root` is a prefix of the tree of
/// size `second` with root `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizeBackwards { first, second });
    }
    let wrong_len = || ProofError::BadConsistencyLength {
        first,
        second,
        got: proof.len(),
    };
    if first == second {
        if !proof.is_empty() {
            return Err(wrong_len());
        }
        if first_root != second_root {
            return Err(ProofError::SameSizeDifferentRoot(first));
        }
        return Ok(());
    }
    if first == 0 {
        // The empty tree is a prefix of every tree.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(wrong_len())
        };
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_HASHES {
        return Err(wrong_len());
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(wrong_len());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_len());
    }
    if &fr != first_root {
        return Err(ProofError::OldRootMismatch(hex(first_root)));
    }
    if &sr != second_root {
        return Err(ProofError::RootMismatch {
            computed: hex(&sr),
            expected: hex(second_root),
        });
    }
    Ok(())
}

/// Largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    to_hash(Digest::of(HashAlgorithm::Sha256, b""))
}

/// MTH over leaf hashes (RFC 6962 §2.1). The empty tree's root is SHA-256("").
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => to_hash(Digest::of(HashAlgorithm::Sha256, b"")),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// `PATH(m, D[n])` of RFC 6962 §2.1.1.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut p = inclusion_proof(&leaves[..k], index);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_proof(&leaves[k..], index - k);
        p.push(root(&leaves[..k]));
        p
    }
}

/// `PROOF(m, D[n])` of RFC 6962 §2.1.2.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    fn subproof(m: usize, d: &[Hash], complete: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if complete { Vec::new() } else { vec![root(d)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], complete);
            p.push(root(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(root(&d[..k]));
            p
        }
    }
    if m == 0 || m >= leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            hex(&root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_inclusion_proof_of_small_trees_verifies_and_tampering_fails() {
        for n in 1..=70 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = inclusion_proof(&l, i);
                assert_eq!(
                    p.len(),
                    inclusion_proof_len(i as u64, n as u64),
                    "n={n} i={i}"
                );
                verify_inclusion(i as u64, n as u64, &l[i], &p, &r).unwrap();
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = leaf_hash(first);
                    assert!(matches!(
                        verify_inclusion(i as u64, n as u64, &l[i], &bad, &r),
                        Err(ProofError::RootMismatch { .. })
                    ));
                }
                let other = (i + 1) % n;
                if other != i {
                    assert!(verify_inclusion(other as u64, n as u64, &l[i], &p, &r).is_err());
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_of_small_trees_verifies() {
        for n in 1..=40usize {
            let l = leaves(n);
            let rn = root(&l);
            for m in 1..=n {
                let rm = root(&l[..m]);
                let p = consistency_proof(&l, m);
                verify_consistency(m as u64, n as u64, &rm, &rn, &p)
                    .unwrap_or_else(|e| panic!("m={m} n={n}: {e}"));
                if m < n {
                    let wrong_old = leaf_hash(b"not the old root");
                    assert!(verify_consistency(m as u64, n as u64, &wrong_old, &rn, &p).is_err());
                    let wrong_new = leaf_hash(b"not the new root");
                    assert!(verify_consistency(m as u64, n as u64, &rm, &wrong_new, &p).is_err());
                }
            }
        }
    }

    #[test]
    fn specific_errors() {
        let l = leaves(5);
        let r = root(&l);
        assert_eq!(
            verify_inclusion(5, 5, &l[0], &[], &r),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(matches!(
            verify_inclusion(0, 5, &l[0], &[], &r),
            Err(ProofError::WrongLength {
                got: 0,
                expected: 3,
                ..
            })
        ));
        assert_eq!(
            verify_consistency(6, 5, &r, &r, &[]),
            Err(ProofError::SizeBackwards {
                first: 6,
                second: 5
            })
        );
        assert_eq!(
            verify_consistency(5, 5, &r, &l[0], &[]),
            Err(ProofError::SameSizeDifferentRoot(5))
        );
    }

    proptest! {
        #[test]
        fn random_sizes(n in 1usize..600, seed in any::<u64>()) {
            let l = leaves(n);
            let r = root(&l);
            let i = (seed as usize) % n;
            let p = inclusion_proof(&l, i);
            prop_assert!(verify_inclusion(i as u64, n as u64, &l[i], &p, &r).is_ok());
            let m = 1 + (seed as usize / 7) % n;
            let cp = consistency_proof(&l, m);
            prop_assert!(verify_consistency(m as u64, n as u64, &root(&l[..m]), &r, &cp).is_ok());
        }
    }
}

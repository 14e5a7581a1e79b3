//! Transparency log math for Sigil: RFC 6962 Merkle trees and proofs, C2SP signed-note
//! checkpoints and tiles, and the signed entry timestamp's payload ([`set`]), as pure functions
//! over bytes — no storage, no I/O (the log's storage is `sigil-store`). The log service, its
//! client and every verifier of log evidence (bundles, `sigil log verify`, monitors) use it.
//!
//! # Example: check an entry's inclusion under a signed checkpoint
//!
//! ```
//! use sigil_tlog::merkle;
//!
//! let entries: Vec<_> = (0u8..5).map(|i| merkle::leaf_hash(&[i])).collect();
//! let root = merkle::root(&entries);
//! let proof = merkle::inclusion_proof(&entries, 3);
//! merkle::verify_inclusion(3, 5, &entries[3], &proof, &root)?;
//! # Ok::<(), merkle::ProofError>(())
//! ```
//!
//! Checkpoints: [`checkpoint::Checkpoint::verify_envelope`] parses a signed note, checks it
//! against trusted [`checkpoint::NoteVerifier`]s and returns origin, size and root hash.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checkpoint;
pub mod merkle;
pub mod set;
pub mod tiles;

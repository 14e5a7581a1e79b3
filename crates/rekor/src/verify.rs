//! Verifying what a log answered, with the log's key (pure: no I/O): an entry's SET, inclusion
//! proof and checkpoint; consistency between two checkpoints; and a monitor's state, with the
//! rollback and split-view checks.

use serde_json::{Value, json};
use sigil_crypto::hash::hex_lower;
use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use sigil_tlog::checkpoint::{Checkpoint, NoteError, NoteVerifier, SignedNote};
use sigil_tlog::merkle::{self, Hash, ProofError};
use sigil_tlog::set::SetError;

use crate::entry::LogEntry;

/// A log's public key and the log ID it implies (the SHA-256 of its SubjectPublicKeyInfo).
#[derive(Debug, Clone)]
pub struct LogKey {
    key: PublicKey,
    log_id: Hash,
}

impl LogKey {
    /// The log known by `key`.
    pub fn new(key: PublicKey) -> Self {
        let log_id = Digest::of(HashAlgorithm::Sha256, key.spki_der())
            .as_bytes()
            .try_into()
            .unwrap_or([0; 32]);
        Self { key, log_id }
    }

    /// The key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The log ID (raw).
    pub fn log_id(&self) -> &Hash {
        &self.log_id
    }

    /// Verifies a signed checkpoint (C2SP note) with this key, whatever origin it names.
    pub fn checkpoint(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let parsed = SignedNote::parse(note)?;
        let origin = parsed.text.lines().next().unwrap_or_default();
        Checkpoint::verify_envelope(note, &[NoteVerifier::new(origin, self.key.clone())])
    }
}

/// Why an entry the log returned does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The UUID is not the body's leaf hash.
    #[error("the UUID {uuid} is not the entry's leaf hash {leaf}")]
    UuidNotLeaf {
        /// The UUID the log filed the entry under.
        uuid: String,
        /// The body's leaf hash.
        leaf: String,
    },
    /// The entry names another log.
    #[error("the entry's log ID is {got}, not {expected} (the log's key)")]
    WrongLog {
        /// The ID of the log's key.
        expected: String,
        /// The entry's.
        got: String,
    },
    /// No signed entry timestamp.
    #[error("the entry has no signed entry timestamp")]
    NoSet,
    /// The SET does not verify.
    #[error(transparent)]
    Set(#[from] SetError),
    /// No inclusion proof.
    #[error("the entry has no inclusion proof")]
    NoProof,
    /// The proof is for another index.
    #[error("the inclusion proof is for index {proof}, the entry is at {entry}")]
    ProofIndex {
        /// The entry's index.
        entry: u64,
        /// The proof's.
        proof: u64,
    },
    /// The proof does not lead to its root.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// No checkpoint with the proof.
    #[error("the inclusion proof has no checkpoint")]
    NoCheckpoint,
    /// The checkpoint does not verify.
    #[error("the checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The checkpoint is of another tree than the proof's.
    #[error(
        "the checkpoint (size {checkpoint_size}) does not match the inclusion proof (size {proof_size})"
    )]
    CheckpointMismatch {
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// The proof's.
        proof_size: u64,
    },
}

/// What a verified entry proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    /// The size of the tree the entry was proven in.
    pub tree_size: u64,
    /// Its root.
    pub root_hash: Hash,
    /// The checkpoint's origin.
    pub origin: String,
}

/// Verifies an entry fully: its UUID is its leaf hash, its log ID is `key`'s, its SET verifies,
/// and its inclusion proof leads to a checkpoint signed by `key`. Every part is required.
pub fn verify_entry(e: &LogEntry, key: &LogKey) -> Result<VerifiedEntry, EntryError> {
    if !e.uuid_matches_body() {
        return Err(EntryError::UuidNotLeaf {
            uuid: e.uuid.clone(),
            leaf: hex_lower(&e.leaf_hash()),
        });
    }
    if e.log_id != key.log_id() {
        return Err(EntryError::WrongLog {
            expected: hex_lower(key.log_id()),
            got: hex_lower(&e.log_id),
        });
    }
    let set = e.set.as_ref().ok_or(EntryError::NoSet)?;
    sigil_tlog::set::verify(
        key.key(),
        set,
        &e.body_b64,
        e.integrated_time,
        &hex_lower(&e.log_id),
        e.log_index,
    )?;
    let p = e.proof.as_ref().ok_or(EntryError::NoProof)?;
    if p.log_index != e.log_index {
        return Err(EntryError::ProofIndex {
            entry: e.log_index,
            proof: p.log_index,
        });
    }
    merkle::verify_inclusion(
        p.log_index,
        p.tree_size,
        &e.leaf_hash(),
        &p.hashes,
        &p.root_hash,
    )?;
    let cp = key.checkpoint(p.checkpoint.as_deref().ok_or(EntryError::NoCheckpoint)?)?;
    if cp.size != p.tree_size || cp.root_hash != p.root_hash {
        return Err(EntryError::CheckpointMismatch {
            checkpoint_size: cp.size,
            proof_size: p.tree_size,
        });
    }
    Ok(VerifiedEntry {
        tree_size: cp.size,
        root_hash: cp.root_hash,
        origin: cp.origin,
    })
}

/// Why two views of a log are not one log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsistencyError {
    /// The log is smaller than it was.
    #[error("rollback: the log's tree has {now} entries, fewer than the {seen} already seen")]
    Rollback {
        /// The size seen before.
        seen: u64,
        /// The size now.
        now: u64,
    },
    /// Two different trees of one size are signed.
    #[error("split view: two different trees of size {size} are signed")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// The older tree is not a prefix of the newer one.
    #[error("split view: the tree of {first} is not a prefix of the tree of {second}: {source}")]
    NotPrefix {
        /// The older size.
        first: u64,
        /// The newer size.
        second: u64,
        /// Why the proof failed.
        source: ProofError,
    },
    /// The checkpoints name different logs.
    #[error("the log's origin changed from {old} to {new}")]
    OriginChanged {
        /// The origin seen before.
        old: String,
        /// Now.
        new: String,
    },
}

/// Whether `proof` (the log's consistency proof between the two sizes; unused when no proof is
/// needed) shows that `old` is a prefix of `new`.
pub fn check_consistency(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<(), ConsistencyError> {
    if old.origin != new.origin {
        return Err(ConsistencyError::OriginChanged {
            old: old.origin.clone(),
            new: new.origin.clone(),
        });
    }
    if old.size > new.size {
        return Err(ConsistencyError::Rollback {
            seen: old.size,
            now: new.size,
        });
    }
    if old.size == new.size {
        return if old.root_hash == new.root_hash {
            Ok(())
        } else {
            Err(ConsistencyError::SplitView { size: old.size })
        };
    }
    if old.size == 0 {
        return Ok(());
    }
    merkle::verify_consistency(old.size, new.size, &old.root_hash, &new.root_hash, proof).map_err(
        |source| ConsistencyError::NotPrefix {
            first: old.size,
            second: new.size,
            source,
        },
    )
}

/// Whether checking `old` against `new` needs a consistency proof from the log.
pub fn needs_proof(old: &Checkpoint, new: &Checkpoint) -> bool {
    old.origin == new.origin && 0 < old.size && old.size < new.size
}

/// What a monitor remembers between runs: the last checkpoint it verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorState {
    /// The checkpoint, verified.
    pub checkpoint: Checkpoint,
    /// Its signed note.
    pub note: String,
}

/// Why a monitor's state file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not JSON, or without a `checkpoint` string.
    #[error("the state is not a monitor's state (JSON with a \"checkpoint\")")]
    Shape,
    /// Its checkpoint does not verify with the log's key.
    #[error("the state's checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
}

impl MonitorState {
    /// A state for a checkpoint the monitor has verified.
    pub fn new(checkpoint: Checkpoint, note: String) -> Self {
        Self { checkpoint, note }
    }

    /// Reads a state file's bytes; its checkpoint must verify with `key` (a state is not
    /// trusted because it is on disk).
    pub fn parse(bytes: &[u8], key: &LogKey) -> Result<Self, StateError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|_| StateError::Shape)?;
        let note = v["checkpoint"]
            .as_str()
            .ok_or(StateError::Shape)?
            .to_owned();
        Ok(Self {
            checkpoint: key.checkpoint(&note)?,
            note,
        })
    }

    /// The state file's JSON.
    pub fn to_json(&self) -> Value {
        json!({"origin": self.checkpoint.origin, "treeSize": self.checkpoint.size,
               "rootHash": hex_lower(&self.checkpoint.root_hash), "checkpoint": self.note})
    }
}

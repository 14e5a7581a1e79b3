//! The transparency-log client of Sigil, for Sigil's own log and Rekor v1: upload (with the
//! 409 "already logged" answer followed to the existing entry), get by index or UUID, search,
//! and the verification of what the log answers — an entry's SET, inclusion proof and
//! checkpoint ([`verify::verify_entry`]), consistency between checkpoints, and a monitor's
//! state with its rollback and split-view checks. Answers are parsed strictly
//! ([`entry::LogEntry::parse_answer`], pure and fuzzed): nothing missing becomes zero, and an
//! answer that is not the entry asked for is refused.
//!
//! # Example: verify an entry the log answered
//!
//! ```
//! use sigil_rekor::entry::LogEntry;
//! use sigil_rekor::verify::{EntryError, LogKey, verify_entry};
//!
//! let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)?;
//! let log = LogKey::new(key.public_key().clone());
//! // An answer without its SET and proof parses, but does not verify.
//! let body = "eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiaGFzaGVkcmVrb3JkIn0=";
//! let uuid = sigil_crypto::hash::hex_lower(&sigil_tlog::merkle::leaf_hash(
//!     br#"{"apiVersion":"0.0.1","kind":"hashedrekord"}"#,
//! ));
//! let answer = serde_json::json!({ uuid: {
//!     "body": body, "integratedTime": 1_700_000_000, "logIndex": 0,
//!     "logID": sigil_crypto::hash::hex_lower(log.log_id()),
//! }});
//! let entries = LogEntry::parse_answer(answer.to_string().as_bytes())?;
//! assert_eq!(verify_entry(&entries[0], &log), Err(EntryError::NoSet));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Over the network: [`client::Client::new`], then `entry_by_index`, `upload_verified`,
//! `prove_consistency`, ...
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod entry;
pub mod http;
pub mod lookup;
pub mod verify;

pub use client::{Client, RekorError};
pub use entry::LogEntry;
pub use verify::LogKey;

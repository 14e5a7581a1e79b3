//! Sigil's wire formats as plain types, parsed strictly with size limits and written
//! byte-for-byte as Sigstore and cosign write them. No I/O, no cryptography.
//!
//! - [`signature`]: base64 detached signature files (`cosign sign-blob` output).
//! - [`checksums`]: GNU coreutils and BSD-tag checksum files (`SHA256SUMS`).
//! - [`bundle`]: Sigstore bundles v0.1-v0.3 and cosign's older `--bundle` JSON.
//! - [`trust_root`]: `trusted_root.json` with its validity windows; [`time`]: RFC 3339.
//! - [`rekor`]: Rekor entry bodies; [`jcs`]: RFC 8785 canonical JSON (SETs).
//! - [`dsse`]: DSSE PAE and in-toto statements.
//! - [`simple_signing`]: cosign's image signature payload, byte for byte.
//!
//! # Example
//!
//! ```
//! use sigil_formats::{bundle, signature};
//!
//! let sig = signature::decode_signature(b"MEUCIQ==\n")?;
//! let b = bundle::Bundle::message_signature_with_key("hint".into(), "SHA2_256", vec![0; 32], sig);
//! let back = bundle::parse_any(b.to_json().as_bytes())?;
//! assert!(matches!(back, bundle::AnyBundle::Sigstore(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bundle;
pub mod checksums;
pub mod dsse;
pub mod jcs;
pub mod oci;
pub mod reference;
pub mod registry_events;
pub mod rekor;
pub mod signature;
pub mod signing_config;
pub mod simple_signing;
pub mod time;
pub mod trust_root;

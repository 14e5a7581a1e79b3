//! X.509 for Sigil: certificates and their Sigstore identities, path validation at the time a
//! signature was made (rustls-webpki), embedded SCTs against trusted CT logs, and RFC 3161
//! timestamps against trusted timestamp authorities. No I/O.
//!
//! # Example: is this Fulcio leaf from that authority, for that identity?
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (leaf_der, authority_chain, signed_at): (Vec<u8>, Vec<Vec<u8>>, sigil_formats::time::Timestamp) = todo!();
//! use sigil_pki::{cert::Certificate, chain::{verify_chain, Purpose}};
//!
//! let leaf = Certificate::from_der(&leaf_der)?;
//! let issuer = verify_chain(&leaf, &authority_chain, signed_at, Purpose::CodeSigning)?;
//! println!("{:?} issued by {issuer:?} for {:?}", leaf.fulcio_issuer()?, leaf.subject_alternative_names()?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cert;
pub mod chain;
pub mod csr;
pub mod encode;
pub mod issue;
pub mod sct;
pub mod tlv;
pub mod tsa;

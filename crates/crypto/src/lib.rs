//! Keys, signatures and digests for Sigil, wire-compatible with cosign.
//!
//! This crate is Sigil's one seam to cryptography: every signature, verification and digest goes
//! through it, on top of aws-lc-rs (ed25519-dalek only for Ed25519ph, which aws-lc-rs lacks).
//! It opens no files or sockets beyond what a [`KeyRef`] names.
//!
//! - [`hash`]: streaming SHA-256/384/512.
//! - [`cache`]: remembers verified signatures (exact bytes and key) so repeats cost a lookup.
//! - [`keys`]: [`SigningKey`] and [`PublicKey`] for ECDSA P-256/P-384/P-521, Ed25519 and RSA,
//!   PKCS#8, SEC1, PKCS#1 and PKIX, with cosign's acceptance rules.
//! - [`keyfile`]: cosign's encrypted key file (`ENCRYPTED SIGSTORE PRIVATE KEY`).
//! - [`keyref`]: `--key` references (`PATH`, `env://VAR`, `https://…`).
//! - [`scrypt`]: scrypt with a bounded (32 MiB) table, for key files.
//!
//! # Example: generate, encrypt, sign a stream, verify
//!
//! ```
//! use sigil_crypto::{hash, keyfile, KeyAlgorithm, SigningKey};
//!
//! let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
//! // What `generate-key-pair` writes as cosign.key (fast scrypt parameters for the example):
//! let pem = keyfile::encrypt_key(&key, b"pw", keyfile::KeyFileLabel::Sigstore,
//!                                keyfile::ScryptParams::ACCEPTED[0])?;
//! let key = keyfile::EncryptedKeyFile::parse(pem.as_bytes())?.decrypt(b"pw")?;
//!
//! // Sign a file as `cosign sign-blob` does: digest streamed, then signed.
//! let content: &[u8] = b"release artefact";
//! let digest = hash::hash_reader(key.algorithm().signing_hash(), content, |_| {})?;
//! let signature = key.sign_digest(&digest)?;
//! key.public_key().verify_digest(&digest, &signature)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
pub mod fs;
pub mod hash;
pub mod keyfile;
pub mod keyref;
pub mod keys;
pub mod pem;
pub mod scrypt;

pub use hash::{Digest, HashAlgorithm, Hasher};

/// `N` bytes from the operating system's secure random source (serial numbers, nonces).
///
/// # Panics
///
/// When the system's random source fails, which no caller can recover from securely.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).unwrap_or_else(|_| panic!("the system random source failed"));
    b
}
pub use keyref::KeyRef;
pub use keys::{KeyAlgorithm, KeyError, PublicKey, SignatureError, SigningKey};

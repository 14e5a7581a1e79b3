//! Sigil's signing flows as library calls, for the `sigil` commands and for every service that
//! signs (the registry-push signer, release records): blob signatures and bundles
//! ([`blob`]), DSSE attestations of blobs and images, and image signatures in cosign's tag
//! layout or as OCI 1.1 referrers, recursive over indexes ([`image`]); each with the optional
//! upload to a transparency log ([`Log`]), whose answer is verified before it is used.
//!
//! Everything signs through one seam, [`Signer`]: a key file's [`SigningKey`] implements it
//! today; a keyless certificate, a PKCS#11 token or a remote signer implement the same trait.
//!
//! # Example: sign a blob into a Sigstore bundle
//!
//! ```
//! use sigil_crypto::{Digest, KeyAlgorithm, SigningKey};
//! use sigil_sign::{Signer, blob};
//!
//! let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
//! let digest = Digest::of(key.signing_hash(), b"release.tar.gz contents");
//! let signed = blob::sign_digest(&key, &digest, None)?;
//! assert!(key.public_key().verify(b"release.tar.gz contents", &signed.signature).is_ok());
//! let bundle_json = signed.bundle.to_json();
//! assert!(bundle_json.contains("messageSignature"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blob;
pub mod image;

use serde_json::Value;
use sigil_crypto::{Digest, HashAlgorithm, KeyError, PublicKey, SigningKey};
use sigil_formats::bundle::{Bundle, TransparencyLogEntry};
use sigil_formats::time::Timestamp;
use sigil_rekor::{Client, LogKey, RekorError};

/// What signs: the seam every signing flow goes through.
pub trait Signer: Send + Sync {
    /// The public key verifiers check the signatures with.
    fn public_key(&self) -> &PublicKey;

    /// Signs content whose digest, by [`Signer::signing_hash`], is `digest`. The one
    /// operation a signer must provide (a token or a remote signer sees only the digest).
    fn sign_digest(&self, digest: &Digest) -> Result<Vec<u8>, SignError>;

    /// The hash the key signs over.
    fn signing_hash(&self) -> HashAlgorithm {
        self.public_key().algorithm().signing_hash()
    }

    /// Signs an in-memory message (hashed with [`Signer::signing_hash`]).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_digest(&Digest::of(self.signing_hash(), message))
    }

    /// A bundle's verification material for this signer, around `content`: a public-key hint
    /// for a key. (A keyless signer returns its certificate here.)
    fn bundle(&self, content: BundleContent) -> Bundle {
        match content {
            BundleContent::Message { digest, signature } => Bundle::message_signature_with_key(
                self.public_key().hint(),
                digest.algorithm().sigstore_name(),
                digest.as_bytes().to_vec(),
                signature,
            ),
            BundleContent::Dsse(envelope) => {
                Bundle::dsse_with_key(self.public_key().hint(), envelope)
            }
        }
    }
}

/// What a bundle carries.
#[derive(Debug, Clone)]
pub enum BundleContent {
    /// A signature over an artefact's digest.
    Message {
        /// The artefact's digest.
        digest: Digest,
        /// The signature.
        signature: Vec<u8>,
    },
    /// A DSSE envelope.
    Dsse(sigil_formats::bundle::Envelope),
}

impl Signer for SigningKey {
    fn public_key(&self) -> &PublicKey {
        SigningKey::public_key(self)
    }

    fn sign_digest(&self, digest: &Digest) -> Result<Vec<u8>, SignError> {
        Ok(SigningKey::sign_digest(self, digest)?)
    }
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The key refused (wrong digest algorithm, a failed operation).
    #[error("signing: {0}")]
    Key(#[from] KeyError),
    /// The registry refused or could not be reached.
    #[error(transparent)]
    Registry(#[from] sigil_oci::RegistryError),
    /// The transparency log refused, could not be reached, or answered with an entry that
    /// does not verify.
    #[error("the transparency log at {url}: {source}")]
    Log {
        /// The log.
        url: String,
        /// What went wrong.
        source: RekorError,
    },
    /// Something to sign that cannot be encoded (a predicate that is not JSON text).
    #[error("{0}")]
    Encode(String),
}

/// A transparency log to upload to, with the key its answers must verify with.
#[derive(Debug, Clone)]
pub struct Log {
    client: Client,
    key: LogKey,
}

impl Log {
    /// The log at `url`, whose answers are verified with `key`.
    pub fn new(url: &str, key: PublicKey) -> Result<Self, SignError> {
        Ok(Self {
            client: Client::new(url).map_err(log_error(url))?,
            key: LogKey::new(key),
        })
    }

    /// The log at `url` with the key it serves (trust on first use: a verifier checks the
    /// entry against its own trust root later).
    pub fn fetching_key(url: &str) -> Result<Self, SignError> {
        let client = Client::new(url).map_err(log_error(url))?;
        let key = client.public_key().map_err(log_error(url))?;
        Ok(Self {
            client,
            key: LogKey::new(key),
        })
    }

    /// The log's URL.
    pub fn url(&self) -> &str {
        self.client.base()
    }

    /// Uploads `proposed` and returns the verified entry as a bundle's log entry.
    pub fn upload(&self, proposed: &Value) -> Result<TransparencyLogEntry, SignError> {
        let (entry, _) = self
            .client
            .upload_verified(proposed, &self.key)
            .map_err(log_error(self.client.base()))?;
        Ok(entry.to_bundle_entry())
    }
}

fn log_error(url: &str) -> impl FnOnce(RekorError) -> SignError + '_ {
    move |source| SignError::Log {
        url: url.to_owned(),
        source,
    }
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), else now: the time written into
/// attestations and referrer annotations.
pub fn now() -> Timestamp {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    Timestamp::from_unix(secs)
}

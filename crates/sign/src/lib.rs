//! Sigil's signing flows as library calls, for the `sigil` commands and for every service that
//! signs (the registry-push signer, release records): blob signatures and bundles
//! ([`blob`]), DSSE attestations of blobs and images, and image signatures in cosign's tag
//! layout or as OCI 1.1 referrers, recursive over indexes ([`image`]); each with the optional
//! upload to a transparency log ([`Log`]), whose answer is verified before it is used.
//!
//! Everything signs through one seam, [`Signer`]: a key file's [`SigningKey`] implements it,
//! and [`CertifiedSigner`] adds a certificate chain (cosign's `--certificate`, a keyless CA's
//! answer), which then goes into bundles, image annotations and log entries; a PKCS#11 token
//! or a remote signer implement the same trait.
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
pub mod keyless;
pub mod timestamp;

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

    /// The certificate chain (DER, leaf first) when the signer signs with a certificate (a
    /// keyless certificate from a CA, or `--certificate`); empty for a bare key.
    fn certificate_chain(&self) -> &[Vec<u8>] {
        &[]
    }

    /// The verifier a log records for this signer (PEM): the signing certificate, else the
    /// public key.
    fn verifier_pem(&self) -> String {
        match self.certificate_chain().first() {
            Some(leaf) => sigil_crypto::pem::encode("CERTIFICATE", leaf),
            None => self.public_key().to_pem(),
        }
    }

    /// A bundle's verification material for this signer, around `content`: the leaf
    /// certificate for a certified signer, else a public-key hint.
    fn bundle(&self, content: BundleContent) -> Bundle {
        if let Some(leaf) = self.certificate_chain().first() {
            return match content {
                BundleContent::Message { digest, signature } => {
                    Bundle::message_signature_with_certificate(
                        leaf.clone(),
                        digest.algorithm().sigstore_name(),
                        digest.as_bytes().to_vec(),
                        signature,
                    )
                }
                BundleContent::Dsse(envelope) => {
                    Bundle::dsse_with_certificate(leaf.clone(), envelope)
                }
            };
        }
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

/// A key that signs with a certificate for it (cosign's `--certificate` and
/// `--certificate-chain`; a keyless CA's answer): its signatures carry the chain, and logs
/// record the certificate.
pub struct CertifiedSigner<S: Signer> {
    key: S,
    chain: Vec<Vec<u8>>,
}

impl<S: Signer> CertifiedSigner<S> {
    /// `key` with `chain` (DER, leaf first, then the intermediates). A root (a self-issued
    /// certificate after the leaf) is dropped: verifiers take roots from their trust root,
    /// never from a signature. The leaf must certify `key`'s public key.
    pub fn new(key: S, mut chain: Vec<Vec<u8>>) -> Result<Self, SignError> {
        let leaf = chain
            .first()
            .ok_or_else(|| SignError::Certificate("no certificate was given".into()))?;
        let cert = sigil_pki::cert::Certificate::from_der(leaf)
            .map_err(|e| SignError::Certificate(format!("the signing certificate: {e}")))?;
        let certified = cert
            .public_key()
            .map_err(|e| SignError::Certificate(format!("the signing certificate's key: {e}")))?;
        if certified.to_pem() != key.public_key().to_pem() {
            return Err(SignError::Certificate(
                "the signing certificate is for another key than the one signing".into(),
            ));
        }
        let mut keep = vec![true; chain.len()];
        for (i, der) in chain.iter().enumerate().skip(1) {
            let c = sigil_pki::cert::Certificate::from_der(der).map_err(|e| {
                SignError::Certificate(format!("certificate {} of the chain: {e}", i + 1))
            })?;
            keep[i] = !c.is_self_issued();
        }
        let mut k = keep.into_iter();
        chain.retain(|_| k.next().unwrap_or(false));
        Ok(Self { key, chain })
    }
}

impl<S: Signer> Signer for CertifiedSigner<S> {
    fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    fn sign_digest(&self, digest: &Digest) -> Result<Vec<u8>, SignError> {
        self.key.sign_digest(digest)
    }

    fn signing_hash(&self) -> HashAlgorithm {
        self.key.signing_hash()
    }

    fn certificate_chain(&self) -> &[Vec<u8>] {
        &self.chain
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
    /// A signing certificate that cannot be used (does not parse, is for another key).
    #[error("{0}")]
    Certificate(String),
    /// The timestamp authority refused, could not be reached, or answered with a reply that
    /// is not for this signature.
    #[error("the timestamp authority at {url}: {detail}")]
    Timestamp {
        /// Its URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The certificate authority refused or could not be reached (keyless signing).
    #[error("the certificate authority at {url}: {detail}")]
    CertificateAuthority {
        /// Its URL.
        url: String,
        /// What went wrong (the CA's reason when it gave one).
        detail: String,
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

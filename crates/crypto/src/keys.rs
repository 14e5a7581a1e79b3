//! Signing keys and public keys: ECDSA P-256/P-384/P-521, Ed25519 and RSA.
//!
//! Which hash a key signs with follows current cosign (sigstore's `GetDefaultPublicKeyDetails`):
//!
//! | key | signature |
//! |---|---|
//! | ECDSA P-256 | ECDSA over SHA-256, ASN.1 DER |
//! | ECDSA P-384 | ECDSA over SHA-384, ASN.1 DER (verifiers also accept the SHA-256 of older cosign) |
//! | ECDSA P-521 | ECDSA over SHA-512, ASN.1 DER (verifiers also accept SHA-256) |
//! | RSA 2048-4096 | RSASSA-PKCS1-v1_5 over SHA-256 |
//! | Ed25519 | Ed25519ph (RFC 8032 §5.1, SHA-512 prehash, empty context), 64 raw bytes |

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{
    self as lc_sig, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::asn1::{BitStringRef, OctetStringRef};
use der::{Decode, Encode};
use pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use spki::SubjectPublicKeyInfoRef;
use zeroize::Zeroizing;

use crate::hash::{Digest, HashAlgorithm};
use crate::pem;

/// OID of `id-ecPublicKey`.
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// OID of `rsaEncryption`.
pub const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// OID of `id-Ed25519`.
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// OID of the P-256 curve (`prime256v1`).
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// OID of the P-384 curve (`secp384r1`).
pub const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// OID of the P-521 curve (`secp521r1`).
pub const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_P224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.33");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// Smallest and largest RSA modulus cosign accepts for signing keys.
pub const RSA_MIN_BITS: usize = 2048;
/// See [`RSA_MIN_BITS`].
pub const RSA_MAX_BITS: usize = 4096;

/// The kind of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// ECDSA on NIST P-521.
    EcdsaP521,
    /// Ed25519, used as Ed25519ph.
    Ed25519,
    /// RSA with the given modulus size in bits.
    Rsa {
        /// Modulus size.
        bits: usize,
    },
}

impl KeyAlgorithm {
    /// The hash this key signs artefacts with.
    pub fn signing_hash(self) -> HashAlgorithm {
        match self {
            Self::EcdsaP256 | Self::Rsa { .. } => HashAlgorithm::Sha256,
            Self::EcdsaP384 => HashAlgorithm::Sha384,
            Self::EcdsaP521 | Self::Ed25519 => HashAlgorithm::Sha512,
        }
    }

    /// Hashes a verifier accepts for this key: the signing hash first, then legacy ones.
    pub fn accepted_hashes(self) -> &'static [HashAlgorithm] {
        match self {
            Self::EcdsaP256 | Self::Rsa { .. } => &[HashAlgorithm::Sha256],
            Self::EcdsaP384 => &[HashAlgorithm::Sha384, HashAlgorithm::Sha256],
            Self::EcdsaP521 => &[HashAlgorithm::Sha512, HashAlgorithm::Sha256],
            Self::Ed25519 => &[HashAlgorithm::Sha512],
        }
    }

    /// The name used on Sigil's command line (`ecdsa-p256`, `rsa-3072`, ...).
    pub fn cli_name(self) -> String {
        match self {
            Self::EcdsaP256 => "ecdsa-p256".into(),
            Self::EcdsaP384 => "ecdsa-p384".into(),
            Self::EcdsaP521 => "ecdsa-p521".into(),
            Self::Ed25519 => "ed25519".into(),
            Self::Rsa { bits } => format!("rsa-{bits}"),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EcdsaP256 => f.write_str("ECDSA P-256"),
            Self::EcdsaP384 => f.write_str("ECDSA P-384"),
            Self::EcdsaP521 => f.write_str("ECDSA P-521"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
        }
    }
}

/// Algorithms `generate-key-pair` can create.
pub const GENERATE_ALGORITHMS: [&str; 6] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "ecdsa-p521",
    "ed25519",
    "rsa-3072",
    "rsa-4096",
];

impl FromStr for KeyAlgorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "ecdsa-p256" | "p256" | "p-256" => Self::EcdsaP256,
            "ecdsa-p384" | "p384" | "p-384" => Self::EcdsaP384,
            "ecdsa-p521" | "p521" | "p-521" => Self::EcdsaP521,
            "ed25519" => Self::Ed25519,
            "rsa-2048" => Self::Rsa { bits: 2048 },
            "rsa-3072" => Self::Rsa { bits: 3072 },
            "rsa-4096" => Self::Rsa { bits: 4096 },
            _ => {
                return Err(KeyError::UnknownAlgorithmName { name: s.to_owned() });
            }
        })
    }
}

/// Errors about keys: parsing, cosign's acceptance rules, generation, signing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The PEM wrapper was bad.
    #[error(transparent)]
    Pem(#[from] pem::PemError),
    /// A PEM block with a label this operation cannot use.
    #[error("expected a {expected} PEM block, found {found:?}{hint}")]
    WrongPemLabel {
        /// What was expected.
        expected: &'static str,
        /// The label found.
        found: String,
        /// Advice, starting with "; " or empty.
        hint: &'static str,
    },
    /// Algorithm name not known to `--algorithm`.
    #[error(
        "unknown key algorithm {name:?}: expected one of ecdsa-p256, ecdsa-p384, ecdsa-p521, ed25519, rsa-3072, rsa-4096"
    )]
    UnknownAlgorithmName {
        /// The name given.
        name: String,
    },
    /// A SEC1 `EC PRIVATE KEY` where PKCS#8 was required (cosign key files).
    #[error(
        "the key inside is a SEC1 EC PRIVATE KEY, but cosign key files must hold PKCS#8 \
         (cosign: \"use ParseECPrivateKey instead\"); re-import the plain key with `sigil import-key-pair`"
    )]
    Sec1InsteadOfPkcs8,
    /// A PKCS#1 `RSA PRIVATE KEY` where PKCS#8 was required.
    #[error(
        "the key inside is a PKCS#1 RSA PRIVATE KEY, but cosign key files must hold PKCS#8; \
         re-import the plain key with `sigil import-key-pair`"
    )]
    Pkcs1InsteadOfPkcs8,
    /// The bytes are not a DER structure of the expected kind.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// An algorithm OID we do not support.
    #[error(
        "unsupported key algorithm (OID {oid}): Sigil supports ECDSA P-256/P-384/P-521, Ed25519 and RSA"
    )]
    UnsupportedAlgorithm {
        /// The algorithm OID.
        oid: String,
    },
    /// An EC curve we do not support (P-224 and secp256k1 included, as in cosign).
    #[error(
        "unsupported elliptic curve {curve}: Sigil (like cosign) supports P-256, P-384 and P-521"
    )]
    UnsupportedCurve {
        /// The curve's name or OID.
        curve: String,
    },
    /// RSA modulus outside cosign's 2048..=4096 bits.
    #[error("RSA key of {bits} bits refused: cosign accepts RSA keys of 2048 to 4096 bits")]
    RsaKeySize {
        /// The key's size.
        bits: usize,
    },
    /// The crypto backend rejected the key material.
    #[error("the {algorithm} key was rejected by the crypto backend: {reason}")]
    Rejected {
        /// The algorithm.
        algorithm: String,
        /// aws-lc's reason.
        reason: String,
    },
    /// Key generation failed.
    #[error("could not generate a {algorithm} key")]
    Generation {
        /// The algorithm.
        algorithm: String,
    },
    /// A digest of the wrong algorithm was handed to a key.
    #[error("a {key} key signs {expected} digests, got a {got} digest")]
    DigestAlgorithm {
        /// The key algorithm.
        key: KeyAlgorithm,
        /// What the key needs.
        expected: HashAlgorithm,
        /// What it got.
        got: HashAlgorithm,
    },
    /// The backend failed to sign.
    #[error("signing with the {0} key failed")]
    Signing(KeyAlgorithm),
}

/// Errors from checking a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature does not match the data and key.
    #[error(
        "the signature does not match: it was not made over this content ({digest}) with the {key} key \
         {hint} (wrong file, wrong key, or a tampered signature)"
    )]
    Mismatch {
        /// The key algorithm.
        key: KeyAlgorithm,
        /// The digest checked.
        digest: String,
        /// The key's hint (base64 SHA-256 of its DER).
        hint: String,
    },
    /// The signature bytes have the wrong shape for the key.
    #[error("the signature is malformed for a {key} key: {detail}")]
    Malformed {
        /// The key algorithm.
        key: KeyAlgorithm,
        /// What was wrong.
        detail: String,
    },
    /// This key cannot check a digest of that algorithm.
    #[error("a {key} key cannot check a signature over a {digest} digest")]
    UnsupportedDigest {
        /// The key algorithm.
        key: KeyAlgorithm,
        /// The digest algorithm.
        digest: HashAlgorithm,
    },
}

/// A public key: its algorithm and its PKIX `SubjectPublicKeyInfo` DER.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
    /// The raw key the backend takes: EC point, PKCS#1 `RSAPublicKey`, or 32 Ed25519 bytes.
    raw: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, hint {})", self.algorithm, self.hint())
    }
}

/// Largest DER public key accepted (an RSA-8192 SPKI is ~1.1 KB).
const MAX_SPKI_LEN: usize = 16 * 1024;

impl PublicKey {
    /// Parses a PKIX `SubjectPublicKeyInfo` DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        if der.len() > MAX_SPKI_LEN {
            return Err(KeyError::Malformed {
                what: "public key",
                detail: format!("{} bytes is over the {MAX_SPKI_LEN}-byte limit", der.len()),
            });
        }
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| KeyError::Malformed {
            what: "SubjectPublicKeyInfo",
            detail: e.to_string(),
        })?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::Malformed {
                what: "SubjectPublicKeyInfo",
                detail: "public key bit string has unused bits".into(),
            })?;
        let oid = spki.algorithm.oid;
        let algorithm = if oid == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|e| KeyError::Malformed {
                    what: "EC public key parameters",
                    detail: e.to_string(),
                })?;
            let alg = curve_algorithm(curve)?;
            // Reject points the backend would reject, now, with a clear error.
            UnparsedPublicKey::new(ecdsa_verify_alg(alg, alg.signing_hash()), raw)
                .parse()
                .map_err(|e| KeyError::Rejected {
                    algorithm: alg.to_string(),
                    reason: e.to_string(),
                })?;
            alg
        } else if oid == OID_RSA_ENCRYPTION {
            let bits = rsa_public_bits(raw)?;
            if !(1024..=8192).contains(&bits) {
                return Err(KeyError::RsaKeySize { bits });
            }
            KeyAlgorithm::Rsa { bits }
        } else if oid == OID_ED25519 {
            if spki.algorithm.parameters.is_some() {
                return Err(KeyError::Malformed {
                    what: "Ed25519 public key",
                    detail: "algorithm parameters must be absent (RFC 8410)".into(),
                });
            }
            let bytes: &[u8; 32] = raw.try_into().map_err(|_| KeyError::Malformed {
                what: "Ed25519 public key",
                detail: format!("{} bytes, expected 32", raw.len()),
            })?;
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|e| KeyError::Rejected {
                algorithm: "Ed25519".into(),
                reason: e.to_string(),
            })?;
            KeyAlgorithm::Ed25519
        } else {
            return Err(KeyError::UnsupportedAlgorithm {
                oid: oid.to_string(),
            });
        };
        Ok(Self {
            algorithm,
            spki_der: der.to_vec(),
            raw: raw.to_vec(),
        })
    }

    /// Parses a PEM public key: `PUBLIC KEY` (PKIX) or `RSA PUBLIC KEY` (PKCS#1), as cosign does.
    pub fn from_pem(input: &[u8]) -> Result<Self, KeyError> {
        if let Some(label) = pem::peek_label(input) {
            if !matches!(label.as_str(), "PUBLIC KEY" | "RSA PUBLIC KEY") {
                return Err(KeyError::WrongPemLabel {
                    expected: "PUBLIC KEY",
                    hint: public_key_label_hint(&label),
                    found: label,
                });
            }
        }
        let block = pem::decode(input)?;
        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.contents),
            "RSA PUBLIC KEY" => {
                let spki = rsa_spki_from_pkcs1(&block.contents)?;
                Self::from_spki_der(&spki)
            }
            other => Err(KeyError::WrongPemLabel {
                expected: "PUBLIC KEY",
                found: other.to_owned(),
                hint: public_key_label_hint(other),
            }),
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// PKIX `SubjectPublicKeyInfo` DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// PEM (`PUBLIC KEY`), as in `cosign.pub`.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki_der)
    }

    /// The Sigstore key hint: base64 of the SHA-256 of the DER (`publicKey.hint` in bundles).
    pub fn hint(&self) -> String {
        STANDARD.encode(Digest::of(HashAlgorithm::Sha256, &self.spki_der).as_bytes())
    }

    /// Checks `signature` over content whose digest is `digest`.
    pub fn verify_digest(&self, digest: &Digest, signature: &[u8]) -> Result<(), SignatureError> {
        self.cached_digest_check(b"digest", digest, signature, || {
            self.verify_digest_uncached(digest, signature)
        })
    }

    /// Runs `check` unless this exact (scheme, key, digest, signature) verified before.
    fn cached_digest_check(
        &self,
        scheme: &[u8],
        digest: &Digest,
        signature: &[u8],
        check: impl FnOnce() -> Result<(), SignatureError>,
    ) -> Result<(), SignatureError> {
        let alg = [digest.algorithm().output_len() as u8];
        crate::cache::verified(
            &[scheme, &alg, &self.spki_der, digest.as_bytes(), signature],
            check,
        )
    }

    /// The error for a signature that does not match `digest`.
    fn mismatch(&self, digest: &Digest) -> SignatureError {
        SignatureError::Mismatch {
            key: self.algorithm,
            digest: digest.to_string(),
            hint: self.hint(),
        }
    }

    fn verify_digest_uncached(
        &self,
        digest: &Digest,
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let mismatch = || self.mismatch(digest);
        if signature.is_empty() {
            return Err(SignatureError::Malformed {
                key: self.algorithm,
                detail: "the signature is empty".into(),
            });
        }
        if !self
            .algorithm
            .accepted_hashes()
            .contains(&digest.algorithm())
        {
            return Err(SignatureError::UnsupportedDigest {
                key: self.algorithm,
                digest: digest.algorithm(),
            });
        }
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                if signature.first() != Some(&0x30) {
                    return Err(SignatureError::Malformed {
                        key: self.algorithm,
                        detail: "not an ASN.1 DER ECDSA signature (does not start with a SEQUENCE)"
                            .into(),
                    });
                }
                self.verify_digest_any_hash_uncached(digest, signature)
            }
            KeyAlgorithm::Rsa { bits } => {
                if signature.len() != bits.div_ceil(8) {
                    return Err(SignatureError::Malformed {
                        key: self.algorithm,
                        detail: format!(
                            "{} bytes, an RSA-{bits} signature has {}",
                            signature.len(),
                            bits.div_ceil(8)
                        ),
                    });
                }
                if bits >= 2048 {
                    return self.verify_digest_any_hash_uncached(digest, signature);
                }
                UnparsedPublicKey::new(
                    &lc_sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                    &self.raw,
                )
                .verify_digest(&digest.to_lc(), signature)
                .map_err(|_| mismatch())
            }
            KeyAlgorithm::Ed25519 => {
                let (vk, sig) = self.ed25519_parts(signature, mismatch)?;
                vk.verify_prehashed_strict(Prehashed::new(digest), None, &sig)
                    .map_err(|_| mismatch())
            }
        }
    }

    /// Checks that `signature` has the encoding this key's signatures have (an ASN.1 DER
    /// SEQUENCE for ECDSA, the modulus length for RSA, 64 bytes for Ed25519), without verifying
    /// it: malformed input is told apart from a signature that does not match.
    pub fn check_signature_encoding(&self, signature: &[u8]) -> Result<(), SignatureError> {
        let malformed = |detail: String| SignatureError::Malformed {
            key: self.algorithm,
            detail,
        };
        if signature.is_empty() {
            return Err(malformed("the signature is empty".into()));
        }
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                let tlv_ok = signature.first() == Some(&0x30)
                    && match signature.get(1) {
                        Some(&n) if n < 0x80 => signature.len() == 2 + usize::from(n),
                        Some(&0x81) => signature
                            .get(2)
                            .is_some_and(|&n| signature.len() == 3 + usize::from(n)),
                        _ => false,
                    };
                if !tlv_ok {
                    return Err(malformed(
                        "not an ASN.1 DER ECDSA signature (not one DER SEQUENCE)".into(),
                    ));
                }
            }
            KeyAlgorithm::Rsa { bits } => {
                if signature.len() != bits.div_ceil(8) {
                    return Err(malformed(format!(
                        "{} bytes, an RSA-{bits} signature has {}",
                        signature.len(),
                        bits.div_ceil(8)
                    )));
                }
            }
            KeyAlgorithm::Ed25519 => {
                if signature.len() != 64 {
                    return Err(malformed(format!(
                        "{} bytes, an Ed25519 signature has 64",
                        signature.len()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Checks `signature` over `message` (hashing it with each accepted hash in turn).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let mut last = None;
        for alg in self.algorithm.accepted_hashes() {
            match self.verify_digest(&Digest::of(*alg, message), signature) {
                Ok(()) => return Ok(()),
                Err(e @ SignatureError::Mismatch { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| SignatureError::Mismatch {
            key: self.algorithm,
            digest: String::new(),
            hint: self.hint(),
        }))
    }
}

impl PublicKey {
    /// Checks a signature over a raw message as transparency-log checkpoints and DSSE envelopes
    /// are signed: ECDSA and RSA as in [`PublicKey::verify`], but **pure** Ed25519 (RFC 8032
    /// §5.1 without prehash), which is what Ed25519 log keys produce.
    pub fn verify_message(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        if self.algorithm != KeyAlgorithm::Ed25519 {
            return self.verify(message, signature);
        }
        crate::cache::verified(&[b"ed25519", &self.spki_der, message, signature], || {
            self.verify_ed25519_pure(message, signature)
        })
    }

    fn verify_ed25519_pure(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let mismatch = || SignatureError::Mismatch {
            key: self.algorithm,
            digest: "the message".into(),
            hint: self.hint(),
        };
        let (vk, sig) = self.ed25519_parts(signature, mismatch)?;
        vk.verify_strict(message, &sig).map_err(|_| mismatch())
    }

    /// The Ed25519 verifying key and a 64-byte signature, or the error for a malformed one.
    fn ed25519_parts(
        &self,
        signature: &[u8],
        mismatch: impl Fn() -> SignatureError,
    ) -> Result<(ed25519_dalek::VerifyingKey, ed25519_dalek::Signature), SignatureError> {
        let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| {
            SignatureError::Malformed {
                key: self.algorithm,
                detail: format!("{} bytes, an Ed25519 signature has 64", signature.len()),
            }
        })?;
        let bytes: &[u8; 32] = self.raw.as_slice().try_into().map_err(|_| mismatch())?;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| mismatch())?;
        Ok((vk, sig))
    }

    /// Checks a signature over a digest of any supported hash, as certificate authorities and
    /// timestamp authorities sign (ECDSA with SHA-256/384/512 on any curve, RSA PKCS#1 v1.5
    /// with SHA-256/384/512). Artefact signatures use [`PublicKey::verify_digest`], which only
    /// accepts the hashes cosign pairs with the key.
    pub fn verify_digest_any_hash(
        &self,
        digest: &Digest,
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        self.cached_digest_check(b"any-hash", digest, signature, || {
            self.verify_digest_any_hash_uncached(digest, signature)
        })
    }

    fn verify_digest_any_hash_uncached(
        &self,
        digest: &Digest,
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let mismatch = || self.mismatch(digest);
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                UnparsedPublicKey::new(
                    ecdsa_verify_alg(self.algorithm, digest.algorithm()),
                    &self.raw,
                )
                .verify_digest(&digest.to_lc(), signature)
                .map_err(|_| mismatch())
            }
            KeyAlgorithm::Rsa { .. } => {
                let alg: &'static dyn lc_sig::VerificationAlgorithm = match digest.algorithm() {
                    HashAlgorithm::Sha256 => &lc_sig::RSA_PKCS1_2048_8192_SHA256,
                    HashAlgorithm::Sha384 => &lc_sig::RSA_PKCS1_2048_8192_SHA384,
                    HashAlgorithm::Sha512 => &lc_sig::RSA_PKCS1_2048_8192_SHA512,
                };
                UnparsedPublicKey::new(alg, &self.raw)
                    .verify_digest(&digest.to_lc(), signature)
                    .map_err(|_| mismatch())
            }
            KeyAlgorithm::Ed25519 => Err(SignatureError::UnsupportedDigest {
                key: self.algorithm,
                digest: digest.algorithm(),
            }),
        }
    }

    /// The raw key bytes: the EC point, the PKCS#1 `RSAPublicKey`, or the 32 Ed25519 bytes.
    pub fn raw_bytes(&self) -> &[u8] {
        &self.raw
    }
}

fn public_key_label_hint(label: &str) -> &'static str {
    if label.contains("PRIVATE KEY") {
        "; this is a private key: verify with the public key (`sigil public-key --key FILE`)"
    } else if label == "CERTIFICATE" {
        "; this is a certificate: pass it with --certificate, or extract its key with `openssl x509 -pubkey`"
    } else {
        ""
    }
}

/// A private key that can sign, with its public key.
pub struct SigningKey {
    inner: Inner,
    public: PublicKey,
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(ed25519_dalek::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private material.
        write!(f, "SigningKey({:?})", self.public)
    }
}

impl SigningKey {
    /// Generates a new key.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let fail = || KeyError::Generation {
            algorithm: algorithm.to_string(),
        };
        match algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                let kp =
                    EcdsaKeyPair::generate(ecdsa_signing_alg(algorithm)).map_err(|_| fail())?;
                Self::from_ecdsa(algorithm, kp)
            }
            KeyAlgorithm::Rsa { bits } => {
                let size = match bits {
                    2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                    3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                    4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
                    _ => return Err(KeyError::RsaKeySize { bits }),
                };
                let kp = RsaKeyPair::generate(size).map_err(|_| fail())?;
                Self::from_rsa(kp)
            }
            KeyAlgorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                aws_lc_rs::rand::fill(&mut seed[..]).map_err(|_| fail())?;
                Ok(Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(
                    &seed,
                )))
            }
        }
    }

    /// Parses an unencrypted PKCS#8 `PrivateKeyInfo` DER and applies cosign's rules.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = match PrivateKeyInfoRef::from_der(der) {
            Ok(info) => info,
            Err(e) => {
                if sec1::EcPrivateKey::from_der(der).is_ok() {
                    return Err(KeyError::Sec1InsteadOfPkcs8);
                }
                if pkcs1::RsaPrivateKeyRef::from_der(der).is_ok() {
                    return Err(KeyError::Pkcs1InsteadOfPkcs8);
                }
                return Err(KeyError::Malformed {
                    what: "PKCS#8 private key",
                    detail: e.to_string(),
                });
            }
        };
        let oid = info.algorithm.oid;
        if oid == OID_EC_PUBLIC_KEY {
            let curve =
                match info.algorithm.parameters_oid() {
                    Ok(c) => c,
                    Err(_) => {
                        // Parameters may instead sit in the inner ECPrivateKey.
                        let inner = sec1::EcPrivateKey::from_der(info.private_key.as_bytes())
                            .map_err(|e| KeyError::Malformed {
                                what: "EC private key",
                                detail: e.to_string(),
                            })?;
                        inner
                            .parameters
                            .and_then(|p| p.named_curve())
                            .ok_or_else(|| KeyError::Malformed {
                                what: "EC private key",
                                detail: "no named curve".into(),
                            })?
                    }
                };
            let alg = curve_algorithm(curve)?;
            let kp = EcdsaKeyPair::from_pkcs8(ecdsa_signing_alg(alg), der).map_err(|e| {
                KeyError::Rejected {
                    algorithm: alg.to_string(),
                    reason: e.to_string(),
                }
            })?;
            Self::from_ecdsa(alg, kp)
        } else if oid == OID_RSA_ENCRYPTION {
            let bits = rsa_private_bits(info.private_key.as_bytes())?;
            check_rsa_bits(bits)?;
            let kp = RsaKeyPair::from_pkcs8(der).map_err(|e| KeyError::Rejected {
                algorithm: format!("RSA-{bits}"),
                reason: e.to_string(),
            })?;
            Self::from_rsa(kp)
        } else if oid == OID_ED25519 {
            let seed = <&OctetStringRef>::from_der(info.private_key.as_bytes()).map_err(|e| {
                KeyError::Malformed {
                    what: "Ed25519 private key",
                    detail: e.to_string(),
                }
            })?;
            let seed: &[u8; 32] = seed
                .as_bytes()
                .try_into()
                .map_err(|_| KeyError::Malformed {
                    what: "Ed25519 private key",
                    detail: format!("{}-byte seed, expected 32", seed.as_bytes().len()),
                })?;
            let key = Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(seed));
            if let Some(pk) = info.public_key {
                if pk.as_bytes() != Some(&key.public.raw[..]) {
                    return Err(KeyError::Malformed {
                        what: "Ed25519 private key",
                        detail: "the embedded public key does not belong to the private key".into(),
                    });
                }
            }
            Ok(key)
        } else {
            Err(KeyError::UnsupportedAlgorithm {
                oid: oid.to_string(),
            })
        }
    }

    /// Parses an unencrypted PEM private key: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or
    /// SEC1 `EC PRIVATE KEY` (the inputs `cosign import-key-pair` takes).
    pub fn from_plain_pem(input: &[u8]) -> Result<Self, KeyError> {
        if let Some(label) = pem::peek_label(input) {
            if !matches!(
                label.as_str(),
                "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"
            ) {
                return Err(KeyError::WrongPemLabel {
                    expected: "PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY",
                    hint: private_key_label_hint(&label),
                    found: label,
                });
            }
        }
        let mut block = pem::decode(input)?;
        let key = match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.contents),
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&block.contents),
            "EC PRIVATE KEY" => Self::from_sec1_der(&block.contents),
            other => Err(KeyError::WrongPemLabel {
                expected: "PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY",
                found: other.to_owned(),
                hint: private_key_label_hint(other),
            }),
        };
        zeroize::Zeroize::zeroize(&mut block);
        key
    }

    /// Parses a PKCS#1 `RSAPrivateKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let bits = rsa_private_bits(der)?;
        check_rsa_bits(bits)?;
        let kp = RsaKeyPair::from_der(der).map_err(|e| KeyError::Rejected {
            algorithm: format!("RSA-{bits}"),
            reason: e.to_string(),
        })?;
        Self::from_rsa(kp)
    }

    /// Parses a SEC1 `ECPrivateKey` DER (RFC 5915), which must name its curve.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let parsed = sec1::EcPrivateKey::from_der(der).map_err(|e| KeyError::Malformed {
            what: "EC PRIVATE KEY (SEC1)",
            detail: e.to_string(),
        })?;
        let curve = parsed
            .parameters
            .and_then(|p| p.named_curve())
            .ok_or_else(|| KeyError::Malformed {
                what: "EC PRIVATE KEY (SEC1)",
                detail: "the key does not name its curve".into(),
            })?;
        let alg = curve_algorithm(curve)?;
        let kp = EcdsaKeyPair::from_private_key_der(ecdsa_signing_alg(alg), der).map_err(|e| {
            KeyError::Rejected {
                algorithm: alg.to_string(),
                reason: e.to_string(),
            }
        })?;
        Self::from_ecdsa(alg, kp)
    }

    fn from_ecdsa(algorithm: KeyAlgorithm, kp: EcdsaKeyPair) -> Result<Self, KeyError> {
        let spki: PublicKeyX509Der<'_> =
            kp.public_key().as_der().map_err(|_| KeyError::Rejected {
                algorithm: algorithm.to_string(),
                reason: "cannot encode the public key".into(),
            })?;
        let public = PublicKey {
            algorithm,
            spki_der: spki.as_ref().to_vec(),
            raw: kp.public_key().as_ref().to_vec(),
        };
        Ok(Self {
            inner: Inner::Ecdsa(kp),
            public,
        })
    }

    fn from_rsa(kp: RsaKeyPair) -> Result<Self, KeyError> {
        let bits = kp.public_modulus_len() * 8;
        let algorithm = KeyAlgorithm::Rsa { bits };
        let spki: PublicKeyX509Der<'_> =
            kp.public_key().as_der().map_err(|_| KeyError::Rejected {
                algorithm: algorithm.to_string(),
                reason: "cannot encode the public key".into(),
            })?;
        let public = PublicKey::from_spki_der(spki.as_ref())?;
        Ok(Self {
            inner: Inner::Rsa(kp),
            public,
        })
    }

    fn from_ed25519(sk: ed25519_dalek::SigningKey) -> Self {
        let raw = sk.verifying_key().to_bytes();
        let mut spki = Vec::with_capacity(44);
        spki.extend_from_slice(&ED25519_SPKI_PREFIX);
        spki.extend_from_slice(&raw);
        Self {
            inner: Inner::Ed25519(sk),
            public: PublicKey {
                algorithm: KeyAlgorithm::Ed25519,
                spki_der: spki,
                raw: raw.to_vec(),
            },
        }
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm
    }

    /// PKCS#8 v1 DER of the private key, zeroized on drop.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let fail = || KeyError::Rejected {
            algorithm: self.algorithm().to_string(),
            reason: "cannot encode the private key as PKCS#8".into(),
        };
        Ok(match &self.inner {
            Inner::Ecdsa(kp) => {
                Zeroizing::new(kp.to_pkcs8v1().map_err(|_| fail())?.as_ref().to_vec())
            }
            Inner::Rsa(kp) => {
                let der: Pkcs8V1Der<'_> = kp.as_der().map_err(|_| fail())?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            Inner::Ed25519(sk) => {
                let mut out = Zeroizing::new(Vec::with_capacity(48));
                out.extend_from_slice(&ED25519_PKCS8_PREFIX);
                out.extend_from_slice(sk.as_bytes());
                out
            }
        })
    }

    /// Signs content whose digest (by [`KeyAlgorithm::signing_hash`]) is `digest`.
    pub fn sign_digest(&self, digest: &Digest) -> Result<Vec<u8>, KeyError> {
        let expected = self.algorithm().signing_hash();
        if digest.algorithm() != expected {
            return Err(KeyError::DigestAlgorithm {
                key: self.algorithm(),
                expected,
                got: digest.algorithm(),
            });
        }
        let fail = || KeyError::Signing(self.algorithm());
        match &self.inner {
            Inner::Ecdsa(kp) => Ok(kp
                .sign_digest(&digest.to_lc())
                .map_err(|_| fail())?
                .as_ref()
                .to_vec()),
            Inner::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign_digest(&lc_sig::RSA_PKCS1_SHA256, &digest.to_lc(), &mut sig)
                    .map_err(|_| fail())?;
                Ok(sig)
            }
            Inner::Ed25519(sk) => Ok(sk
                .sign_prehashed(Prehashed::new(digest), None)
                .map_err(|_| fail())?
                .to_bytes()
                .to_vec()),
        }
    }

    /// Signs an in-memory message (hashing it with the key's signing hash).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.sign_digest(&Digest::of(self.algorithm().signing_hash(), message))
    }

    /// Signs a message the way signed notes and log timestamps are signed: pure Ed25519 (RFC
    /// 8032, no prehash) for Ed25519 keys, as [`sign`](Self::sign) otherwise. The counterpart
    /// of [`PublicKey::verify_message`].
    pub fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            Inner::Ed25519(sk) => {
                use ed25519_dalek::Signer;
                Ok(sk.sign(message).to_bytes().to_vec())
            }
            _ => self.sign(message),
        }
    }
}

fn private_key_label_hint(label: &str) -> &'static str {
    if label.starts_with("ENCRYPTED") && label.ends_with("PRIVATE KEY") {
        "; this key is already encrypted: use it directly with --key"
    } else if label == "PUBLIC KEY" {
        "; this is a public key, a private key is needed"
    } else if label.contains("PGP") {
        "; OpenPGP keys are not supported"
    } else {
        ""
    }
}

/// `SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING (33 bytes) }` header of an Ed25519 SPKI.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// PKCS#8 v1 header of an Ed25519 key (RFC 8410 §7), followed by the 32-byte seed.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn curve_algorithm(curve: ObjectIdentifier) -> Result<KeyAlgorithm, KeyError> {
    if curve == OID_P256 {
        Ok(KeyAlgorithm::EcdsaP256)
    } else if curve == OID_P384 {
        Ok(KeyAlgorithm::EcdsaP384)
    } else if curve == OID_P521 {
        Ok(KeyAlgorithm::EcdsaP521)
    } else if curve == OID_P224 {
        Err(KeyError::UnsupportedCurve {
            curve: "P-224".into(),
        })
    } else if curve == OID_SECP256K1 {
        Err(KeyError::UnsupportedCurve {
            curve: "secp256k1".into(),
        })
    } else {
        Err(KeyError::UnsupportedCurve {
            curve: curve.to_string(),
        })
    }
}

fn ecdsa_signing_alg(alg: KeyAlgorithm) -> &'static EcdsaSigningAlgorithm {
    match alg {
        KeyAlgorithm::EcdsaP384 => &lc_sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        KeyAlgorithm::EcdsaP521 => &lc_sig::ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => &lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING,
    }
}

fn ecdsa_verify_alg(
    alg: KeyAlgorithm,
    hash: HashAlgorithm,
) -> &'static lc_sig::EcdsaVerificationAlgorithm {
    use HashAlgorithm::*;
    match (alg, hash) {
        (KeyAlgorithm::EcdsaP384, Sha256) => &lc_sig::ECDSA_P384_SHA256_ASN1,
        (KeyAlgorithm::EcdsaP384, Sha384) => &lc_sig::ECDSA_P384_SHA384_ASN1,
        (KeyAlgorithm::EcdsaP384, Sha512) => &lc_sig::ECDSA_P384_SHA512_ASN1,
        (KeyAlgorithm::EcdsaP521, Sha256) => &lc_sig::ECDSA_P521_SHA256_ASN1,
        (KeyAlgorithm::EcdsaP521, Sha384) => &lc_sig::ECDSA_P521_SHA384_ASN1,
        (KeyAlgorithm::EcdsaP521, Sha512) => &lc_sig::ECDSA_P521_SHA512_ASN1,
        (_, Sha384) => &lc_sig::ECDSA_P256_SHA384_ASN1,
        (_, Sha512) => &lc_sig::ECDSA_P256_SHA512_ASN1,
        (_, Sha256) => &lc_sig::ECDSA_P256_SHA256_ASN1,
    }
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::RsaKeySize { bits })
    }
}

/// Modulus size of a PKCS#1 `RSAPrivateKey`.
fn rsa_private_bits(der: &[u8]) -> Result<usize, KeyError> {
    let key = pkcs1::RsaPrivateKeyRef::from_der(der).map_err(|e| KeyError::Malformed {
        what: "RSA private key",
        detail: e.to_string(),
    })?;
    Ok(uint_bits(key.modulus.as_bytes()))
}

/// Modulus size of a PKCS#1 `RSAPublicKey`.
fn rsa_public_bits(der: &[u8]) -> Result<usize, KeyError> {
    let key = pkcs1::RsaPublicKeyRef::from_der(der).map_err(|e| KeyError::Malformed {
        what: "RSA public key",
        detail: e.to_string(),
    })?;
    Ok(uint_bits(key.modulus.as_bytes()))
}

fn uint_bits(be: &[u8]) -> usize {
    let be = match be.iter().position(|b| *b != 0) {
        Some(i) => &be[i..],
        None => return 0,
    };
    be.len() * 8 - be[0].leading_zeros() as usize
}

/// Wraps a PKCS#1 `RSAPublicKey` into a PKIX SPKI.
fn rsa_spki_from_pkcs1(pkcs1_der: &[u8]) -> Result<Vec<u8>, KeyError> {
    rsa_public_bits(pkcs1_der)?;
    let spki = spki::SubjectPublicKeyInfo {
        algorithm: spki::AlgorithmIdentifier {
            oid: OID_RSA_ENCRYPTION,
            parameters: Some(der::asn1::Null),
        },
        subject_public_key: BitStringRef::from_bytes(pkcs1_der).map_err(|e| {
            KeyError::Malformed {
                what: "RSA public key",
                detail: e.to_string(),
            }
        })?,
    };
    spki.to_der().map_err(|e| KeyError::Malformed {
        what: "RSA public key",
        detail: e.to_string(),
    })
}

/// Replays a finished SHA-512 to ed25519-dalek's Ed25519ph API, which takes a hasher object.
/// `update` is never called by dalek on it; `finalize` returns the stored digest.
#[derive(Clone)]
struct Prehashed([u8; 64]);

impl Default for Prehashed {
    fn default() -> Self {
        Self([0; 64])
    }
}

impl Prehashed {
    fn new(digest: &Digest) -> Self {
        let mut out = [0u8; 64];
        // Callers check the algorithm; a shorter digest would simply fail verification.
        let b = digest.as_bytes();
        out[..b.len()].copy_from_slice(b);
        Self(out)
    }
}

mod prehash_impl {
    use super::Prehashed;
    use sha2::digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update, consts::U64};

    impl OutputSizeUser for Prehashed {
        type OutputSize = U64;
    }
    impl Update for Prehashed {
        fn update(&mut self, _data: &[u8]) {}
    }
    impl FixedOutput for Prehashed {
        fn finalize_into(self, out: &mut Output<Self>) {
            out.copy_from_slice(&self.0);
        }
    }
    impl HashMarker for Prehashed {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<KeyAlgorithm> {
        vec![
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::EcdsaP521,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Rsa { bits: 2048 },
        ]
    }

    #[test]
    fn generate_sign_verify_and_pkcs8_round_trip() {
        for alg in all() {
            let key = SigningKey::generate(alg).unwrap();
            assert_eq!(key.algorithm(), alg);
            let sig = key.sign(b"hello").unwrap();
            key.public_key().verify(b"hello", &sig).unwrap();
            let err = key.public_key().verify(b"hellO", &sig).unwrap_err();
            assert!(
                matches!(err, SignatureError::Mismatch { .. }),
                "{alg}: {err}"
            );
            let reloaded = SigningKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
            assert_eq!(reloaded.public_key(), key.public_key(), "{alg}");
            let pem = key.public_key().to_pem();
            assert_eq!(
                &PublicKey::from_pem(pem.as_bytes()).unwrap(),
                key.public_key()
            );
        }
    }

    #[test]
    fn ed25519_is_ed25519ph() {
        // RFC 8032 §7.3 test vector (Ed25519ph, message "abc").
        let seed: [u8; 32] =
            hex_arr("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let key = SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&seed));
        let sig = key.sign(b"abc").unwrap();
        assert_eq!(
            crate::hash::hex_lower(&sig),
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
        );
    }

    #[test]
    fn wrong_digest_algorithm_is_named() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let d = Digest::of(HashAlgorithm::Sha512, b"x");
        assert_eq!(
            key.sign_digest(&d).unwrap_err(),
            KeyError::DigestAlgorithm {
                key: KeyAlgorithm::EcdsaP256,
                expected: HashAlgorithm::Sha256,
                got: HashAlgorithm::Sha512
            }
        );
    }

    #[test]
    fn malformed_signatures_are_named() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        assert!(matches!(
            key.public_key().verify(b"x", b"").unwrap_err(),
            SignatureError::Malformed { .. }
        ));
        assert!(matches!(
            key.public_key().verify(b"x", b"\x01\x02").unwrap_err(),
            SignatureError::Malformed { .. }
        ));
    }

    fn hex_arr<const N: usize>(s: &str) -> [u8; N] {
        crate::hash::hex_decode(s).unwrap().try_into().unwrap()
    }
}

//! cosign's encrypted private key file (`cosign.key`).
//!
//! PEM label `ENCRYPTED SIGSTORE PRIVATE KEY` (or the legacy `ENCRYPTED COSIGN PRIVATE KEY`),
//! whose body is base64 of JSON:
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},
//!  "ciphertext":"<b64 secretbox(PKCS#8 DER)>"}
//! ```
//!
//! The key is `scrypt(password, salt, N, r, p)` (32 bytes); the ciphertext is NaCl secretbox
//! (XSalsa20-Poly1305, tag first). Only the three parameter sets cosign accepts are read:
//! N = 2^15, 2^16 (written by default) and 2^17, with r = 8 and p = 1.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::{KeyError, SigningKey};
use crate::pem;

/// The label `generate-key-pair` and `import-key-pair` write.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The legacy label (cosign 1.x), still read.
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// Largest key file accepted.
pub const MAX_KEY_FILE_LEN: usize = 64 * 1024;

/// scrypt cost parameters. Only [`ScryptParams::ACCEPTED`] are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScryptParams {
    /// CPU/memory cost (a power of two).
    #[serde(rename = "N", alias = "n")]
    pub n: u64,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

impl ScryptParams {
    /// cosign's default for new keys: N = 65536, r = 8, p = 1.
    pub const DEFAULT: Self = Self {
        n: 65536,
        r: 8,
        p: 1,
    };
    /// The parameter sets cosign (go-securesystemslib `CheckParams`) accepts on decrypt.
    pub const ACCEPTED: [Self; 3] = [
        Self {
            n: 32768,
            r: 8,
            p: 1,
        },
        Self::DEFAULT,
        Self {
            n: 131072,
            r: 8,
            p: 1,
        },
    ];
}

impl From<pem::PemError> for KeyFileError {
    fn from(e: pem::PemError) -> Self {
        Self::Pem(e)
    }
}

/// Errors reading or writing an encrypted key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The file is larger than [`MAX_KEY_FILE_LEN`].
    #[error("key file is {len} bytes, more than the {max}-byte limit for a key file")]
    TooLarge {
        /// Length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Bad PEM.
    #[error("not a cosign key file (expected -----BEGIN {SIGSTORE_LABEL}-----): {0}")]
    Pem(pem::PemError),
    /// The PEM label is not one of cosign's encrypted labels.
    #[error(
        "not a cosign encrypted private key: the PEM label is {found:?}, expected {SIGSTORE_LABEL:?}{hint}"
    )]
    Label {
        /// The label found.
        found: String,
        /// Advice.
        hint: &'static str,
    },
    /// The body is not the expected JSON.
    #[error("the encrypted key's JSON is malformed: {0}")]
    Json(String),
    /// A KDF other than scrypt.
    #[error("unsupported key derivation function {0:?}: cosign key files use scrypt")]
    Kdf(String),
    /// scrypt parameters outside the accepted sets.
    #[error(
        "unsupported scrypt parameters N={n}, r={r}, p={p}: cosign accepts N=32768, 65536 or 131072 with r=8, p=1"
    )]
    ScryptParams {
        /// N.
        n: u64,
        /// r.
        r: u32,
        /// p.
        p: u32,
    },
    /// A cipher other than NaCl secretbox.
    #[error("unsupported cipher {0:?}: cosign key files use nacl/secretbox")]
    Cipher(String),
    /// Salt or nonce of the wrong size.
    #[error("the {field} is {len} bytes, expected {expected}")]
    FieldLength {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The expected length.
        expected: &'static str,
    },
    /// Authentication failed.
    #[error("cannot decrypt the private key: wrong password, or the key file is corrupted")]
    Decrypt,
    /// Decrypted, but the key inside is not acceptable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Random number generation or KDF failure.
    #[error("key encryption failed: {0}")]
    Encrypt(&'static str),
}

#[derive(Serialize, Deserialize)]
struct EncryptedJson {
    kdf: KdfJson,
    cipher: CipherJson,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct KdfJson {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct CipherJson {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// Which label a key file had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileLabel {
    /// `ENCRYPTED SIGSTORE PRIVATE KEY`.
    Sigstore,
    /// `ENCRYPTED COSIGN PRIVATE KEY`.
    Cosign,
}

/// A parsed, still encrypted key file. Parsing checks everything that can be checked without the
/// password, so a bad file is reported before asking for one.
pub struct EncryptedKeyFile {
    label: KeyFileLabel,
    params: ScryptParams,
    salt: Vec<u8>,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

impl std::fmt::Debug for EncryptedKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedKeyFile")
            .field("label", &self.label)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl EncryptedKeyFile {
    /// Parses a key file's text.
    pub fn parse(input: &[u8]) -> Result<Self, KeyFileError> {
        if input.len() > MAX_KEY_FILE_LEN {
            return Err(KeyFileError::TooLarge {
                len: input.len(),
                max: MAX_KEY_FILE_LEN,
            });
        }
        // The label decides first, so a block of another kind gets the right reason.
        let found = match pem::peek_label(input) {
            Some(l) => l,
            None => pem::decode(input)?.label,
        };
        let label = match found.as_str() {
            SIGSTORE_LABEL => KeyFileLabel::Sigstore,
            COSIGN_LABEL => KeyFileLabel::Cosign,
            other => {
                let hint = if other == "PUBLIC KEY" {
                    "; this is a public key, signing needs the private key file"
                } else if other.starts_with("ENCRYPTED") {
                    "; this is an encrypted key in a format Sigil does not read (cosign's are ENCRYPTED SIGSTORE PRIVATE KEY and ENCRYPTED COSIGN PRIVATE KEY)"
                } else if other.ends_with("PRIVATE KEY") {
                    "; this is an unencrypted private key: convert it with `sigil import-key-pair --key FILE`"
                } else {
                    ""
                };
                return Err(KeyFileError::Label {
                    found: other.to_owned(),
                    hint,
                });
            }
        };
        let block = pem::decode(input)?;
        let json: EncryptedJson = serde_json::from_slice(&block.contents)
            .map_err(|e| KeyFileError::Json(e.to_string()))?;
        if json.kdf.name != "scrypt" {
            return Err(KeyFileError::Kdf(json.kdf.name));
        }
        let params = json.kdf.params;
        if !ScryptParams::ACCEPTED.contains(&params) {
            return Err(KeyFileError::ScryptParams {
                n: params.n,
                r: params.r,
                p: params.p,
            });
        }
        if json.cipher.name != "nacl/secretbox" {
            return Err(KeyFileError::Cipher(json.cipher.name));
        }
        if json.kdf.salt.is_empty() || json.kdf.salt.len() > 1024 {
            return Err(KeyFileError::FieldLength {
                field: "scrypt salt",
                len: json.kdf.salt.len(),
                expected: "1 to 1024 (cosign writes 32)",
            });
        }
        let nonce: [u8; 24] =
            json.cipher
                .nonce
                .as_slice()
                .try_into()
                .map_err(|_| KeyFileError::FieldLength {
                    field: "secretbox nonce",
                    len: json.cipher.nonce.len(),
                    expected: "24",
                })?;
        if json.ciphertext.len() < 16 {
            return Err(KeyFileError::FieldLength {
                field: "ciphertext",
                len: json.ciphertext.len(),
                expected: "at least 16 (the Poly1305 tag)",
            });
        }
        Ok(Self {
            label,
            params,
            salt: json.kdf.salt,
            nonce,
            ciphertext: json.ciphertext,
        })
    }

    /// The PEM label the file had.
    pub fn label(&self) -> KeyFileLabel {
        self.label
    }

    /// Its scrypt parameters.
    pub fn params(&self) -> ScryptParams {
        self.params
    }

    /// Decrypts to the PKCS#8 DER inside (zeroized on drop).
    pub fn decrypt_pkcs8(&self, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let key = derive_key(password, &self.salt, self.params)?;
        let cipher = XSalsa20Poly1305::new(Key::from_slice(&key[..]));
        cipher
            .decrypt(Nonce::from_slice(&self.nonce), self.ciphertext.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| KeyFileError::Decrypt)
    }

    /// Decrypts and parses the signing key, applying cosign's rules (PKCS#8 only).
    pub fn decrypt(&self, password: &[u8]) -> Result<SigningKey, KeyFileError> {
        let pkcs8 = self.decrypt_pkcs8(password)?;
        Ok(SigningKey::from_pkcs8_der(&pkcs8)?)
    }
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    params: ScryptParams,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let mut key = Zeroizing::new([0u8; 32]);
    crate::scrypt::scrypt(password, salt, params.n, params.r, params.p, &mut key[..])
        .map_err(|_| KeyFileError::Encrypt("invalid scrypt parameters"))?;
    Ok(key)
}

/// Encrypts a signing key into cosign's format with the given label and scrypt parameters.
pub fn encrypt_key(
    key: &SigningKey,
    password: &[u8],
    label: KeyFileLabel,
    params: ScryptParams,
) -> Result<String, KeyFileError> {
    let pkcs8 = key.to_pkcs8_der()?;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeyFileError::Encrypt("random salt"))?;
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KeyFileError::Encrypt("random nonce"))?;
    let k = derive_key(password, &salt, params)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(&k[..]));
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), pkcs8.as_slice())
        .map_err(|_| KeyFileError::Encrypt("secretbox"))?;
    let json = EncryptedJson {
        kdf: KdfJson {
            name: "scrypt".into(),
            params,
            salt: salt.to_vec(),
        },
        cipher: CipherJson {
            name: "nacl/secretbox".into(),
            nonce: nonce.to_vec(),
        },
        ciphertext,
    };
    let body = serde_json::to_vec(&json).map_err(|_| KeyFileError::Encrypt("json"))?;
    let label = match label {
        KeyFileLabel::Sigstore => SIGSTORE_LABEL,
        KeyFileLabel::Cosign => COSIGN_LABEL,
    };
    // Go's pem.Encode wraps the base64 of the JSON at 64 columns, as pem::encode does.
    Ok(pem::encode(label, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyAlgorithm;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    const FAST: ScryptParams = ScryptParams::ACCEPTED[0];

    #[test]
    fn round_trip_every_algorithm_and_empty_password() {
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Rsa { bits: 2048 },
        ] {
            let key = SigningKey::generate(alg).unwrap();
            for pw in [&b""[..], b"hunter2"] {
                let pem = encrypt_key(&key, pw, KeyFileLabel::Sigstore, FAST).unwrap();
                assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
                let f = EncryptedKeyFile::parse(pem.as_bytes()).unwrap();
                assert_eq!(f.params(), FAST);
                let back = f.decrypt(pw).unwrap();
                assert_eq!(back.public_key(), key.public_key());
                assert_eq!(f.decrypt(b"wrong").unwrap_err(), KeyFileError::Decrypt);
            }
        }
    }

    #[test]
    fn json_field_order_matches_cosign() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let pem = encrypt_key(&key, b"", KeyFileLabel::Sigstore, FAST).unwrap();
        let body = pem::decode(pem.as_bytes()).unwrap().contents;
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.starts_with(
                r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":""#
            ),
            "{text}"
        );
        assert!(text.contains(r#"},"cipher":{"name":"nacl/secretbox","nonce":""#));
    }

    fn with_json(json: &str) -> String {
        pem::encode(SIGSTORE_LABEL, json.as_bytes())
    }

    #[test]
    fn refusals_are_specific() {
        let salt = STANDARD.encode([0u8; 32]);
        let nonce = STANDARD.encode([0u8; 24]);
        let ct = STANDARD.encode([0u8; 48]);
        let f = |n: u64, kdf: &str, cipher: &str, nonce: &str| {
            with_json(&format!(
                r#"{{"kdf":{{"name":"{kdf}","params":{{"N":{n},"r":8,"p":1}},"salt":"{salt}"}},"cipher":{{"name":"{cipher}","nonce":"{nonce}"}},"ciphertext":"{ct}"}}"#
            ))
        };
        assert_eq!(
            EncryptedKeyFile::parse(f(1024, "scrypt", "nacl/secretbox", &nonce).as_bytes())
                .unwrap_err(),
            KeyFileError::ScryptParams {
                n: 1024,
                r: 8,
                p: 1
            }
        );
        assert_eq!(
            EncryptedKeyFile::parse(f(65536, "pbkdf2", "nacl/secretbox", &nonce).as_bytes())
                .unwrap_err(),
            KeyFileError::Kdf("pbkdf2".into())
        );
        assert_eq!(
            EncryptedKeyFile::parse(f(65536, "scrypt", "aes-gcm", &nonce).as_bytes()).unwrap_err(),
            KeyFileError::Cipher("aes-gcm".into())
        );
        assert!(matches!(
            EncryptedKeyFile::parse(f(65536, "scrypt", "nacl/secretbox", "AAAA").as_bytes())
                .unwrap_err(),
            KeyFileError::FieldLength {
                field: "secretbox nonce",
                ..
            }
        ));
        assert!(matches!(
            EncryptedKeyFile::parse(with_json("{not json").as_bytes()).unwrap_err(),
            KeyFileError::Json(_)
        ));
        assert!(matches!(
            EncryptedKeyFile::parse(pem::encode("PRIVATE KEY", b"x").as_bytes()).unwrap_err(),
            KeyFileError::Label { .. }
        ));
    }
}

//! C2SP signed notes and tlog checkpoints.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
//! `— <key name> <base64(4-byte key ID ‖ signature)>` (the dash is U+2014). A checkpoint is a note
//! whose text is `<origin>\n<tree size>\n<base64 root hash>\n[extension lines]`.
//!
//! Verification follows the spec: signatures by unknown keys are ignored, a known key whose
//! signature fails rejects the note, and at least one known key must verify.
//!
//! Key IDs: ECDSA keys (Rekor v1 and others) use `SHA-256(DER SPKI)[:4]`; Ed25519 keys use
//! `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]` (C2SP signed-note).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, PublicKey};

use crate::merkle::Hash;

/// Largest note accepted.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// Most signature lines accepted (the spec asks verifiers to accept at least 16).
pub const MAX_SIGNATURES: usize = 100;

const DASH: &str = "\u{2014} ";

/// What was wrong with a note or checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Over [`MAX_NOTE_LEN`].
    #[error("signed note is {0} bytes, over the {MAX_NOTE_LEN}-byte limit")]
    TooLarge(usize),
    /// Structure.
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    /// A bad signature line.
    #[error("malformed signature line {line} of the signed note: {reason}")]
    BadSignatureLine {
        /// 1-based index among signature lines.
        line: usize,
        /// Why.
        reason: &'static str,
    },
    /// Checkpoint body.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
    /// A known key's signature did not verify.
    #[error("the checkpoint signature by {name} (key ID {key_id}) does not verify")]
    BadSignature {
        /// The key name.
        name: String,
        /// Hex key ID.
        key_id: String,
    },
    /// No signature by a known key.
    #[error("the checkpoint has no signature by a trusted log key (signed by: {signers})")]
    NoKnownSignature {
        /// The `name/keyid` pairs found.
        signers: String,
    },
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 4-byte key ID.
    pub key_id: [u8; 4],
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// A parsed signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// The signatures.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a note envelope.
    pub fn parse(envelope: &str) -> Result<Self, NoteError> {
        if envelope.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge(envelope.len()));
        }
        if !envelope.ends_with('\n') {
            return Err(NoteError::Malformed("it does not end with a newline"));
        }
        // The text ends at the last blank line.
        let split = envelope
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let text = &envelope[..split + 1];
        let sigs = &envelope[split + 2..];
        if text.len() <= 1 {
            return Err(NoteError::Malformed("the text is empty"));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::Malformed("the text has control characters"));
        }
        let mut signatures = Vec::new();
        for (i, line) in sigs.lines().enumerate() {
            let n = i + 1;
            if n > MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signature lines"));
            }
            let bad = |reason| NoteError::BadSignatureLine { line: n, reason };
            let rest = line
                .strip_prefix(DASH)
                .ok_or(bad("it does not start with an em dash"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or(bad("no space after the key name"))?;
            if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
                return Err(bad("invalid key name"));
            }
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| bad("the signature is not base64"))?;
            if raw.len() < 5 {
                return Err(bad("too short for a key ID and a signature"));
            }
            let mut key_id = [0u8; 4];
            key_id.copy_from_slice(&raw[..4]);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id,
                signature: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(NoteError::Malformed("no signature lines"));
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the note against trusted keys; returns the keys that verified.
    pub fn verify<'k>(&self, keys: &'k [NoteVerifier]) -> Result<Vec<&'k NoteVerifier>, NoteError> {
        let mut verified = Vec::new();
        for sig in &self.signatures {
            for key in keys
                .iter()
                .filter(|k| k.name == sig.name && k.key_id == sig.key_id)
            {
                key.key
                    .verify_message(self.text.as_bytes(), &sig.signature)
                    .map_err(|_| NoteError::BadSignature {
                        name: sig.name.clone(),
                        key_id: sigil_crypto::hash::hex_lower(&sig.key_id),
                    })?;
                verified.push(key);
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature {
                signers: self
                    .signatures
                    .iter()
                    .map(|s| format!("{}/{}", s.name, sigil_crypto::hash::hex_lower(&s.key_id)))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(verified)
    }
}

/// Signs `text` (which must end in a newline) as a C2SP signed note by `key` under `name`:
/// the text, a blank line, and `— name base64(key ID ‖ signature)`.
pub fn sign_note(
    text: &str,
    name: &str,
    key: &sigil_crypto::SigningKey,
) -> Result<String, sigil_crypto::KeyError> {
    use base64::Engine;
    let signature = key.sign_message(text.as_bytes())?;
    let mut blob = key_id(name, key.public_key()).to_vec();
    blob.extend_from_slice(&signature);
    Ok(format!(
        "{text}\n{DASH}{name} {}\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    ))
}

/// A trusted note-signing key.
#[derive(Debug, Clone)]
pub struct NoteVerifier {
    /// The key name signature lines must carry.
    pub name: String,
    /// The key ID signature lines must carry.
    pub key_id: [u8; 4],
    /// The key.
    pub key: PublicKey,
}

impl NoteVerifier {
    /// A verifier with the key ID C2SP and Sigstore assign to this kind of key.
    pub fn new(name: &str, key: PublicKey) -> Self {
        let key_id = key_id(name, &key);
        Self {
            name: name.to_owned(),
            key_id,
            key,
        }
    }
}

/// The key ID of a note key: `SHA-256(SPKI)[:4]` for ECDSA (and RSA, as Rekor v1 does), and
/// `SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4]` for Ed25519.
pub fn key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    let d = if key.algorithm() == KeyAlgorithm::Ed25519 {
        let mut m = Vec::with_capacity(name.len() + 34);
        m.extend_from_slice(name.as_bytes());
        m.push(b'\n');
        m.push(0x01);
        m.extend_from_slice(key.raw_bytes());
        Digest::of(HashAlgorithm::Sha256, &m)
    } else {
        Digest::of(HashAlgorithm::Sha256, key.spki_der())
    };
    let mut id = [0u8; 4];
    id.copy_from_slice(&d.as_bytes()[..4]);
    id
}

/// A parsed checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root_hash: Hash,
    /// Extension lines, if any.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Parses the text of a signed note as a checkpoint.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text.strip_suffix('\n').ok_or(NoteError::Checkpoint(
            "the text does not end with a newline",
        ))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::Checkpoint("missing origin"))?;
        let size = lines
            .next()
            .ok_or(NoteError::Checkpoint("missing tree size"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(NoteError::Checkpoint(
                "the tree size is not a decimal number",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| NoteError::Checkpoint("the tree size does not fit 64 bits"))?;
        let root = lines
            .next()
            .ok_or(NoteError::Checkpoint("missing root hash"))?;
        let root = STANDARD
            .decode(root)
            .map_err(|_| NoteError::Checkpoint("the root hash is not base64"))?;
        let root_hash: Hash = root
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::Checkpoint("the root hash is not 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::Checkpoint("empty extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }

    /// Parses and verifies a signed checkpoint envelope.
    pub fn verify_envelope(envelope: &str, keys: &[NoteVerifier]) -> Result<Self, NoteError> {
        let note = SignedNote::parse(envelope)?;
        let cp = Self::parse(&note.text)?;
        note.verify(keys)?;
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_crypto::SigningKey;

    fn sign_note(text: &str, name: &str, key: &SigningKey) -> String {
        super::sign_note(text, name, key).unwrap()
    }

    #[test]
    fn ed25519_notes_are_signed_without_prehash() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let text = format!("log.example\n3\n{}\n", STANDARD.encode([1u8; 32]));
        let env = sign_note(&text, "log.example", &key);
        let v = [NoteVerifier::new("log.example", key.public_key().clone())];
        assert_eq!(Checkpoint::verify_envelope(&env, &v).unwrap().size, 3);
    }

    #[test]
    fn ecdsa_round_trip_and_unknown_keys_ignored() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let text = format!("example.com/log\n5\n{}\n", STANDARD.encode([7u8; 32]));
        let mut env = sign_note(&text, "example.com/log", &key);
        // Add a signature by a key the verifier does not know: ignored.
        let extra = sign_note(&text, "witness.example", &other);
        env.push_str(extra.lines().last().unwrap());
        env.push('\n');
        let v = [NoteVerifier::new(
            "example.com/log",
            key.public_key().clone(),
        )];
        let cp = Checkpoint::verify_envelope(&env, &v).unwrap();
        assert_eq!(cp.size, 5);
        assert_eq!(cp.root_hash, [7u8; 32]);
        // Only the unknown key: refused.
        let only_other = [NoteVerifier::new("other", other.public_key().clone())];
        assert!(matches!(
            Checkpoint::verify_envelope(&env, &only_other),
            Err(NoteError::NoKnownSignature { .. })
        ));
    }

    #[test]
    fn tampered_text_fails_for_a_known_key() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let text = format!("o\n5\n{}\n", STANDARD.encode([7u8; 32]));
        let env = sign_note(&text, "o", &key).replacen("\n5\n", "\n6\n", 1);
        let v = [NoteVerifier::new("o", key.public_key().clone())];
        assert!(matches!(
            Checkpoint::verify_envelope(&env, &v),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn malformed_inputs() {
        assert!(matches!(
            SignedNote::parse("no newline"),
            Err(NoteError::Malformed(_))
        ));
        assert!(matches!(
            SignedNote::parse("a\nb\n"),
            Err(NoteError::Malformed(_))
        ));
        assert!(matches!(
            SignedNote::parse("a\n\n- name AAAAAAA=\n"),
            Err(NoteError::BadSignatureLine { line: 1, .. })
        ));
        assert!(matches!(
            Checkpoint::parse("o\n01\nAAAA\n"),
            Err(NoteError::Checkpoint(_))
        ));
        assert!(matches!(
            Checkpoint::parse("o\n1\nAAAA\n"),
            Err(NoteError::Checkpoint(_))
        ));
        assert!(matches!(
            Checkpoint::parse("\n1\nAAAA\n"),
            Err(NoteError::Checkpoint(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = SignedNote::parse(&s);
            let _ = Checkpoint::parse(&s);
        }
    }
}

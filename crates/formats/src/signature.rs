//! Detached signature files as cosign writes them: base64 of the raw signature bytes
//! (ASN.1 DER for ECDSA, 64 bytes for Ed25519, the modulus size for RSA).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Largest signature file accepted. An RSA-8192 signature is 1,368 base64 characters.
pub const MAX_SIGNATURE_FILE_LEN: usize = 64 * 1024;

/// What was wrong with a signature file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFileError {
    /// Nothing but whitespace.
    #[error("the signature is empty")]
    Empty,
    /// Over [`MAX_SIGNATURE_FILE_LEN`].
    #[error("the signature is {len} bytes, more than the {max}-byte limit for a signature")]
    TooLarge {
        /// Length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not base64.
    #[error("the signature is not base64 ({detail}){hint}")]
    NotBase64 {
        /// The decoder's message.
        detail: String,
        /// Advice when the input looks like raw DER.
        hint: &'static str,
    },
}

/// Decodes a signature file: surrounding whitespace is ignored, the rest must be standard
/// base64 with padding.
pub fn decode_signature(input: &[u8]) -> Result<Vec<u8>, SignatureFileError> {
    if input.len() > MAX_SIGNATURE_FILE_LEN {
        return Err(SignatureFileError::TooLarge {
            len: input.len(),
            max: MAX_SIGNATURE_FILE_LEN,
        });
    }
    let trimmed = input.trim_ascii();
    if trimmed.is_empty() {
        return Err(SignatureFileError::Empty);
    }
    let decoded = STANDARD
        .decode(trimmed)
        .map_err(|e| SignatureFileError::NotBase64 {
            detail: e.to_string(),
            hint: if trimmed.first() == Some(&0x30) {
                "; it looks like a raw DER signature: Sigil and cosign expect it base64-encoded"
            } else {
                ""
            },
        })?;
    if decoded.is_empty() {
        return Err(SignatureFileError::Empty);
    }
    Ok(decoded)
}

/// Encodes a signature as cosign prints it.
pub fn encode_signature(signature: &[u8]) -> String {
    STANDARD.encode(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_whitespace() {
        let s = encode_signature(&[0x30, 1, 2, 3]);
        assert_eq!(
            decode_signature(format!("  {s}\n").as_bytes()).unwrap(),
            vec![0x30, 1, 2, 3]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode_signature(b"\n").unwrap_err(),
            SignatureFileError::Empty
        );
        let e = decode_signature(b"\x30\x45\x02").unwrap_err();
        assert!(matches!(e, SignatureFileError::NotBase64 { hint, .. } if !hint.is_empty()));
        assert!(matches!(
            decode_signature(b"not base64!").unwrap_err(),
            SignatureFileError::NotBase64 { .. }
        ));
        assert!(matches!(
            decode_signature(&vec![b'A'; MAX_SIGNATURE_FILE_LEN + 1]).unwrap_err(),
            SignatureFileError::TooLarge { .. }
        ));
    }
}

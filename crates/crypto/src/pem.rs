//! PEM (RFC 7468) reading and writing.
//!
//! Reading follows Go's `encoding/pem` as cosign uses it: text before the first `-----BEGIN`
//! line is skipped, the body is base64 with any line width, and only the first block counts.
//! Unlike Go it refuses RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`), which mean an OpenSSL
//! legacy-encrypted key that Sigil cannot use, and it names what was wrong.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Largest PEM input accepted anywhere (keys, certificates): far above any real key.
pub const MAX_PEM_LEN: usize = 1024 * 1024;

/// A decoded PEM block.
#[derive(Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label between `BEGIN ` and `-----`, e.g. `PUBLIC KEY`.
    pub label: String,
    /// The decoded DER (or other) contents.
    pub contents: Vec<u8>,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Contents may be secret (private keys): never print them.
        write!(
            f,
            "PemBlock {{ label: {:?}, {} bytes }}",
            self.label,
            self.contents.len()
        )
    }
}

impl zeroize::Zeroize for PemBlock {
    fn zeroize(&mut self) {
        self.contents.zeroize();
    }
}

/// What was wrong with a PEM input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// The input is larger than [`MAX_PEM_LEN`].
    #[error("PEM input is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input is empty or only whitespace.
    #[error("the input is empty: expected a PEM block (-----BEGIN ...-----)")]
    Empty,
    /// No `-----BEGIN` line.
    #[error("no PEM block found (no -----BEGIN <LABEL>----- line)")]
    NoBegin,
    /// The BEGIN line is malformed.
    #[error("malformed PEM BEGIN line (expected -----BEGIN <LABEL>-----)")]
    BadBegin,
    /// No END line matching the label.
    #[error("PEM block {label:?} has no matching -----END {label}----- line (truncated?)")]
    NoEnd {
        /// The label of the BEGIN line.
        label: String,
    },
    /// RFC 1421 headers (legacy OpenSSL encryption) are present.
    #[error(
        "PEM block {label:?} has headers ({header:?}): legacy OpenSSL-encrypted keys are not supported; \
         decrypt it with `openssl pkey` first"
    )]
    Headers {
        /// The label.
        label: String,
        /// The first header line.
        header: String,
    },
    /// The body is not valid base64.
    #[error("PEM block {label:?} body is not valid base64: {detail}")]
    Base64 {
        /// The label.
        label: String,
        /// The decoder's message.
        detail: String,
    },
    /// The body decodes to nothing.
    #[error("PEM block {label:?} is empty")]
    EmptyBody {
        /// The label.
        label: String,
    },
}

/// The label of the first PEM block, without decoding its body (so that a caller can refuse a
/// block of the wrong kind, e.g. an OpenPGP armor block, with the right reason).
pub fn peek_label(input: &[u8]) -> Option<String> {
    let input = &input[..input.len().min(MAX_PEM_LEN)];
    let start = find(input, b"-----BEGIN ")? + 11;
    let end = find(&input[start..], b"-----")?;
    let label = std::str::from_utf8(&input[start..start + end]).ok()?;
    (!label.contains(['\n', '\r'])).then(|| label.to_owned())
}

/// Decodes the first PEM block of `input`.
pub fn decode(input: &[u8]) -> Result<PemBlock, PemError> {
    if input.len() > MAX_PEM_LEN {
        return Err(PemError::TooLarge {
            len: input.len(),
            max: MAX_PEM_LEN,
        });
    }
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PemError::Empty);
    }
    const BEGIN: &[u8] = b"-----BEGIN ";
    let start = find(input, BEGIN).ok_or(PemError::NoBegin)?;
    let rest = &input[start + BEGIN.len()..];
    let label_end = find(rest, b"-----").ok_or(PemError::BadBegin)?;
    let label = std::str::from_utf8(&rest[..label_end]).map_err(|_| PemError::BadBegin)?;
    if label.contains(['\n', '\r']) || label.contains("-----") {
        return Err(PemError::BadBegin);
    }
    let label = label.to_owned();
    let after_begin = &rest[label_end + 5..];
    // The BEGIN line must end right after its dashes.
    let body_start = match after_begin.iter().position(|&b| b == b'\n') {
        Some(i) if after_begin[..i].iter().all(|b| *b == b'\r' || *b == b' ') => i + 1,
        _ => return Err(PemError::BadBegin),
    };
    let body_and_rest = &after_begin[body_start..];
    let end_marker = format!("-----END {label}-----");
    let end = find(body_and_rest, end_marker.as_bytes()).ok_or_else(|| PemError::NoEnd {
        label: label.clone(),
    })?;
    let body = &body_and_rest[..end];
    let mut b64 = Vec::with_capacity(body.len());
    for line in body.split(|&b| b == b'\n') {
        let line = trim_ascii(line);
        if line.is_empty() {
            continue;
        }
        if line.contains(&b':') {
            return Err(PemError::Headers {
                label,
                header: String::from_utf8_lossy(line).into_owned(),
            });
        }
        b64.extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
    }
    let contents = STANDARD.decode(&b64).map_err(|e| PemError::Base64 {
        label: label.clone(),
        detail: e.to_string(),
    })?;
    if contents.is_empty() {
        return Err(PemError::EmptyBody { label });
    }
    Ok(PemBlock { label, contents })
}

/// Decodes every PEM block of `input` (a certificate chain), in order; at most `max_blocks`.
pub fn decode_all(input: &[u8], max_blocks: usize) -> Result<Vec<PemBlock>, PemError> {
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PemError::Empty);
    }
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        if out.len() == max_blocks {
            return Err(PemError::TooLarge {
                len: input.len(),
                max: max_blocks,
            });
        }
        let block = decode(&rest[start..])?;
        let marker = format!("-----END {}-----", block.label);
        let end = find(&rest[start..], marker.as_bytes()).ok_or_else(|| PemError::NoEnd {
            label: block.label.clone(),
        })? + marker.len();
        out.push(block);
        rest = &rest[start + end..];
    }
    if out.is_empty() {
        return Err(PemError::NoBegin);
    }
    Ok(out)
}

/// Encodes a PEM block with 64-column lines and LF line endings, as Go and OpenSSL write them.
pub fn encode(label: &str, contents: &[u8]) -> String {
    let b64 = STANDARD.encode(contents);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_of_a_chain_in_order() {
        let chain =
            [encode("CERTIFICATE", b"one"), encode("CERTIFICATE", b"two")].join("text between\n");
        let blocks = decode_all(chain.as_bytes(), 16).unwrap();
        let got: Vec<&[u8]> = blocks.iter().map(|b| b.contents.as_slice()).collect();
        assert_eq!(got, [&b"one"[..], &b"two"[..]]);
        assert!(matches!(
            decode_all(chain.as_bytes(), 1),
            Err(PemError::TooLarge { max: 1, .. })
        ));
        assert!(matches!(
            decode_all(b"no pem here", 16),
            Err(PemError::NoBegin)
        ));
        let cut = &chain[..chain.len() - 10];
        assert!(matches!(
            decode_all(cut.as_bytes(), 16),
            Err(PemError::NoEnd { .. })
        ));
    }

    #[test]
    fn round_trip_and_leading_text() {
        let pem = encode("PUBLIC KEY", &[1, 2, 3, 4, 5]);
        let with_text = format!("some explanatory text\n{pem}trailing");
        let b = decode(with_text.as_bytes()).unwrap();
        assert_eq!(b.label, "PUBLIC KEY");
        assert_eq!(b.contents, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn crlf_and_odd_widths() {
        let input = "-----BEGIN X-----\r\nAQID\r\nBA==\r\n-----END X-----\r\n";
        assert_eq!(decode(input.as_bytes()).unwrap().contents, vec![1, 2, 3, 4]);
    }

    #[test]
    fn specific_errors() {
        assert_eq!(decode(b"  \n").unwrap_err(), PemError::Empty);
        assert_eq!(decode(b"garbage").unwrap_err(), PemError::NoBegin);
        assert_eq!(
            decode(b"-----BEGIN X-----\nAQID\n").unwrap_err(),
            PemError::NoEnd { label: "X".into() }
        );
        assert!(matches!(
            decode(b"-----BEGIN X-----\n!!!!\n-----END X-----\n").unwrap_err(),
            PemError::Base64 { .. }
        ));
        assert!(matches!(
            decode(b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAQID\n-----END RSA PRIVATE KEY-----\n")
                .unwrap_err(),
            PemError::Headers { .. }
        ));
        assert_eq!(
            decode(b"-----BEGIN X-----\n-----END X-----\n").unwrap_err(),
            PemError::EmptyBody { label: "X".into() }
        );
        let big = vec![b'A'; MAX_PEM_LEN + 1];
        assert!(matches!(
            decode(&big).unwrap_err(),
            PemError::TooLarge { .. }
        ));
    }
}

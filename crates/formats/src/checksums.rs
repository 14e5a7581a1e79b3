//! Checksum files: GNU coreutils (`sha256sum`) and BSD tag (`sha256sum --tag`) formats.
//!
//! GNU lines are `<hex><space><space|*><name>`; a line that starts with `\` has its name escaped
//! (`\\` for a backslash, `\n` for a newline, `\r` for a carriage return). BSD lines are
//! `SHA256 (<name>) = <hex>`. The algorithm of a GNU line follows from its hex length.
//!
//! Parsing is strict: any malformed line is an error naming its line number, because a checksum
//! file is only useful when every line means exactly one thing.
//!
//! ```
//! use sigil_formats::checksums::{self, ChecksumLine};
//! use sigil_crypto::HashAlgorithm;
//!
//! let text = format!("{}  dist/sigil.tar.gz\n", "ab".repeat(32));
//! let lines = checksums::parse(text.as_bytes())?;
//! assert_eq!(lines[0].path, "dist/sigil.tar.gz");
//! assert_eq!(lines[0].algorithm, HashAlgorithm::Sha256);
//! assert_eq!(checksums::format_line(HashAlgorithm::Sha256, &lines[0].digest, &lines[0].path), text);
//! # Ok::<(), checksums::ChecksumFileError>(())
//! ```

use sigil_crypto::HashAlgorithm;
use sigil_crypto::hash::hex_lower;

/// Largest checksum file accepted.
pub const MAX_CHECKSUM_FILE_LEN: usize = 64 * 1024 * 1024;
/// Most lines accepted.
pub const MAX_LINES: usize = 1_000_000;
/// Longest path accepted (Linux `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumLine {
    /// 1-based line number.
    pub line: usize,
    /// The hash algorithm.
    pub algorithm: HashAlgorithm,
    /// The expected digest bytes.
    pub digest: Vec<u8>,
    /// The path as written (unescaped).
    pub path: String,
    /// GNU binary-mode marker (`*`); meaningless on POSIX, kept for round trips.
    pub binary: bool,
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not GNU nor BSD format.
    #[error("not a checksum line (expected `<hex>  <file>` or `SHA256 (<file>) = <hex>`)")]
    Format,
    /// Hex of a length matching no algorithm.
    #[error("digest has {0} hex characters, which matches no supported algorithm (64, 96 or 128)")]
    DigestLength(usize),
    /// The digest length contradicts the BSD tag.
    #[error("{tag} digest must have {expected} hex characters, found {found}")]
    TagLength {
        /// The tag.
        tag: String,
        /// Expected.
        expected: usize,
        /// Found.
        found: usize,
    },
    /// Unknown BSD tag.
    #[error("unsupported algorithm tag {0:?}")]
    Tag(String),
    /// Not hex.
    #[error("digest is not hexadecimal")]
    Hex,
    /// Bad escape sequence.
    #[error("invalid escape sequence in file name (only \\\\, \\n and \\r are allowed)")]
    Escape,
    /// Not UTF-8.
    #[error("line is not valid UTF-8")]
    Utf8,
    /// Empty name.
    #[error("file name is empty")]
    EmptyPath,
    /// Too long.
    #[error("file name is longer than {MAX_PATH_LEN} bytes")]
    PathTooLong,
    /// Contains NUL.
    #[error("file name contains a NUL byte")]
    Nul,
}

/// What was wrong with a checksum file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumFileError {
    /// Over [`MAX_CHECKSUM_FILE_LEN`].
    #[error("checksum file is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Over [`MAX_LINES`].
    #[error("checksum file has more than {MAX_LINES} lines")]
    TooManyLines,
    /// No lines at all.
    #[error("checksum file lists no files")]
    Empty,
    /// One line is malformed.
    #[error("checksum file line {line}: {error}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        error: LineError,
    },
}

/// Parses a whole checksum file. The final newline is optional; blank lines are errors
/// except at the very end.
pub fn parse(input: &[u8]) -> Result<Vec<ChecksumLine>, ChecksumFileError> {
    if input.len() > MAX_CHECKSUM_FILE_LEN {
        return Err(ChecksumFileError::TooLarge {
            len: input.len(),
            max: MAX_CHECKSUM_FILE_LEN,
        });
    }
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    if body.is_empty() {
        return Err(ChecksumFileError::Empty);
    }
    let mut out = Vec::new();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        if i >= MAX_LINES {
            return Err(ChecksumFileError::TooManyLines);
        }
        let line = i + 1;
        let parsed =
            parse_line(raw, line).map_err(|error| ChecksumFileError::Line { line, error })?;
        out.push(parsed);
    }
    Ok(out)
}

fn parse_line(raw: &[u8], line: usize) -> Result<ChecksumLine, LineError> {
    let text = std::str::from_utf8(raw).map_err(|_| LineError::Utf8)?;
    // A CR before the newline (a file edited on Windows) is not part of the name.
    let text = text.strip_suffix('\r').unwrap_or(text);
    let (escaped, text) = match text.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if let Some(parsed) = parse_bsd(text, escaped, line)? {
        return Ok(parsed);
    }
    // GNU: hex, one space, then ' ' or '*', then the name.
    let hex_end = text.find(' ').ok_or(LineError::Format)?;
    let hex = &text[..hex_end];
    let rest = &text[hex_end + 1..];
    let (binary, name) = match rest.as_bytes().first() {
        Some(b' ') => (false, &rest[1..]),
        Some(b'*') => (true, &rest[1..]),
        _ => return Err(LineError::Format),
    };
    let algorithm = HashAlgorithm::from_hex_len(hex.len()).ok_or(if hex.is_empty() {
        LineError::Format
    } else {
        LineError::DigestLength(hex.len())
    })?;
    let digest = decode_hex(hex)?;
    let path = finish_path(name, escaped)?;
    Ok(ChecksumLine {
        line,
        algorithm,
        digest,
        path,
        binary,
    })
}

fn parse_bsd(text: &str, escaped: bool, line: usize) -> Result<Option<ChecksumLine>, LineError> {
    let Some(open) = text.find(" (") else {
        return Ok(None);
    };
    let tag = &text[..open];
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Ok(None);
    }
    let Some(close) = text.rfind(") = ") else {
        return Ok(None);
    };
    if close < open + 2 {
        return Err(LineError::Format);
    }
    let algorithm = HashAlgorithm::ALL
        .into_iter()
        .find(|a| a.bsd_tag().eq_ignore_ascii_case(tag))
        .ok_or_else(|| LineError::Tag(tag.to_owned()))?;
    let name = &text[open + 2..close];
    let hex = &text[close + 4..];
    if hex.len() != algorithm.output_len() * 2 {
        return Err(LineError::TagLength {
            tag: tag.to_owned(),
            expected: algorithm.output_len() * 2,
            found: hex.len(),
        });
    }
    Ok(Some(ChecksumLine {
        line,
        algorithm,
        digest: decode_hex(hex)?,
        path: finish_path(name, escaped)?,
        binary: false,
    }))
}

fn finish_path(name: &str, escaped: bool) -> Result<String, LineError> {
    let path = if escaped {
        unescape(name)?
    } else {
        name.to_owned()
    };
    if path.is_empty() {
        return Err(LineError::EmptyPath);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(LineError::PathTooLong);
    }
    if path.contains('\0') {
        return Err(LineError::Nul);
    }
    Ok(path)
}

fn unescape(s: &str) -> Result<String, LineError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            _ => return Err(LineError::Escape),
        }
    }
    Ok(out)
}

fn decode_hex(s: &str) -> Result<Vec<u8>, LineError> {
    sigil_crypto::hash::hex_decode(s).ok_or(LineError::Hex)
}

/// Formats one GNU line (text mode), escaping the name as coreutils does when needed.
pub fn format_line(algorithm: HashAlgorithm, digest: &[u8], path: &str) -> String {
    debug_assert_eq!(digest.len(), algorithm.output_len());
    let needs_escape = path.contains(['\\', '\n', '\r']);
    let mut out = String::with_capacity(digest.len() * 2 + path.len() + 4);
    if needs_escape {
        out.push('\\');
    }
    out.push_str(&hex_lower(digest));
    out.push_str("  ");
    if needs_escape {
        for c in path.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    } else {
        out.push_str(path);
    }
    out.push('\n');
    out
}

/// A listed name as a report line shows it, escaped as GNU `sha256sum -c` does: a name holding a
/// backslash, newline or carriage return gets a leading `\` and those characters escaped
/// (`\\`, `\n`, `\r`). Other control characters (an escape sequence that would rewrite the
/// terminal, a spoofed "OK") are escaped too, as `\xHH`, which GNU prints raw.
pub fn display_name(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.chars().any(char::is_control) && !path.contains('\\') {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 8);
    out.push('\\');
    for c in path.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Why a listed path is refused before any file is opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    /// Starts at the file system root.
    #[error("absolute path")]
    Absolute,
    /// Contains a `..` component.
    #[error("path escapes the directory with `..`")]
    ParentComponent,
}

/// Checks that a listed path stays inside the directory it is resolved against (lexically;
/// symbolic links are checked by the caller when opening).
pub fn check_relative_path(path: &str) -> Result<(), PathRefusal> {
    if path.starts_with('/') {
        return Err(PathRefusal::Absolute);
    }
    if path.split('/').any(|c| c == "..") {
        return Err(PathRefusal::ParentComponent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn report_names_cannot_spoof_lines_or_the_terminal() {
        assert_eq!(display_name("app.tar.gz"), "app.tar.gz");
        assert_eq!(display_name("a\nb: OK"), "\\a\\nb: OK");
        assert_eq!(display_name("back\\slash"), "\\back\\\\slash");
        assert_eq!(display_name("\u{1b}[2Kx"), "\\\\x1b[2Kx");
        assert_eq!(display_name("cr\r"), "\\cr\\r");
    }
    use super::*;

    const H64: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn gnu_text_binary_and_escaped() {
        let text = format!("{H64}  a.txt\n{H64} *b.bin\n\\{H64}  dir\\\\x\\ny\n");
        let lines = parse(text.as_bytes()).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].path, "a.txt");
        assert!(!lines[0].binary);
        assert!(lines[1].binary);
        assert_eq!(lines[2].path, "dir\\x\ny");
        assert_eq!(
            format_line(HashAlgorithm::Sha256, &lines[2].digest, &lines[2].path),
            format!("\\{H64}  dir\\\\x\\ny\n")
        );
    }

    #[test]
    fn names_with_spaces_and_bsd_tags() {
        let text = format!("{H64}  my file (1).txt\nSHA256 (other (2).txt) = {H64}");
        let lines = parse(text.as_bytes()).unwrap();
        assert_eq!(lines[0].path, "my file (1).txt");
        assert_eq!(lines[1].path, "other (2).txt");
        assert_eq!(lines[1].algorithm, HashAlgorithm::Sha256);
    }

    #[test]
    fn sha512_by_length() {
        let text = format!("{}  x\n", "a".repeat(128));
        assert_eq!(
            parse(text.as_bytes()).unwrap()[0].algorithm,
            HashAlgorithm::Sha512
        );
    }

    #[test]
    fn errors_name_the_line() {
        let text = format!("{H64}  ok\nnot a line\n");
        assert_eq!(
            parse(text.as_bytes()).unwrap_err(),
            ChecksumFileError::Line {
                line: 2,
                error: LineError::Format
            }
        );
        let bad_hex = format!("{}  x", "g".repeat(64));
        assert_eq!(
            parse(bad_hex.as_bytes()).unwrap_err(),
            ChecksumFileError::Line {
                line: 1,
                error: LineError::Hex
            }
        );
        assert_eq!(
            parse(b"abcd  x").unwrap_err(),
            ChecksumFileError::Line {
                line: 1,
                error: LineError::DigestLength(4)
            }
        );
        assert_eq!(parse(b"").unwrap_err(), ChecksumFileError::Empty);
        assert_eq!(
            parse(format!("{H64}  a\n\n{H64}  b\n").as_bytes()).unwrap_err(),
            ChecksumFileError::Line {
                line: 2,
                error: LineError::Format
            }
        );
        assert_eq!(
            parse(format!("SHA256 (x) = {}", "a".repeat(128)).as_bytes()).unwrap_err(),
            ChecksumFileError::Line {
                line: 1,
                error: LineError::TagLength {
                    tag: "SHA256".into(),
                    expected: 64,
                    found: 128
                }
            }
        );
        assert_eq!(
            parse(format!("\\{H64}  a\\q").as_bytes()).unwrap_err(),
            ChecksumFileError::Line {
                line: 1,
                error: LineError::Escape
            }
        );
    }

    #[test]
    fn path_refusals() {
        assert_eq!(
            check_relative_path("/etc/passwd"),
            Err(PathRefusal::Absolute)
        );
        assert_eq!(
            check_relative_path("../x"),
            Err(PathRefusal::ParentComponent)
        );
        assert_eq!(
            check_relative_path("a/../../x"),
            Err(PathRefusal::ParentComponent)
        );
        assert_eq!(check_relative_path("a/..b/x"), Ok(()));
        assert_eq!(check_relative_path("./a"), Ok(()));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&data);
        }

        #[test]
        fn format_then_parse_round_trips(path in "[^\u{0}]{1,40}", digest in proptest::collection::vec(proptest::num::u8::ANY, 32)) {
            let line = format_line(HashAlgorithm::Sha256, &digest, &path);
            let parsed = parse(line.as_bytes()).unwrap();
            proptest::prop_assert_eq!(parsed.len(), 1);
            proptest::prop_assert_eq!(&parsed[0].path, &path);
            proptest::prop_assert_eq!(&parsed[0].digest, &digest);
        }
    }
}

//! Key references: where `--key` says a key lives.
//!
//! | form | meaning |
//! |---|---|
//! | `PATH` | a file |
//! | `env://VAR` | the PEM text is the value of environment variable `VAR`; it never touches disk |
//! | `https://…`, `http://…` | a public key at a URL (fetching is the caller's job: this crate opens no sockets) |
//!
//! cosign's KMS, `k8s://` and `pkcs11:` references are recognised and refused with a clear error
//! until Sigil supports them.

use std::io::Read;
use std::path::PathBuf;

use zeroize::Zeroizing;

/// Largest key material read from any reference.
pub const MAX_KEY_LEN: u64 = 1024 * 1024;

/// A parsed `--key` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A file path.
    File(PathBuf),
    /// An environment variable holding PEM text.
    Env(String),
    /// A URL (public keys only).
    Url(String),
}

/// Errors resolving a key reference.
#[derive(Debug, thiserror::Error)]
pub enum KeyRefError {
    /// The reference is empty.
    #[error("empty key reference")]
    Empty,
    /// `env://` with no variable name.
    #[error("env:// key reference without a variable name (expected env://VARNAME)")]
    EnvNoName,
    /// The variable is not set.
    #[error("environment variable {0} (from --key env://{0}) is not set")]
    EnvUnset(String),
    /// The variable is empty.
    #[error("environment variable {0} (from --key env://{0}) is empty")]
    EnvEmpty(String),
    /// A scheme Sigil does not support yet.
    #[error(
        "key references with scheme {scheme:?} are not supported by Sigil (supported: a file path, env://VAR, https:// for public keys)"
    )]
    UnsupportedScheme {
        /// The scheme.
        scheme: String,
    },
    /// A URL where a private key is needed.
    #[error("private keys cannot be loaded from a URL ({0}); use a file or env://VAR")]
    PrivateKeyUrl(String),
    /// A FIFO, device or socket where a key file was expected.
    #[error("key file {} is not a regular file (a device, socket or FIFO)", .0.display())]
    NotRegular(PathBuf),
    /// The file could not be read.
    #[error("cannot read key file {path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error (in the message, so not also a `source`).
        error: std::io::Error,
    },
    /// A directory was given.
    #[error("key path {0} is a directory, not a key file")]
    Directory(PathBuf),
    /// Too large.
    #[error("key material from {what} is larger than the {MAX_KEY_LEN}-byte limit")]
    TooLarge {
        /// Where it came from.
        what: String,
    },
}

impl std::str::FromStr for KeyRef {
    type Err = KeyRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(KeyRefError::Empty);
        }
        if let Some(var) = s.strip_prefix("env://") {
            if var.is_empty() {
                return Err(KeyRefError::EnvNoName);
            }
            return Ok(Self::Env(var.to_owned()));
        }
        if s.starts_with("https://") || s.starts_with("http://") {
            return Ok(Self::Url(s.to_owned()));
        }
        for scheme in [
            "awskms://",
            "gcpkms://",
            "azurekms://",
            "hashivault://",
            "k8s://",
            "gitlab://",
            "github://",
            "pkcs11:",
        ] {
            if s.starts_with(scheme) {
                return Err(KeyRefError::UnsupportedScheme {
                    scheme: scheme.trim_end_matches("//").to_owned(),
                });
            }
        }
        Ok(Self::File(PathBuf::from(s)))
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Env(v) => write!(f, "env://{v}"),
            Self::Url(u) => f.write_str(u),
        }
    }
}

impl KeyRef {
    /// Reads the key material of a file or environment reference; `Ok(None)` for a URL, which
    /// the caller fetches. The bytes are zeroized on drop (they may be a private key).
    pub fn read_local(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KeyRefError> {
        match self {
            Self::File(path) => {
                let (file, _) = crate::fs::open_regular(path).map_err(|e| match e {
                    crate::fs::OpenError::Io(error) => KeyRefError::Io {
                        path: path.clone(),
                        error,
                    },
                    crate::fs::OpenError::Directory => KeyRefError::Directory(path.clone()),
                    crate::fs::OpenError::NotRegular => KeyRefError::NotRegular(path.clone()),
                })?;
                let mut buf = Zeroizing::new(Vec::new());
                file.take(MAX_KEY_LEN + 1)
                    .read_to_end(&mut buf)
                    .map_err(|error| KeyRefError::Io {
                        path: path.clone(),
                        error,
                    })?;
                if buf.len() as u64 > MAX_KEY_LEN {
                    return Err(KeyRefError::TooLarge {
                        what: path.display().to_string(),
                    });
                }
                Ok(Some(buf))
            }
            Self::Env(var) => {
                let value =
                    std::env::var_os(var).ok_or_else(|| KeyRefError::EnvUnset(var.clone()))?;
                let bytes = Zeroizing::new(value.into_encoded_bytes());
                if bytes.is_empty() {
                    return Err(KeyRefError::EnvEmpty(var.clone()));
                }
                if bytes.len() as u64 > MAX_KEY_LEN {
                    return Err(KeyRefError::TooLarge {
                        what: format!("env://{var}"),
                    });
                }
                Ok(Some(bytes))
            }
            Self::Url(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(
            "cosign.key".parse::<KeyRef>().unwrap(),
            KeyRef::File("cosign.key".into())
        );
        assert_eq!(
            "env://K".parse::<KeyRef>().unwrap(),
            KeyRef::Env("K".into())
        );
        assert_eq!(
            "https://example.com/k.pub".parse::<KeyRef>().unwrap(),
            KeyRef::Url("https://example.com/k.pub".into())
        );
        assert!(matches!(
            "env://".parse::<KeyRef>(),
            Err(KeyRefError::EnvNoName)
        ));
        assert!(matches!(
            "awskms:///alias/x".parse::<KeyRef>(),
            Err(KeyRefError::UnsupportedScheme { .. })
        ));
        assert!(matches!("".parse::<KeyRef>(), Err(KeyRefError::Empty)));
    }

    #[test]
    fn reads_files_and_refuses_directories() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(&KeyRef::File(p).read_local().unwrap().unwrap()[..], b"abc");
        assert!(matches!(
            KeyRef::File(dir.path().to_owned()).read_local(),
            Err(KeyRefError::Directory(_))
        ));
        assert!(matches!(
            KeyRef::File(dir.path().join("missing")).read_local(),
            Err(KeyRefError::Io { .. })
        ));
    }
}

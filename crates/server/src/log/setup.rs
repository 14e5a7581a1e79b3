//! A log's data directory: its signing key (given, or created on first start and kept beside
//! the data) and its origin (given, or recorded on first start so that a restart on another
//! port keeps the name clients pinned). Files are written atomically (written beside, synced,
//! renamed, the directory synced); the key with mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use sigil_crypto::keyfile::{EncryptedKeyFile, KeyFileLabel, ScryptParams};
use sigil_crypto::{KeyAlgorithm, SigningKey};
use zeroize::Zeroizing;

/// Largest key file read.
const MAX_KEY_FILE: u64 = 64 * 1024;
/// The key file's name in the data directory.
pub const KEY_FILE: &str = "log-signing-key.pem";
/// The origin file's name in the data directory.
pub const ORIGIN_FILE: &str = "origin";

/// Why the data directory could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is over the limit.
    #[error("{0}: the key file is over {MAX_KEY_FILE} bytes")]
    TooLarge(PathBuf),
    /// The key does not parse or decrypt.
    #[error("log key {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An encrypted key without a password.
    #[error("log key {path} is encrypted: {reason}")]
    Password {
        /// The file.
        path: PathBuf,
        /// Why there is no password.
        reason: String,
    },
}

/// What the caller should tell the operator about the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyNotice {
    /// The data directory's key is stored unencrypted.
    Unencrypted(PathBuf),
    /// A key was generated on this start (encrypted with the given password, or not).
    Generated {
        /// Where it was written.
        path: PathBuf,
        /// Whether it is encrypted.
        encrypted: bool,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_limited(path: &Path) -> Result<Zeroizing<Vec<u8>>, SetupError> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(io(path))?;
    let mut buf = Zeroizing::new(Vec::new());
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io(path))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(SetupError::TooLarge(path.to_owned()));
    }
    Ok(buf)
}

/// Writes `data` to `path` atomically with `mode`: beside it, synced, renamed over it, the
/// directory synced.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), SetupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io(path))
}

/// A key file's key: a cosign encrypted file (decrypted with `password()`, asked only then) or
/// a plain PEM private key.
fn decode_key(
    path: &Path,
    pem: &[u8],
    password: &dyn Fn() -> Result<Zeroizing<String>, String>,
) -> Result<SigningKey, SetupError> {
    let bad = |reason: String| SetupError::Key {
        path: path.to_owned(),
        reason,
    };
    if sigil_crypto::pem::peek_label(pem).is_some_and(|l| l.starts_with("ENCRYPTED")) {
        let file = EncryptedKeyFile::parse(pem).map_err(|e| bad(e.to_string()))?;
        let pw = password().map_err(|reason| SetupError::Password {
            path: path.to_owned(),
            reason,
        })?;
        return file.decrypt(pw.as_bytes()).map_err(|e| bad(e.to_string()));
    }
    SigningKey::from_plain_pem(pem).map_err(|e| bad(e.to_string()))
}

/// The log's signing key: the file at `key` when given, else `log-signing-key.pem` in `data`,
/// else a new `algorithm` key written there — encrypted as a cosign key file with
/// `new_password` when one is given (it is then needed at every start), otherwise unencrypted
/// with mode 0600. An encrypted file is decrypted with `password()`, asked only then.
pub fn load_or_create_key(
    data: &Path,
    key: Option<&Path>,
    algorithm: KeyAlgorithm,
    password: &dyn Fn() -> Result<Zeroizing<String>, String>,
    new_password: Option<Zeroizing<String>>,
) -> Result<(SigningKey, Option<KeyNotice>), SetupError> {
    if let Some(p) = key {
        return Ok((decode_key(p, &read_limited(p)?, password)?, None));
    }
    key_in(data, KEY_FILE, algorithm, password, new_password)
}

/// The signing key in `data/file` (asking `password` when it is encrypted), or a new one of
/// `algorithm` written there (encrypted with `new_password` when given): a service's key
/// kept beside its data (the log's, the timestamp authority's).
pub fn key_in(
    data: &Path,
    file: &str,
    algorithm: KeyAlgorithm,
    password: &dyn Fn() -> Result<Zeroizing<String>, String>,
    new_password: Option<Zeroizing<String>>,
) -> Result<(SigningKey, Option<KeyNotice>), SetupError> {
    let decode = |path: &Path, pem: &[u8]| decode_key(path, pem, password);
    let path = data.join(file);
    if path.exists() {
        let pem = read_limited(&path)?;
        let encrypted =
            sigil_crypto::pem::peek_label(&pem).is_some_and(|l| l.starts_with("ENCRYPTED"));
        let key = decode(&path, &pem)?;
        return Ok((key, (!encrypted).then_some(KeyNotice::Unencrypted(path))));
    }
    let key = SigningKey::generate(algorithm).map_err(|e| SetupError::Key {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let pem = Zeroizing::new(match &new_password {
        Some(pw) => sigil_crypto::keyfile::encrypt_key(
            &key,
            pw.as_bytes(),
            KeyFileLabel::Sigstore,
            ScryptParams::DEFAULT,
        )
        .map_err(|e| SetupError::Key {
            path: path.clone(),
            reason: e.to_string(),
        })?,
        None => sigil_crypto::pem::encode(
            "PRIVATE KEY",
            &key.to_pkcs8_der().map_err(|e| SetupError::Key {
                path: path.clone(),
                reason: e.to_string(),
            })?,
        ),
    });
    std::fs::create_dir_all(data).map_err(io(data))?;
    write_atomic(&path, pem.as_bytes(), 0o600)?;
    Ok((
        key,
        Some(KeyNotice::Generated {
            path,
            encrypted: new_password.is_some(),
        }),
    ))
}

/// The log's origin: `given`, else the one recorded in `data` on an earlier start, else
/// `default` (the listen address); recorded when it changes. Returns the origin and, when
/// `given` replaces a recorded one, the one it replaces (clients that pinned it will refuse
/// new checkpoints: tell the operator).
pub fn origin(
    data: &Path,
    given: Option<&str>,
    default: &str,
) -> Result<(String, Option<String>), SetupError> {
    let file = data.join(ORIGIN_FILE);
    let recorded = std::fs::read_to_string(&file)
        .ok()
        .map(|s| s.trim().to_owned());
    let (origin, replaced) = match (given, &recorded) {
        (Some(o), Some(r)) if o != r => (o.to_owned(), Some(r.clone())),
        (Some(o), _) => (o.to_owned(), None),
        (None, Some(r)) => (r.clone(), None),
        (None, None) => (default.to_owned(), None),
    };
    if recorded.as_deref() != Some(origin.as_str()) {
        std::fs::create_dir_all(data).map_err(io(data))?;
        write_atomic(&file, format!("{origin}\n").as_bytes(), 0o644)?;
    }
    Ok((origin, replaced))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_password() -> Result<Zeroizing<String>, String> {
        Err("no password".into())
    }

    #[test]
    fn a_key_is_created_once_and_kept() {
        let d = tempfile::tempdir().unwrap();
        let (k1, n1) =
            load_or_create_key(d.path(), None, KeyAlgorithm::EcdsaP256, &no_password, None)
                .unwrap();
        assert_eq!(
            n1,
            Some(KeyNotice::Generated {
                path: d.path().join(KEY_FILE),
                encrypted: false
            })
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (k2, n2) =
            load_or_create_key(d.path(), None, KeyAlgorithm::Ed25519, &no_password, None).unwrap();
        assert_eq!(k1.public_key().spki_der(), k2.public_key().spki_der());
        assert_eq!(n2, Some(KeyNotice::Unencrypted(d.path().join(KEY_FILE))));
    }

    #[test]
    fn an_encrypted_key_needs_its_password() {
        let d = tempfile::tempdir().unwrap();
        let pw = || Ok(Zeroizing::new("pw".to_owned()));
        let (k1, n1) = load_or_create_key(
            d.path(),
            None,
            KeyAlgorithm::EcdsaP256,
            &no_password,
            Some(Zeroizing::new("pw".into())),
        )
        .unwrap();
        assert!(matches!(
            n1,
            Some(KeyNotice::Generated {
                encrypted: true,
                ..
            })
        ));
        let (k2, n2) =
            load_or_create_key(d.path(), None, KeyAlgorithm::EcdsaP256, &pw, None).unwrap();
        assert_eq!(k1.public_key().spki_der(), k2.public_key().spki_der());
        assert_eq!(n2, None);
        assert!(matches!(
            load_or_create_key(d.path(), None, KeyAlgorithm::EcdsaP256, &no_password, None),
            Err(SetupError::Password { .. })
        ));
        let wrong = || Ok(Zeroizing::new("wrong".to_owned()));
        assert!(matches!(
            load_or_create_key(d.path(), None, KeyAlgorithm::EcdsaP256, &wrong, None),
            Err(SetupError::Key { .. })
        ));
    }

    #[test]
    fn the_origin_is_recorded_and_replaced_only_when_given() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            origin(d.path(), None, "127.0.0.1:1").unwrap(),
            ("127.0.0.1:1".into(), None)
        );
        assert_eq!(
            origin(d.path(), None, "127.0.0.1:2").unwrap(),
            ("127.0.0.1:1".into(), None)
        );
        assert_eq!(
            origin(d.path(), Some("log.example"), "x").unwrap(),
            ("log.example".into(), Some("127.0.0.1:1".into()))
        );
        assert_eq!(
            origin(d.path(), None, "x").unwrap(),
            ("log.example".into(), None)
        );
    }
}

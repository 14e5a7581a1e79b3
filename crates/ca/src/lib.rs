//! Sigil's keyless certificate authority (`sigil ca`): a root and an intermediate created once
//! in a data directory ([`init`]), their keys kept as cosign-encrypted files that are
//! decrypted only in memory ([`Ca::open`]), and the Fulcio certificate profile for leaves
//! ([`Ca::leaf_template`]): ten minutes, an empty subject, exactly one critical SAN,
//! digitalSignature, codeSigning, SKI and AKI, and the OIDC issuer in both
//! 1.3.6.1.4.1.57264.1.1 (raw) and .1.8 (UTF8String).
//!
//! # Example
//!
//! ```no_run
//! use sigil_crypto::KeyAlgorithm;
//!
//! let dir = std::path::Path::new("/var/lib/sigil/ca");
//! let password = zeroize::Zeroizing::new("correct horse".to_owned());
//! sigil_ca::init(dir, KeyAlgorithm::EcdsaP384, "Example Org", &password)?;
//! let ca = sigil_ca::Ca::open(dir, &password)?;
//! println!("{}", ca.chain_pem());
//! # Ok::<(), sigil_ca::CaError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod identity;
pub mod service;
pub mod template;

use std::path::Path;

use sigil_crypto::keyfile::{EncryptedKeyFile, KeyFileLabel, ScryptParams};
use sigil_crypto::{KeyAlgorithm, PublicKey, SigningKey};
use sigil_pki::issue::{
    self, EKU_CODE_SIGNING, Extension, Issuer, Template, attr, key_usage, name,
};
use zeroize::Zeroizing;

/// The root certificate (PEM).
pub const ROOT_FILE: &str = "ca-root.pem";
/// The chain clients and trust roots take (PEM: the intermediate, then the root).
pub const CHAIN_FILE: &str = "ca-chain.pem";
/// The root's key (cosign-encrypted).
pub const ROOT_KEY_FILE: &str = "ca-root-key.pem";
/// The intermediate's key (cosign-encrypted), which signs the leaves.
pub const INTERMEDIATE_KEY_FILE: &str = "ca-intermediate-key.pem";
/// How long the root is valid, in days.
pub const ROOT_DAYS: i64 = 3650;
/// How long the intermediate is valid, in days.
pub const INTERMEDIATE_DAYS: i64 = 1825;
/// A leaf's lifetime, in seconds (Fulcio's ten minutes).
pub const LEAF_SECONDS: i64 = 600;

/// Why the CA could not be created or opened.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A CA is already in the directory: nothing is overwritten.
    #[error("{0} already exists: a CA is already initialised there (nothing was overwritten)")]
    Exists(String),
    /// An empty password.
    #[error(
        "the CA's keys are stored encrypted: a non-empty password is required (COSIGN_PASSWORD or SIGIL_PASSWORD)"
    )]
    NoPassword,
    /// Files could not be read or written.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A key or certificate could not be made or read.
    #[error("{0}")]
    Key(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |e| CaError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Creates a root and an intermediate in `dir` (refusing when any CA file is there): keys of
/// `algorithm`, encrypted with `password`; the root CA:true with pathlen 1, the intermediate
/// CA:true with pathlen 0 and the codeSigning EKU, both keyCertSign and cRLSign.
pub fn init(
    dir: &Path,
    algorithm: KeyAlgorithm,
    organization: &str,
    password: &Zeroizing<String>,
) -> Result<(), CaError> {
    if password.is_empty() {
        return Err(CaError::NoPassword);
    }
    for f in [ROOT_FILE, CHAIN_FILE, ROOT_KEY_FILE, INTERMEDIATE_KEY_FILE] {
        if dir.join(f).exists() {
            return Err(CaError::Exists(dir.join(f).display().to_string()));
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key_err = |e: sigil_crypto::KeyError| CaError::Key(e.to_string());
    let issue_err = |e: issue::IssueError| CaError::Key(e.to_string());
    let t = now() - 60;
    let root_key = SigningKey::generate(algorithm).map_err(key_err)?;
    let root_name = name(&[
        (attr::ORGANIZATION, organization),
        (attr::COMMON_NAME, "sigil keyless root"),
    ]);
    let root =
        issue::self_signed_ca(&root_key, &root_name, t, ROOT_DAYS, Some(1)).map_err(issue_err)?;
    let inter_key = SigningKey::generate(algorithm).map_err(key_err)?;
    let inter = issue::issue(
        &Template {
            serial: issue::random_serial(),
            subject: name(&[
                (attr::ORGANIZATION, organization),
                (attr::COMMON_NAME, "sigil keyless intermediate"),
            ]),
            not_before: t,
            not_after: t + INTERMEDIATE_DAYS * 86_400,
            public_key: inter_key.public_key().clone(),
            extensions: vec![
                Extension::basic_constraints(true, Some(0)),
                Extension::key_usage(key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN),
                Extension::extended_key_usage(&[EKU_CODE_SIGNING], false),
                Extension::subject_key_id(&issue::key_id(inter_key.public_key())),
                Extension::authority_key_id(&issue::key_id(root_key.public_key())),
            ],
        },
        &Issuer {
            name: &root_name,
            key: &root_key,
        },
    )
    .map_err(issue_err)?;
    let encrypt = |k: &SigningKey| {
        sigil_crypto::keyfile::encrypt_key(
            k,
            password.as_bytes(),
            KeyFileLabel::Sigstore,
            ScryptParams::DEFAULT,
        )
        .map(Zeroizing::new)
        .map_err(|e| CaError::Key(e.to_string()))
    };
    let pem = |d: &[u8]| sigil_crypto::pem::encode("CERTIFICATE", d);
    let write = |f: &str, data: &[u8], mode: u32| {
        sigil_server::log::setup::write_atomic(&dir.join(f), data, mode)
            .map_err(|e| CaError::Key(e.to_string()))
    };
    write(ROOT_KEY_FILE, encrypt(&root_key)?.as_bytes(), 0o600)?;
    write(
        INTERMEDIATE_KEY_FILE,
        encrypt(&inter_key)?.as_bytes(),
        0o600,
    )?;
    write(ROOT_FILE, pem(&root).as_bytes(), 0o644)?;
    write(CHAIN_FILE, (pem(&inter) + &pem(&root)).as_bytes(), 0o644)?;
    Ok(())
}

/// An opened CA: the intermediate's key (in memory only) and the chain.
pub struct Ca {
    key: SigningKey,
    intermediate: Vec<u8>,
    intermediate_name: Vec<u8>,
    root: Vec<u8>,
}

impl Ca {
    /// Opens the CA in `dir`, decrypting the intermediate's key with `password`.
    pub fn open(dir: &Path, password: &Zeroizing<String>) -> Result<Self, CaError> {
        let read = |f: &str| {
            let p = dir.join(f);
            std::fs::read(&p).map_err(io(&p))
        };
        let key_pem = Zeroizing::new(read(INTERMEDIATE_KEY_FILE)?);
        let key = EncryptedKeyFile::parse(&key_pem)
            .and_then(|f| f.decrypt(password.as_bytes()))
            .map_err(|e| CaError::Key(format!("{INTERMEDIATE_KEY_FILE}: {e}")))?;
        let chain = sigil_crypto::pem::decode_all(&read(CHAIN_FILE)?, 4)
            .map_err(|e| CaError::Key(format!("{CHAIN_FILE}: {e}")))?;
        let [inter, root] = <[_; 2]>::try_from(chain).map_err(|_| {
            CaError::Key(format!(
                "{CHAIN_FILE}: expected the intermediate and the root"
            ))
        })?;
        let cert = sigil_pki::cert::Certificate::from_der(&inter.contents)
            .map_err(|e| CaError::Key(format!("{CHAIN_FILE}: {e}")))?;
        let certified = cert
            .public_key()
            .map_err(|e| CaError::Key(format!("{CHAIN_FILE}: {e}")))?;
        if certified.to_pem() != key.public_key().to_pem() {
            return Err(CaError::Key(format!(
                "{CHAIN_FILE}: the intermediate is for another key than {INTERMEDIATE_KEY_FILE}"
            )));
        }
        Ok(Self {
            key,
            intermediate_name: cert.subject_der(),
            intermediate: inter.contents,
            root: root.contents,
        })
    }

    /// The chain, PEM: the intermediate, then the root (Fulcio's trust bundle order).
    pub fn chain_pem(&self) -> String {
        [&self.intermediate, &self.root]
            .iter()
            .map(|c| sigil_crypto::pem::encode("CERTIFICATE", c))
            .collect()
    }

    /// The issuer of leaves: the intermediate's name and key.
    pub fn issuer(&self) -> Issuer<'_> {
        Issuer {
            name: &self.intermediate_name,
            key: &self.key,
        }
    }

    /// The chain, DER: the intermediate, then the root.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        vec![self.intermediate.clone(), self.root.clone()]
    }

    /// Fulcio's leaf profile for `public_key` and identity `san` (an email or URI) from the
    /// OIDC `oidc_issuer`, valid ten minutes from `not_before`, with `extra` extensions (the
    /// CI claims, 1.3.6.1.4.1.57264.1.9 and later).
    pub fn leaf_template(
        &self,
        public_key: &PublicKey,
        san: &str,
        oidc_issuer: &str,
        not_before: i64,
        extra: Vec<Extension>,
    ) -> Template {
        let mut all = vec![Extension::subject_alt_name(san, true)];
        all.extend(extra);
        self.leaf_template_with(public_key, oidc_issuer, not_before, all)
    }

    /// Fulcio's leaf profile whose SAN is among `extra` (the first of them, by convention).
    pub fn leaf_template_with(
        &self,
        public_key: &PublicKey,
        oidc_issuer: &str,
        not_before: i64,
        extra: Vec<Extension>,
    ) -> Template {
        let mut extensions = vec![
            Extension::key_usage(key_usage::DIGITAL_SIGNATURE),
            Extension::extended_key_usage(&[EKU_CODE_SIGNING], false),
            Extension::subject_key_id(&issue::key_id(public_key)),
            Extension::authority_key_id(&issue::key_id(self.key.public_key())),
            Extension::raw("1.3.6.1.4.1.57264.1.1", oidc_issuer.as_bytes()),
            Extension::utf8("1.3.6.1.4.1.57264.1.8", oidc_issuer),
        ];
        extensions.extend(extra);
        Template {
            serial: issue::random_serial(),
            subject: name(&[]),
            not_before,
            not_after: not_before + LEAF_SECONDS,
            public_key: public_key.clone(),
            extensions,
        }
    }
}

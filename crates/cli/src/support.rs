//! Plumbing shared by the commands: exit codes, passwords, atomic output, progress, key loading.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sigil_crypto::keyfile::EncryptedKeyFile;
use sigil_crypto::keyref::{KeyRef, KeyRefError, MAX_KEY_LEN};
use sigil_crypto::{PublicKey, SigningKey};
use zeroize::Zeroizing;

/// Exit code: verification failed (a signature or checksum did not match).
pub const EXIT_VERIFY_FAILED: u8 = 1;
/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: bad input, I/O error, wrong password (anything that is not a clean "no").
pub const EXIT_ERROR: u8 = 3;
/// The command did its work, but some inputs were skipped (an SBOM with warnings).
pub const EXIT_PARTIAL: u8 = 4;

/// A result was produced but is incomplete; the message says why.
#[derive(Debug)]
pub struct PartialResult(pub String);

impl std::fmt::Display for PartialResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PartialResult {}

/// Marks an error as a verification failure (exit 1) rather than an input error (exit 3).
#[derive(Debug)]
pub struct VerificationFailed(pub String);

impl std::fmt::Display for VerificationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VerificationFailed {}

/// The password for a private key: `COSIGN_PASSWORD`, then `SIGIL_PASSWORD` (an empty value is a
/// valid empty password, as in cosign), else a prompt on the terminal (twice when `confirm`).
pub fn password(confirm: bool) -> Result<Zeroizing<String>> {
    for var in ["COSIGN_PASSWORD", "SIGIL_PASSWORD"] {
        if let Some(v) = std::env::var_os(var) {
            let v = v
                .into_string()
                .map_err(|_| anyhow!("{var} is not valid UTF-8"))?;
            return Ok(Zeroizing::new(v));
        }
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ").map_err(|e| {
            anyhow!(
                "no password: set COSIGN_PASSWORD (or SIGIL_PASSWORD), or run on a terminal ({e})"
            )
        })?,
    );
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key again: ")
                .map_err(|e| anyhow!("cannot read the password again: {e}"))?,
        );
        if *first != *second {
            bail!("passwords do not match");
        }
    }
    Ok(first)
}

/// Reads the bytes a key reference names, fetching `https://` and `http://` references.
pub fn read_key_ref(reference: &str) -> Result<(KeyRef, Zeroizing<Vec<u8>>)> {
    let r: KeyRef = reference.parse()?;
    if let Some(bytes) = r.read_local()? {
        return Ok((r, bytes));
    }
    let KeyRef::Url(url) = &r else {
        unreachable!("read_local returns bytes for every local reference")
    };
    let bytes = fetch_url(url).with_context(|| format!("cannot fetch key {url}"))?;
    Ok((r, Zeroizing::new(bytes)))
}

fn fetch_url(url: &str) -> Result<Vec<u8>> {
    // A key fetched over https must not be downgraded to http by a redirect.
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if downgrade {
            attempt.error("refusing a redirect from https to http")
        } else if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(policy)
        .build()?;
    let mut resp = client.get(url).send()?;
    if !resp.status().is_success() {
        bail!("HTTP status {}", resp.status());
    }
    let mut body = Vec::new();
    (&mut resp).take(MAX_KEY_LEN + 1).read_to_end(&mut body)?;
    if body.len() as u64 > MAX_KEY_LEN {
        return Err(KeyRefError::TooLarge {
            what: url.to_owned(),
        }
        .into());
    }
    Ok(body)
}

/// Loads a private key from a cosign key file reference, asking for the password only after the
/// file has been checked.
pub fn load_signing_key(reference: &str) -> Result<SigningKey> {
    if let KeyRef::Url(url) = reference.parse::<KeyRef>()? {
        return Err(KeyRefError::PrivateKeyUrl(url).into());
    }
    let (r, bytes) = read_key_ref(reference)?;
    let file = EncryptedKeyFile::parse(&bytes).with_context(|| format!("key {r}"))?;
    let pw = password(false)?;
    let key = file
        .decrypt(pw.as_bytes())
        .with_context(|| format!("key {r}"))?;
    Ok(key)
}

/// The signer for `--key` and, with `--certificate` (and `--certificate-chain`), the
/// certificate it signs with: the leaf must be for that key.
/// What signs, where it is logged and timestamped: from `--key` (and `--certificate`), or
/// keyless from `--identity-token` with a certificate from `--fulcio-url` (or the signing
/// config's CA), always logged.
pub struct Signing {
    pub signer: Box<dyn sigil_sign::Signer>,
    pub log: Option<sigil_sign::Log>,
    pub tsa: Option<sigil_sign::timestamp::TimestampAuthority>,
}

pub fn signing(
    key: Option<&str>,
    cert: &crate::cli::CertificateArgs,
    tlog: &crate::cli::TlogUploadArgs,
) -> Result<Signing> {
    let services = match cert.signing_config.as_ref().or(cert.trust_config.as_ref()) {
        Some(path) => {
            let bytes = read_limited(path, 4 << 20, "signing config")?;
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            sigil_formats::signing_config::services_at(&v, sigil_sign::now())
                .map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        None => Default::default(),
    };
    let rekor_url = if tlog.rekor_url == crate::cli::DEFAULT_REKOR_URL {
        services
            .tlogs
            .first()
            .map_or(tlog.rekor_url.clone(), |s| s.url.clone())
    } else {
        tlog.rekor_url.clone()
    };
    let tsa_url = tlog
        .timestamp_server_url
        .clone()
        .or_else(|| services.tsas.first().map(|s| s.url.clone()));
    let tsa = tsa_url
        .as_deref()
        .map(sigil_sign::timestamp::TimestampAuthority::new)
        .transpose()?;
    if let Some(k) = key {
        return Ok(Signing {
            signer: load_signer(k, cert)?,
            log: crate::rekor::upload_log_if(tlog.tlog_upload, &rekor_url)?,
            tsa,
        });
    }
    let Some(token) = &cert.identity_token else {
        bail!("give --key, or --identity-token (or SIGSTORE_ID_TOKEN) for keyless signing");
    };
    if cert.certificate.is_some() {
        bail!("--certificate is for --key; keyless signing gets its certificate from the CA");
    }
    let fulcio = cert
        .fulcio_url
        .clone()
        .or_else(|| services.ca.first().map(|s| s.url.clone()))
        .ok_or_else(|| {
            anyhow!("keyless signing needs --fulcio-url (or a --signing-config naming a CA)")
        })?;
    let token = identity_token(token)?;
    let signer = sigil_sign::keyless::signer(&fulcio, &token)?;
    if let Some(leaf) = sigil_sign::Signer::certificate_chain(&signer).first()
        && let Ok(c) = sigil_pki::cert::Certificate::from_der(leaf)
    {
        let who = c
            .subject_alternative_names()
            .ok()
            .and_then(|s| s.first().and_then(|s| s.value().map(str::to_owned)))
            .unwrap_or_default();
        errln!("Certificate for {who} from {fulcio}");
    }
    Ok(Signing {
        signer: Box::new(signer),
        log: Some(crate::rekor::upload_log(&rekor_url)?),
        tsa,
    })
}

/// `--identity-token`: the token, or a file holding it (as cosign reads it).
fn identity_token(value: &str) -> Result<String> {
    let v = value.trim();
    if v.matches('.').count() == 2 && !v.contains('/') {
        return Ok(v.to_owned());
    }
    let path = Path::new(v);
    let bytes = read_limited(path, 64 * 1024, "identity token")
        .context("--identity-token is neither a JWT nor a readable file")?;
    Ok(String::from_utf8(bytes)
        .context("the identity token file is not UTF-8")?
        .trim()
        .to_owned())
}

pub fn load_signer(
    reference: &str,
    cert: &crate::cli::CertificateArgs,
) -> Result<Box<dyn sigil_sign::Signer>> {
    let key = load_signing_key(reference)?;
    let Some(path) = &cert.certificate else {
        return Ok(Box::new(key));
    };
    const MAX_CERT: usize = 64 * 1024;
    let bytes = read_limited(path, MAX_CERT, "certificate")?;
    let leaf = if sigil_crypto::pem::peek_label(&bytes).is_some() {
        let b = sigil_crypto::pem::decode(&bytes)
            .with_context(|| format!("certificate {}", path.display()))?;
        if b.label != "CERTIFICATE" {
            bail!(
                "certificate {}: a {} PEM block, not a CERTIFICATE",
                path.display(),
                b.label
            );
        }
        b.contents
    } else {
        bytes
    };
    let mut chain = vec![leaf];
    if let Some(path) = &cert.certificate_chain {
        let bytes = read_limited(path, 16 * MAX_CERT, "certificate chain")?;
        for b in sigil_crypto::pem::decode_all(&bytes, 16)
            .with_context(|| format!("certificate chain {}", path.display()))?
        {
            if b.label != "CERTIFICATE" {
                bail!(
                    "certificate chain {}: a {} PEM block, not a CERTIFICATE",
                    path.display(),
                    b.label
                );
            }
            chain.push(b.contents);
        }
    }
    Ok(Box::new(
        sigil_sign::CertifiedSigner::new(key, chain)
            .with_context(|| format!("certificate {}", path.display()))?,
    ))
}

/// Loads a public key: a `PUBLIC KEY` PEM (or PKCS#1 `RSA PUBLIC KEY`).
pub fn load_public_key(reference: &str) -> Result<PublicKey> {
    let (r, bytes) = read_key_ref(reference)?;
    PublicKey::from_pem(&bytes).with_context(|| format!("key {r}"))
}

/// An input: a regular file, or standard input for `-`.
pub enum Input {
    File(File, u64),
    Stdin,
}

impl Input {
    /// Opens `path`, refusing directories and other non-regular files with a clear message.
    pub fn open(path: &Path) -> Result<Self> {
        if path == Path::new("-") {
            return Ok(Self::Stdin);
        }
        let (file, len) = sigil_crypto::fs::open_regular(path).map_err(|e| match e {
            sigil_crypto::fs::OpenError::Io(e) => anyhow!("cannot open {}: {e}", path.display()),
            sigil_crypto::fs::OpenError::Directory => {
                anyhow!("{} is a directory, not a file", path.display())
            }
            sigil_crypto::fs::OpenError::NotRegular => anyhow!(
                "{} is not a regular file (device, socket or FIFO)",
                path.display()
            ),
        })?;
        Ok(Self::File(file, len))
    }

    /// The size when known.
    pub fn len(&self) -> Option<u64> {
        match self {
            Self::File(_, n) => Some(*n),
            Self::Stdin => None,
        }
    }

    /// A reader over the content.
    pub fn reader(self) -> Box<dyn Read> {
        match self {
            Self::File(f, _) => Box::new(f),
            Self::Stdin => Box::new(io::stdin().lock()),
        }
    }
}

/// A `--signature` value, as cosign takes it: a file, or (when no such file exists) the base64
/// signature text itself.
pub fn read_signature_arg(arg: &Path) -> Result<Vec<u8>> {
    use sigil_formats::signature::{MAX_SIGNATURE_FILE_LEN, decode_signature};
    let text = arg.to_str().unwrap_or_default();
    let looks_inline = !text.is_empty()
        && !arg.exists()
        && text.len() <= MAX_SIGNATURE_FILE_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    if looks_inline && let Ok(sig) = decode_signature(text.as_bytes()) {
        return Ok(sig);
    }
    let bytes = read_limited(arg, MAX_SIGNATURE_FILE_LEN, "signature")?;
    decode_signature(&bytes).with_context(|| format!("signature {}", arg.display()))
}

/// Reads a small input file whole, with a limit.
pub fn read_limited(path: &Path, limit: usize, what: &str) -> Result<Vec<u8>> {
    let input = Input::open(path).with_context(|| format!("cannot read the {what}"))?;
    let mut buf = Vec::new();
    input
        .reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if buf.len() > limit {
        bail!(
            "the {what} {} is larger than the {limit}-byte limit",
            path.display()
        );
    }
    Ok(buf)
}

/// A progress bar on standard error when it is a terminal and the work is large; hidden otherwise.
pub fn progress(total: Option<u64>, message: &str) -> ProgressBar {
    const WORTH_SHOWING: u64 = 64 * 1024 * 1024;
    let show = io::stderr().is_terminal() && total.is_none_or(|t| t >= WORTH_SHOWING);
    if !show {
        return ProgressBar::hidden();
    }
    let pb = match total {
        Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(message.to_owned());
    pb
}

pub use crate::outputs::AtomicOutputs;

/// Prints a JSON value on standard output.
pub fn print_json(value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    crate::console::out_bytes(&text);
    Ok(())
}

/// Number of hashing threads: `--jobs`, else every core.
pub fn jobs(requested: Option<usize>) -> usize {
    requested
        .filter(|j| *j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

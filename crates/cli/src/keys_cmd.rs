//! `generate-key-pair`, `import-key-pair`, `public-key`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sigil_crypto::keyfile::{self, EncryptedKeyFile, KeyFileLabel, ScryptParams};
use sigil_crypto::{KeyAlgorithm, PublicKey, SigningKey, pem};

use crate::cli::{GenerateKeyPair, ImportKeyPair, PublicKeyCmd};
use crate::support::{AtomicOutputs, password, read_key_ref, read_limited};

fn write_pair(key: &SigningKey, prefix: &str, force: bool) -> Result<()> {
    let key_path = PathBuf::from(format!("{prefix}.key"));
    let pub_path = PathBuf::from(format!("{prefix}.pub"));
    let mut outputs = AtomicOutputs::new(force);
    // Check both targets before asking for a password.
    for p in [&key_path, &pub_path] {
        if !force && p.exists() {
            anyhow::bail!(
                "{} already exists; pass --force to overwrite it",
                p.display()
            );
        }
    }
    let pw = password(true)?;
    let pem = keyfile::encrypt_key(
        key,
        pw.as_bytes(),
        KeyFileLabel::Sigstore,
        ScryptParams::DEFAULT,
    )?;
    outputs.add(&key_path, pem.as_bytes(), 0o600)?;
    outputs.add(&pub_path, key.public_key().to_pem().as_bytes(), 0o644)?;
    outputs.commit()?;
    errln!("Private key written to {}", key_path.display());
    errln!("Public key written to {}", pub_path.display());
    Ok(())
}

pub fn generate(args: GenerateKeyPair) -> Result<()> {
    let algorithm: KeyAlgorithm = args.algorithm.parse()?;
    let key = SigningKey::generate(algorithm)?;
    write_pair(&key, &args.output_key_prefix, args.force)
}

pub fn import(args: ImportKeyPair) -> Result<()> {
    let bytes = zeroize::Zeroizing::new(read_limited(&args.key, pem::MAX_PEM_LEN, "key file")?);
    let key = SigningKey::from_plain_pem(&bytes)
        .with_context(|| format!("cannot import {}", args.key.display()))?;
    errln!("Importing {} key", key.algorithm());
    write_pair(&key, &args.output_key_prefix, args.force)
}

pub fn public_key(args: PublicKeyCmd) -> Result<()> {
    let (r, bytes) = read_key_ref(&args.key)?;
    let label = pem::decode(&bytes)
        .with_context(|| format!("key {r}"))?
        .label;
    let public = if label == keyfile::SIGSTORE_LABEL || label == keyfile::COSIGN_LABEL {
        let file = EncryptedKeyFile::parse(&bytes).with_context(|| format!("key {r}"))?;
        let pw = password(false)?;
        file.decrypt(pw.as_bytes())
            .with_context(|| format!("key {r}"))?
            .public_key()
            .clone()
    } else {
        PublicKey::from_pem(&bytes).with_context(|| format!("key {r}"))?
    };
    let pem = public.to_pem();
    match args.outfile {
        Some(path) => {
            let mut out = AtomicOutputs::new(true);
            out.add(&path, pem.as_bytes(), 0o644)?;
            out.commit()?;
            errln!("Public key written to {}", path.display());
        }
        None => crate::console::out_bytes(pem.as_bytes()),
    }
    Ok(())
}

//! The log client's glue for the commands (the client is `sigil-rekor`): uploads verified before
//! they go into a bundle, the lookup of detached signatures' entries; `trusted-root create`.

use anyhow::{Context, Result};
use sigil_crypto::PublicKey;
use sigil_rekor::Client;

use crate::cli::TrustedRootCreate;
use crate::support::{AtomicOutputs, read_limited};

/// The environment variable naming the log's public key (a PEM file), as cosign reads it.
pub const REKOR_KEY_ENV: &str = "SIGSTORE_REKOR_PUBLIC_KEY";

/// The log's public key: the pinned PEM file, else fetched from the log (`true` when fetched:
/// trust on first use).
pub fn log_public_key(
    client: &Client,
    pinned: Option<&std::path::Path>,
) -> Result<(PublicKey, bool)> {
    if let Some(p) = pinned {
        return Ok((
            PublicKey::from_pem(&read_limited(p, 64 * 1024, "log public key")?)
                .with_context(|| format!("log public key {}", p.display()))?,
            false,
        ));
    }
    Ok((client.public_key()?, true))
}

/// The log to upload to with `--tlog-upload`, its answers verified with the log's key: the PEM
/// file named by `SIGSTORE_REKOR_PUBLIC_KEY` (as cosign reads it), else the key the log serves.
pub fn upload_log(rekor_url: &str) -> Result<sigil_sign::Log> {
    match std::env::var_os(REKOR_KEY_ENV) {
        Some(p) => {
            let p = std::path::PathBuf::from(p);
            let key = PublicKey::from_pem(&read_limited(&p, 64 * 1024, "log public key")?)
                .with_context(|| format!("{REKOR_KEY_ENV} {}", p.display()))?;
            Ok(sigil_sign::Log::new(rekor_url, key)?)
        }
        None => Ok(sigil_sign::Log::fetching_key(rekor_url)?),
    }
}

/// [`upload_log`] when `--tlog-upload` is given.
pub fn upload_log_if(upload: bool, rekor_url: &str) -> Result<Option<sigil_sign::Log>> {
    upload.then(|| upload_log(rekor_url)).transpose()
}

pub fn trusted_root_create(a: TrustedRootCreate) -> Result<()> {
    let client = Client::new(&a.rekor_url)?;
    let base = client.base().to_owned();
    let (key, fetched) = log_public_key(&client, a.rekor_public_key.as_deref())?;
    if fetched {
        errln!(
            "Trusting the log's key as {base} served it now (trust on first use): key {}, log ID {}. Check it out of band, or pass --rekor-public-key.",
            key.hint(),
            sigil_crypto::hash::hex_lower(
                sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, key.spki_der())
                    .as_bytes()
            )
        );
    }
    let start = match &a.rekor_start_time {
        Some(t) => t.clone(),
        None => {
            // The log's first entry, or now for an empty log.
            let first = client.entry_by_index(0).ok().map(|e| e.integrated_time);
            let secs = first.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
            sigil_formats::time::Timestamp::from_unix(secs).to_rfc3339()
        }
    };
    let mut root =
        sigil_formats::trust_root::for_log(&base, &key, &start, a.rekor_end_time.as_deref())?;
    if let Some(path) = &a.ctfe_key {
        let pem = read_limited(path, 64 * 1024, "CT log key")?;
        let key =
            PublicKey::from_pem(&pem).with_context(|| format!("CT log key {}", path.display()))?;
        let entry = sigil_formats::trust_root::log_instance(
            &a.ctfe_url,
            &key,
            a.ctfe_start_time.as_deref().unwrap_or(&start),
            None,
        )?;
        if let Some(list) = root["ctlogs"].as_array_mut() {
            list.push(entry);
        }
    }
    for (field, paths, uri) in [
        (
            "certificateAuthorities",
            &a.certificate_chain,
            &a.certificate_authority_uri,
        ),
        (
            "timestampAuthorities",
            &a.timestamp_certificate_chain,
            &a.timestamp_authority_uri,
        ),
    ] {
        for path in paths {
            let ca = certificate_authority(path, uri)?;
            if let Some(list) = root[field].as_array_mut() {
                list.push(ca);
            }
        }
    }
    let text = format!("{root:#}\n");
    // What is written must read back.
    sigil_formats::trust_root::TrustedRoot::parse(text.as_bytes())?;
    match &a.out {
        Some(p) => {
            let mut o = AtomicOutputs::new(true);
            o.add(p, text.as_bytes(), 0o644)?;
            o.commit()?;
            errln!("Wrote the trusted root to {}", p.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

/// A trusted root file as JSON, once it is known to be one Sigil can use.
fn trusted_root_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let bytes = read_limited(
        path,
        sigil_formats::trust_root::MAX_TRUSTED_ROOT_LEN,
        "trusted root",
    )?;
    sigil_formats::trust_root::TrustedRoot::parse(&bytes)
        .with_context(|| format!("trusted root {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

pub fn trusted_root_rotate(a: crate::cli::TrustedRootRotate) -> Result<()> {
    use sigil_formats::time::Timestamp;
    use sigil_formats::trust_root::{RotationKind, log_instance, rotate};
    let mut root = trusted_root_json(&a.trusted_root)?;
    let at = match &a.at {
        Some(t) => Timestamp::parse_rfc3339(t).with_context(|| format!("--at {t}"))?,
        None => sigil_sign::now(),
    };
    let old_end = Timestamp::from_unix(at.seconds + a.overlap.as_secs() as i64).to_rfc3339();
    let start = at.to_rfc3339();
    let key = |p: &std::path::Path| -> Result<PublicKey> {
        let pem = read_limited(p, 64 * 1024, "public key")?;
        PublicKey::from_pem(&pem).with_context(|| format!("public key {}", p.display()))
    };
    let (kind, mut entry) = if let Some(p) = &a.certificate_chain {
        (
            RotationKind::CertificateAuthority,
            certificate_authority(p, &a.certificate_authority_uri)?,
        )
    } else if let Some(p) = &a.timestamp_certificate_chain {
        (
            RotationKind::TimestampAuthority,
            certificate_authority(p, &a.timestamp_authority_uri)?,
        )
    } else if let Some(p) = &a.rekor_public_key {
        let url = a.rekor_url.as_deref().unwrap_or_default();
        (
            RotationKind::Log,
            log_instance(url, &key(p)?, &start, None)?,
        )
    } else if let Some(p) = &a.ctfe_key {
        (
            RotationKind::CtLog,
            log_instance(&a.ctfe_url, &key(p)?, &start, None)?,
        )
    } else {
        anyhow::bail!("give the new CA, timestamp authority, log or CT log key");
    };
    if !matches!(kind, RotationKind::Log | RotationKind::CtLog) {
        entry["validFor"] = serde_json::json!({ "start": start });
    }
    let ended = rotate(&mut root, kind, entry, &old_end).map_err(anyhow::Error::msg)?;
    let text = format!("{root:#}\n");
    sigil_formats::trust_root::TrustedRoot::parse(text.as_bytes())?;
    let out = a.out.as_deref().unwrap_or(&a.trusted_root);
    let mut o = AtomicOutputs::new(true);
    o.add(out, text.as_bytes(), 0o644)?;
    o.commit()?;
    errln!(
        "Rotated: the new one is valid from {start}; {ended} old entr{} valid until {old_end}. Wrote {}",
        if ended == 1 { "y stays" } else { "ies stay" },
        out.display()
    );
    Ok(())
}

/// A CA entry from a PEM chain file, valid from its issuing certificate's notBefore.
fn certificate_authority(path: &std::path::Path, uri: &str) -> Result<serde_json::Value> {
    let bytes = read_limited(path, 1024 * 1024, "certificate chain")?;
    let mut chain = Vec::new();
    for b in sigil_crypto::pem::decode_all(&bytes, 16)
        .with_context(|| format!("certificate chain {}", path.display()))?
    {
        if b.label != "CERTIFICATE" {
            anyhow::bail!(
                "certificate chain {}: a {} PEM block, not a CERTIFICATE",
                path.display(),
                b.label
            );
        }
        chain.push(b.contents);
    }
    certificate_authority_of(&chain, uri)
        .with_context(|| format!("certificate chain {}", path.display()))
}

/// A CA entry for `chain` (DER, the issuing certificate first, the root last), valid from
/// the issuing certificate's notBefore.
pub fn certificate_authority_of(chain: &[Vec<u8>], uri: &str) -> Result<serde_json::Value> {
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        anyhow::bail!("no certificate");
    };
    let first = sigil_pki::cert::Certificate::from_der(first)?;
    let last = sigil_pki::cert::Certificate::from_der(last)?;
    if !last.is_self_issued() {
        anyhow::bail!("it must end with the root certificate (a self-signed CA)");
    }
    let text = |oid: &str| first.subject_text(oid).unwrap_or_default();
    Ok(sigil_formats::trust_root::certificate_authority(
        uri,
        (&text("2.5.4.10"), &text("2.5.4.3")),
        chain,
        &first.not_before().to_rfc3339(),
        None,
    ))
}

fn services(u: &crate::cli::ServiceUrls) -> sigil_formats::signing_config::Services {
    use sigil_formats::signing_config::Service;
    let start = u.start_time.clone().unwrap_or_else(|| {
        sigil_formats::time::Timestamp::from_unix(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        )
        .to_rfc3339()
    });
    let list = |urls: &[String]| {
        urls.iter()
            .map(|url| Service {
                url: url.trim_end_matches('/').to_owned(),
                major_api_version: 1,
                start: start.clone(),
                operator: u.operator.clone(),
            })
            .collect()
    };
    sigil_formats::signing_config::Services {
        ca: list(&u.fulcio_url),
        oidc: list(&u.oidc_url),
        tlogs: list(&u.rekor_url),
        tsas: list(&u.timestamp_url),
    }
}

fn write_json(out: Option<&std::path::Path>, v: &serde_json::Value, what: &str) -> Result<()> {
    let text = format!("{v:#}\n");
    match out {
        Some(p) => {
            let mut o = AtomicOutputs::new(true);
            o.add(p, text.as_bytes(), 0o644)?;
            o.commit()?;
            errln!("Wrote the {what} to {}", p.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

pub fn signing_config_create(a: crate::cli::SigningConfigCreate) -> Result<()> {
    let v = sigil_formats::signing_config::signing_config(&services(&a.services));
    write_json(a.out.as_deref(), &v, "signing config")
}

pub fn trust_config_create(a: crate::cli::TrustConfigCreate) -> Result<()> {
    let root = trusted_root_json(&a.trusted_root)?;
    let v = sigil_formats::signing_config::client_trust_config(
        root,
        sigil_formats::signing_config::signing_config(&services(&a.services)),
    );
    write_json(a.out.as_deref(), &v, "trust config")
}

//! The authorities: `sigil tsa serve` (the timestamp authority, sigil-tsa-service, on a
//! listener) and `sigil ca init` (the keyless CA's root and intermediate, sigil-ca).

use std::sync::Arc;

use anyhow::{Context, Result};
use sigil_crypto::KeyAlgorithm;

use crate::cli::TsaServe;
use crate::support::read_limited;

pub fn serve(a: TsaServe) -> Result<()> {
    crate::outputs::serving();
    let alg = match a.key_algorithm.as_str() {
        "ecdsa-p256" => KeyAlgorithm::EcdsaP256,
        _ => KeyAlgorithm::EcdsaP384,
    };
    let ask = || crate::support::password(false).map_err(|e| format!("{e:#}"));
    let (authority, notices) =
        sigil_tsa_service::open(&a.data, alg, &ask, crate::log_cmd::new_key_password())?;
    for n in &notices {
        crate::log_cmd::announce_key(
            "sigil tsa",
            "timestamp",
            "sign timestamps as this authority",
            Some(n),
        );
    }
    let tls = tls_config(&a.tls)?;
    let app = sigil_tsa_service::router(Arc::new(authority));
    let limits = sigil_server::Limits {
        max_body: sigil_tsa::MAX_REQUEST,
        ..Default::default()
    };
    let data = a.data.clone();
    sigil_server::listen::run(&a.listen, tls, limits, app, |addr, scheme| {
        errln!(
            "sigil tsa: listening on {scheme}://{addr}, key and certificate chain in {}",
            data.display()
        );
        write_ready(a.ready_file.as_deref(), &format!("{scheme}://{addr}"))
    })?;
    Ok(())
}

/// The TLS configuration of a service's `--tls-cert`/`--tls-key`, if given.
pub fn tls_config(
    t: &crate::cli::ServeTls,
) -> Result<Option<Arc<sigil_server::listen::TlsConfig>>> {
    match (&t.tls_cert, &t.tls_key) {
        (Some(c), Some(k)) => Ok(Some(
            sigil_server::listen::tls_config(
                &read_limited(c, 1 << 20, "TLS certificate")?,
                &read_limited(k, 1 << 20, "TLS key")?,
            )
            .context("TLS")?,
        )),
        _ => Ok(None),
    }
}

/// Writes a service's base URL to `--ready-file`, atomically.
pub fn write_ready(file: Option<&std::path::Path>, url: &str) -> std::io::Result<()> {
    if let Some(f) = file {
        let mut o = crate::support::AtomicOutputs::new(true);
        o.add(f, format!("{url}\n").as_bytes(), 0o644)
            .and_then(|()| o.commit())
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    }
    Ok(())
}

pub fn ca_serve(a: crate::cli::CaServe) -> Result<()> {
    crate::outputs::serving();
    let password = crate::support::password(false)?;
    let ca = sigil_ca::Ca::open(&a.data, &password)?;
    drop(password);
    let config = sigil_ca::config::load(&a.oidc_config)?;
    let ct = sigil_ca::service::CtClient::http(&a.ct_log_url).map_err(anyhow::Error::msg)?;
    let issuers = config.issuers.len();
    let authority =
        sigil_ca::service::Authority::new(ca, config, ct, a.clock_skew, a.detached_sct)?;
    let tls = tls_config(&a.tls)?;
    let app = sigil_ca::service::router(Arc::new(authority));
    let limits = sigil_server::Limits {
        max_body: sigil_ca::service::MAX_REQUEST,
        ..Default::default()
    };
    let data = a.data.clone();
    sigil_server::listen::run(&a.listen, tls, limits, app, |addr, scheme| {
        errln!(
            "sigil ca: listening on {scheme}://{addr}, CA in {}, {issuers} OIDC issuer(s), CT log {}",
            data.display(),
            a.ct_log_url
        );
        write_ready(a.ready_file.as_deref(), &format!("{scheme}://{addr}"))
    })?;
    Ok(())
}

pub fn ca_init(a: crate::cli::CaInit) -> Result<()> {
    let alg = match a.key_algorithm.as_str() {
        "ecdsa-p256" => KeyAlgorithm::EcdsaP256,
        "rsa-4096" => KeyAlgorithm::Rsa { bits: 4096 },
        _ => KeyAlgorithm::EcdsaP384,
    };
    let password = crate::support::password(true)?;
    sigil_ca::init(&a.data, alg, &a.organization, &password)?;
    let chain = a.data.join(sigil_ca::CHAIN_FILE);
    match a.output {
        crate::cli::OutputFormat::Json => crate::support::print_json(&serde_json::json!({
            "data": a.data,
            "chain": chain,
            "root": a.data.join(sigil_ca::ROOT_FILE),
            "keys": [a.data.join(sigil_ca::ROOT_KEY_FILE), a.data.join(sigil_ca::INTERMEDIATE_KEY_FILE)],
        }))?,
        crate::cli::OutputFormat::Text => errln!(
            "Created the CA in {}: {} (intermediate, root) for trusted-root create --certificate-chain; keys encrypted in {} and {}",
            a.data.display(),
            chain.display(),
            sigil_ca::ROOT_KEY_FILE,
            sigil_ca::INTERMEDIATE_KEY_FILE
        ),
    }
    Ok(())
}

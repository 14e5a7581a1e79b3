//! `sigil tsa serve`: the timestamp authority (sigil-tsa-service) on a listener.

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
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(
            sigil_server::listen::tls_config(
                &read_limited(c, 1 << 20, "TLS certificate")?,
                &read_limited(k, 1 << 20, "TLS key")?,
            )
            .context("TLS")?,
        ),
        _ => None,
    };
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
        if let Some(f) = &a.ready_file {
            let mut o = crate::support::AtomicOutputs::new(true);
            o.add(f, format!("{scheme}://{addr}\n").as_bytes(), 0o644)
                .and_then(|()| o.commit())
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        }
        Ok(())
    })?;
    Ok(())
}

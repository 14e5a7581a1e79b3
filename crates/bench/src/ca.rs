//! `sigil-ca-bench`: the load generator for a Fulcio-compatible CA (`sigil serve`, `sigil ca
//! serve`). `--clients` keep-alive connections each send `POST /api/v2/signingCert` with the
//! token of `--token-file` and a CSR of their own P-256 key for `--seconds`; every answer is
//! checked (200, an embedded-SCT chain whose leaf certifies the client's key and carries one
//! SCT). Reports certificates per second and latency percentiles.
//!
//! ```text
//! sigil-ca-bench --url http://127.0.0.1:8080 --token-file token --clients 64 --seconds 10
//! ```
#![forbid(unsafe_code)]

mod latency;
use latency::percentile;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Parser;

/// Load-tests a keyless CA.
#[derive(Parser, Debug)]
#[command(name = "sigil-ca-bench", version)]
struct Args {
    /// The CA's base URL.
    #[arg(long)]
    url: String,
    /// A file holding the OIDC token every request carries.
    #[arg(long)]
    token_file: std::path::PathBuf,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of the run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Offer this many requests per second in all (spread over the connections) instead of
    /// as many as the CA answers: the latency at a given load.
    #[arg(long)]
    rate: Option<f64>,
}

fn check(body: &[u8], key: &sigil_crypto::PublicKey) -> Result<()> {
    let v: serde_json::Value = serde_json::from_slice(body)?;
    let leaf = v["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
        .as_str()
        .context("no embedded-SCT chain")?;
    let cert = sigil_pki::cert::Certificate::from_pem(leaf.as_bytes())?;
    if cert.public_key()?.spki_der() != key.spki_der() {
        bail!("the certificate is for another key");
    }
    if sigil_pki::sct::embedded_scts(&cert)?.len() != 1 {
        bail!("not exactly one SCT");
    }
    Ok(())
}

fn main() -> Result<()> {
    let a = Args::parse();
    let token = std::fs::read_to_string(&a.token_file)?.trim().to_owned();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
        let mut tasks = Vec::new();
        for _ in 0..a.clients {
            let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)?;
            let csr = sigil_crypto::pem::encode("CERTIFICATE REQUEST", &sigil_pki::csr::build(&key)?);
            let body = serde_json::json!({
                "credentials": {"oidcIdentityToken": token},
                "certificateSigningRequest": base64::engine::general_purpose::STANDARD.encode(csr),
            })
            .to_string();
            let url = format!("{}/api/v2/signingCert", a.url.trim_end_matches('/'));
            let c = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
            let public = key.public_key().clone();
            let interval = a.rate.map(|r| Duration::from_secs_f64(a.clients as f64 / r));
            let offset = interval.map(|i| i.mul_f64(tasks.len() as f64 / a.clients as f64));
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                let mut next = Instant::now() + offset.unwrap_or_default();
                while Instant::now() < deadline {
                    if let Some(i) = interval {
                        tokio::time::sleep_until(next.into()).await;
                        next += i;
                        if next > deadline {
                            break;
                        }
                    }
                    let t = Instant::now();
                    let ok = async {
                        let r = c
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send()
                            .await?;
                        if r.status() != 200 {
                            bail!("status {}", r.status());
                        }
                        let b = r.bytes().await?;
                        check(&b, &public)
                    }
                    .await;
                    match ok {
                        Ok(()) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("first error: {e:#}");
                            }
                            errors += 1;
                        }
                    }
                }
                (lat, errors)
            }));
        }
        let start = Instant::now();
        let (lat, errors) = latency::gather(tasks).await?;
        let wall = start.elapsed().as_secs_f64().max(a.seconds);
        let offered = a.rate.map_or(String::new(), |r| format!(" (offered {r:.0}/s)"));
        println!(
            "{} certificates in {wall:.1} s = {:.0}/s{offered} over {} connections ({errors} errors); p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            lat.len() as f64 / wall,
            a.clients,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
        Ok(())
    })
}

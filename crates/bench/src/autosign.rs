//! `sigil-autosign-bench`: push to verifiable signature. `--clients` threads each push distinct
//! images (a small unique layer) to their own repository of the registry at `--registry`, then
//! ask `sigil serve` (`--sigil`, with the events `--token`) every 10 ms where the push stands,
//! until it is signed; the latency is from the push's manifest PUT answered to the moment the
//! signature was in the registry (the record's `signed_at_ms`), so it includes the registry's
//! notification, the durable queue and the signing. (Polling the registry itself for the
//! signature tag was most of the registry's load.) Each client pushes once
//! before the measured run (its repository's key is created then). Reports pushes signed per
//! second and latency percentiles.
//!
//! ```text
//! sigil-autosign-bench --registry 127.0.0.1:5000 --clients 16 --seconds 10
//! ```
#![forbid(unsafe_code)]

mod latency;
use latency::percentile;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;

/// Measures push-to-signature.
#[derive(Parser, Debug)]
#[command(name = "sigil-autosign-bench", version)]
struct Args {
    /// The registry (`host:port`) whose pushes `sigil serve` signs.
    #[arg(long)]
    registry: String,
    /// `sigil serve`'s URL.
    #[arg(long)]
    sigil: String,
    /// The events token.
    #[arg(long)]
    token: String,
    /// Concurrent pushers.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Length of the run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Target<'a> {
    reg: &'a sigil_oci::Registry,
    http: &'a reqwest::blocking::Client,
    host: &'a str,
    sigil: &'a str,
    token: &'a str,
}

fn push_and_wait(t: &Target<'_>, repo: &str, n: u64) -> Result<f64> {
    let image = sigil_oci::ImageRef::parse(&format!("{}/{repo}:t{n}", t.host))?;
    let layer = sigil_oci::Layer {
        data: format!("layer {repo} {n} {}", now_ms()).into_bytes(),
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
    };
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let digest = t.reg.push_image(
        &image,
        &[layer],
        config,
        "application/vnd.oci.image.config.v1+json",
    )?;
    let pushed = now_ms();
    let url = format!("{}/api/v1/registry/pushes/{repo}@{digest}", t.sigil);
    loop {
        let r = t.http.get(&url).bearer_auth(t.token).send()?;
        if r.status().is_success() {
            let v: serde_json::Value = r.json()?;
            if v["state"] == "signed" {
                let at = v["signed_at_ms"].as_i64().unwrap_or_else(now_ms);
                return Ok((at - pushed) as f64);
            }
        }
        if now_ms() - pushed > 30_000 {
            bail!("{repo}@{digest} not signed within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() -> Result<()> {
    let a = Args::parse();
    let counter = Arc::new(AtomicU64::new(1));
    let options = sigil_oci::RegistryOptions {
        allow_http: true,
        ..Default::default()
    };
    let mut threads = Vec::new();
    let start_at = Instant::now() + Duration::from_secs(3);
    for c in 0..a.clients {
        let (host, counter, options) = (a.registry.clone(), counter.clone(), options.clone());
        let (sigil, token) = (a.sigil.trim_end_matches('/').to_owned(), a.token.clone());
        let seconds = a.seconds;
        threads.push(std::thread::spawn(move || -> Result<(Vec<f64>, usize)> {
            let reg = sigil_oci::Registry::new(&options)?;
            let http = reqwest::blocking::Client::new();
            let repo = format!("bench/app{c}");
            let t = Target {
                reg: &reg,
                http: &http,
                host: &host,
                sigil: &sigil,
                token: &token,
            };
            // Warm-up: the repository's key is created with this one.
            push_and_wait(&t, &repo, 0)?;
            std::thread::sleep(start_at.saturating_duration_since(Instant::now()));
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let (mut lat, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                match push_and_wait(&t, &repo, counter.fetch_add(1, Ordering::Relaxed)) {
                    Ok(ms) => lat.push(ms),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("first error: {e:#}");
                        }
                        errors += 1;
                    }
                }
            }
            Ok((lat, errors))
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in threads {
        let (l, e) = t
            .join()
            .map_err(|_| anyhow::anyhow!("a pusher panicked"))??;
        lat.extend(l);
        errors += e;
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "{} pushes signed in {:.1} s = {:.1}/s over {} pushers ({errors} errors); push to signature p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lat.len(),
        a.seconds,
        lat.len() as f64 / a.seconds,
        a.clients,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );
    Ok(())
}

//! `sigil-autosign-bench`: push to verifiable signature. `--clients` threads each push distinct
//! images (a small unique layer) to their own repository of the registry at `--registry`, then
//! poll the registry for the image's cosign signature tag (`sha256-<hex>.sig`) every 25 ms;
//! the latency is from the push's manifest PUT answered to the signature there, so it includes
//! the registry's notification, the durable queue and the signing. Each client pushes once
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
    /// Concurrent pushers.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Length of the run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

fn push_and_wait(
    reg: &sigil_oci::Registry,
    http: &reqwest::blocking::Client,
    host: &str,
    repo: &str,
    n: u64,
) -> Result<f64> {
    let image = sigil_oci::ImageRef::parse(&format!("{host}/{repo}:t{n}"))?;
    let layer = sigil_oci::Layer {
        data: format!("layer {repo} {n}").into_bytes(),
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
    };
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let digest = reg.push_image(
        &image,
        &[layer],
        config,
        "application/vnd.oci.image.config.v1+json",
    )?;
    let pushed = Instant::now();
    let tag = digest.replace(':', "-") + ".sig";
    let url = format!("http://{host}/v2/{repo}/manifests/{tag}");
    loop {
        let r = http
            .head(&url)
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()?;
        if r.status().is_success() {
            return Ok(pushed.elapsed().as_secs_f64() * 1000.0);
        }
        if pushed.elapsed() > Duration::from_secs(30) {
            bail!("{repo}@{digest} not signed within 30 s");
        }
        std::thread::sleep(Duration::from_millis(25));
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
        let seconds = a.seconds;
        threads.push(std::thread::spawn(move || -> Result<(Vec<f64>, usize)> {
            let reg = sigil_oci::Registry::new(&options)?;
            let http = reqwest::blocking::Client::new();
            let repo = format!("bench/app{c}");
            // Warm-up: the repository's key is created with this one.
            push_and_wait(&reg, &http, &host, &repo, 0)?;
            std::thread::sleep(start_at.saturating_duration_since(Instant::now()));
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let (mut lat, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                match push_and_wait(
                    &reg,
                    &http,
                    &host,
                    &repo,
                    counter.fetch_add(1, Ordering::Relaxed),
                ) {
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

//! `sigil-tsa-bench`: the load generator for an RFC 3161 timestamp authority (`sigil tsa
//! serve`, or any that takes DER queries). `--clients` keep-alive connections send distinct
//! SHA-256 queries (nonce, certReq) for `--seconds`; every reply is checked (granted, over the
//! query's imprint, with its nonce). Reports timestamps per second and latency percentiles.
//!
//! ```text
//! sigil-tsa-bench --url http://127.0.0.1:3004/api/v1/timestamp --clients 64 --seconds 10
//! ```
#![forbid(unsafe_code)]

mod latency;
use latency::percentile;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;
use sigil_crypto::HashAlgorithm;

/// Load-tests a timestamp authority.
#[derive(Parser, Debug)]
#[command(name = "sigil-tsa-bench", version)]
struct Args {
    /// The authority's timestamp URL.
    #[arg(long)]
    url: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of the run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let counter = Arc::new(AtomicU64::new(1));
        let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
        let mut tasks = Vec::new();
        for _ in 0..a.clients {
            let (url, counter) = (a.url.clone(), counter.clone());
            let c = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let data = n.to_be_bytes();
                    let req = sigil_tsa::Request::for_data(HashAlgorithm::Sha256, &data, Some(n), true);
                    let t = Instant::now();
                    let ok = async {
                        let r = c
                            .post(&url)
                            .header("content-type", "application/timestamp-query")
                            .body(req.to_der())
                            .send()
                            .await?;
                        if r.status() != 200 {
                            bail!("status {}", r.status());
                        }
                        let body = r.bytes().await?;
                        sigil_pki::tsa::check_reply(&body, &data, &n.to_be_bytes())?;
                        Ok(())
                    }
                    .await;
                    match ok {
                        Ok(()) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let start = Instant::now();
        let (lat, errors) = latency::gather(tasks).await?;
        let wall = start.elapsed().as_secs_f64().max(a.seconds);
        println!(
            "{} timestamps in {wall:.1} s = {:.0}/s over {} connections ({errors} errors); p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            lat.len() as f64 / wall,
            a.clients,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
        Ok(())
    })
}

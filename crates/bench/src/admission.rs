//! `sigil-admission-bench`: the load generator for `sigil admission serve`. Not shipped.
//!
//! Warm: `--connections` HTTPS keep-alive connections each send the same AdmissionReview (a Pod
//! with one pinned, signed image) for `--seconds`; the first request verifies, the rest are
//! answered from the decision cache. Cold: `--cold` distinct images arrive at once, each
//! verified against the registry. Reports reviews per second and latency percentiles.
//!
//! ```text
//! sigil-admission-bench --url https://127.0.0.1:8443 --ca ca.pem --image IMG@sha256:… \
//!     --connections 200 --seconds 10 [--cold IMAGES_FILE]
//! ```
#![forbid(unsafe_code)]

mod latency;
use latency::percentile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};

/// Load-tests the admission webhook.
#[derive(Parser, Debug)]
#[command(name = "sigil-admission-bench", version)]
struct Args {
    /// The webhook's URL (`https://HOST:PORT`).
    #[arg(long)]
    url: String,
    /// The CA of its certificate (PEM).
    #[arg(long)]
    ca: std::path::PathBuf,
    /// A pinned, signed image the policies admit (warm run).
    #[arg(long)]
    image: String,
    /// Concurrent connections of the warm run.
    #[arg(long, default_value_t = 200)]
    connections: usize,
    /// Length of the warm run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Reviews per second over all connections in a second warm run (open loop: each
    /// connection sends on a schedule, so latency is the webhook's, not a queue's); 0 skips it.
    #[arg(long, default_value_t = 3000.0)]
    rate: f64,
    /// A file of pinned images (one per line) never seen by the webhook: the cold run sends
    /// one review for each, all at once.
    #[arg(long)]
    cold: Option<std::path::PathBuf>,
    /// Skip the warm runs (measure the cold burst alone).
    #[arg(long)]
    cold_only: bool,
}

fn review(uid: usize, image: &str) -> Vec<u8> {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("bench-{uid}"), "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "bench",
        "operation": "CREATE", "userInfo": {"username": "bench"},
        "object": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
    .to_string()
    .into_bytes()
}

fn client(ca: &[u8]) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca)?)
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn send(c: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<bool> {
    let r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    if r.status() != 200 {
        bail!("status {}", r.status());
    }
    let v: Value = r.json().await?;
    Ok(v["response"]["allowed"] == true)
}

fn main() -> Result<()> {
    let a = Args::parse();
    let ca = std::fs::read(&a.ca).with_context(|| format!("{}", a.ca.display()))?;
    let url = format!("{}/validate", a.url.trim_end_matches('/'));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Warm: the first answer fills the cache.
        let c = client(&ca)?;
        if !send(&c, &url, review(0, &a.image)).await? {
            bail!("the warm image is not admitted: check the policy");
        }
        if a.cold_only {
            return cold(&a, &ca, &url).await;
        }
        let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
        let body = Arc::new(review(1, &a.image));
        let mut tasks = Vec::new();
        for _ in 0..a.connections {
            let (c, url, body) = (client(&ca)?, url.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match send(&c, &url, body.to_vec()).await {
                        Ok(true) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let start = Instant::now();
        let (lat, errors) = latency::gather(tasks).await?;
        let wall = start.elapsed().as_secs_f64().max(a.seconds);
        println!(
            "warm, as fast as possible: {} reviews in {wall:.1} s = {:.0}/s over {} connections ({errors} errors); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            lat.len() as f64 / wall,
            a.connections,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0)
        );
        if a.rate > 0.0 {
            let interval = Duration::from_secs_f64(a.connections as f64 / a.rate);
            let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
            let mut tasks = Vec::new();
            for i in 0..a.connections {
                let (c, url, body) = (client(&ca)?, url.clone(), body.clone());
                // Spread the connections' schedules over one interval.
                let offset = interval.mul_f64(i as f64 / a.connections as f64);
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0usize;
                    let mut next = Instant::now() + offset;
                    while next < deadline {
                        tokio::time::sleep_until(next.into()).await;
                        let t = Instant::now();
                        match send(&c, &url, body.to_vec()).await {
                            Ok(true) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                            _ => errors += 1,
                        }
                        next += interval;
                    }
                    (lat, errors)
                }));
            }
            let (lat, errors) = latency::gather(tasks).await?;
            println!(
                "warm at {:.0}/s: {} reviews over {} connections ({errors} errors); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                a.rate,
                lat.len(),
                a.connections,
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(0.0)
            );
        }
        cold(&a, &ca, &url).await
    })
}

/// The cold burst: one review per image never seen, all at once, each on a connection opened
/// (TLS handshake done) before the burst, as the API server keeps its connections to a webhook.
async fn cold(a: &Args, ca: &[u8], url: &str) -> Result<()> {
    let Some(f) = &a.cold else { return Ok(()) };
    let images: Vec<String> = std::fs::read_to_string(f)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let health = url.replace("/validate", "/healthz");
    let mut clients = Vec::new();
    for _ in &images {
        let c = client(ca)?;
        c.get(&health).send().await?.error_for_status()?;
        clients.push(c);
    }
    let start = tokio::sync::Barrier::new(images.len() + 1);
    let start = Arc::new(start);
    let mut tasks = Vec::new();
    for (i, (image, c)) in images.iter().zip(clients).enumerate() {
        let (url, body, start) = (url.to_owned(), review(10_000 + i, image), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let t = Instant::now();
            let ok = send(&c, &url, body).await;
            (t.elapsed().as_secs_f64() * 1000.0, ok.unwrap_or(false))
        }));
    }
    start.wait().await;
    let mut lat = Vec::new();
    let mut denied = 0;
    for t in tasks {
        let (l, ok) = t.await?;
        lat.push(l);
        denied += usize::from(!ok);
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "cold: {} distinct images at once, on open connections ({denied} not admitted); p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );
    Ok(())
}

//! `sigil-log-bench`: the load generator for a transparency log (Sigil's or any Rekor v1 API
//! on plain HTTP). Not part of the shipped `sigil` binary: a tool beside it, used by
//! `bench/log.sh` and the benchmarks in `docs/benchmarks.md`.
//!
//! It signs `--entries` hashedrekord proposals up front on every core (256 keys, so neighbouring
//! entries do not share one), drives the log with `--clients` keep-alive connections, each
//! request prepared in advance, then reads `--proofs` entries at random indexes back and reports
//! appends per second, integration latency, proof latency and, with `--data`, storage against
//! the raw entry bytes.
//!
//! ```text
//! sigil-log-bench --rekor-url http://127.0.0.1:3000 --entries 60000 --clients 64 [--data DIR] [-o json]
//! ```
#![forbid(unsafe_code)]

mod latency;
use latency::percentile;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use serde_json::{Value, json};
use sigil_crypto::{KeyAlgorithm, SigningKey};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    #[default]
    Text,
    Json,
}

/// Load-tests a transparency log over plain HTTP.
#[derive(Parser, Debug)]
#[command(name = "sigil-log-bench", version)]
struct Args {
    /// The log's URL (plain HTTP, at its root).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    rekor_url: String,
    /// Entries to append.
    #[arg(long, default_value_t = 50_000)]
    entries: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Inclusion-proof reads (by random index) after the load.
    #[arg(long, default_value_t = 2000)]
    proofs: usize,
    /// The log's data directory, to report storage against the raw entry bytes.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: Output,
}

fn main() -> std::process::ExitCode {
    match bench(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::from(3)
        }
    }
}

/// The files under `p`: (apparent bytes, bytes allocated on disk). They differ when a store
/// extends its file ahead of use (the extension is sparse until written).
fn dir_size(p: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(p) else {
        return (0, 0);
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => (m.len(), m.blocks() * 512),
            Err(_) => (0, 0),
        })
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

/// One keep-alive HTTP/1.1 connection of the load generator: it writes a request prepared in
/// advance and reads the answer's status and body (`Content-Length` framing, as the log sends),
/// with no per-request allocation beyond a growing buffer.
struct BenchConnection {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

/// The largest answer the load generator accepts.
const BENCH_MAX_RESPONSE: usize = 1 << 20;

impl BenchConnection {
    async fn connect(addr: &str) -> Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Sends `request` (a whole HTTP/1.1 request); returns the status and the body.
    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, &[u8])> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(request).await?;
        self.buf.clear();
        let (head_len, body_len) = loop {
            if self.buf.len() >= BENCH_MAX_RESPONSE {
                bail!("an answer larger than {BENCH_MAX_RESPONSE} bytes");
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the log closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
            let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = std::str::from_utf8(&self.buf[..end]).context("an answer head")?;
            let length = head
                .lines()
                .skip(1)
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .ok_or_else(|| anyhow!("an answer without Content-Length: {head}"))?;
            break (end + 4, length);
        };
        if body_len > BENCH_MAX_RESPONSE {
            bail!("an answer of {body_len} bytes");
        }
        while self.buf.len() < head_len + body_len {
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the log closed the connection mid-answer");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let status = self
            .buf
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
            .ok_or_else(|| anyhow!("an answer without a status"))?;
        Ok((status, &self.buf[head_len..head_len + body_len]))
    }
}

fn bench(a: Args) -> Result<()> {
    let base = a.rekor_url.trim_end_matches('/').to_owned();
    let addr = base
        .strip_prefix("http://")
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| {
            anyhow!(
                "log bench drives a log over plain HTTP at its root: --rekor-url http://HOST:PORT \
                 (got {base})"
            )
        })?
        .to_owned();
    // 256 signers, so that neighbouring entries do not share a key (as in a real log, where
    // most entries carry their own certificate).
    let keys: Vec<(SigningKey, String)> = (0..256)
        .map(|_| {
            let k = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
            let pem = STANDARD.encode(k.public_key().to_pem());
            Ok((k, pem))
        })
        .collect::<Result<_>>()?;
    let run_id: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Sign the proposals up front, on every core, so that the load is the log's work only.
    eprintln!("signing {} entries...", a.entries);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = a.entries.div_ceil(threads);
    let proposals: Vec<Vec<u8>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let keys = &keys;
                s.spawn(move || {
                    let start = t * chunk;
                    let end = (start + chunk).min(a.entries);
                    (start..end)
                        .map(|i| {
                            let (key, pem) = &keys[i % keys.len()];
                            let data = format!("sigil log bench {run_id} entry {i}");
                            let d = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, data.as_bytes());
                            let sig = key.sign(data.as_bytes()).expect("sign");
                            json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
                                "signature": {"content": STANDARD.encode(sig), "publicKey": {"content": pem}},
                                "data": {"hash": {"algorithm": "sha256", "value": d.to_hex()}}}})
                            .to_string()
                            .into_bytes()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("signer thread"))
            .collect()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Whole requests, prepared in advance like the signatures.
    let proposals: Arc<Vec<Vec<u8>>> = Arc::new(
        proposals
            .into_iter()
            .map(|body| {
                let mut r = format!(
                    "POST /api/v1/log/entries HTTP/1.1\r\nhost: {addr}\r\ncontent-type: \
                     application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            })
            .collect(),
    );
    let (latencies, wall, errors, first_index) = rt.block_on(async {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let first_index = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let start = std::time::Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..a.clients {
            let (next, errors, proposals, addr, first_index) = (
                next.clone(),
                errors.clone(),
                proposals.clone(),
                addr.clone(),
                first_index.clone(),
            );
            tasks.push(tokio::spawn(async move {
                // One keep-alive connection per client, with as little client-side work as
                // possible: the load generator shares the machine with the log.
                let mut lat = Vec::new();
                let mut conn = BenchConnection::connect(&addr).await?;
                let mut first = true;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(p) = proposals.get(i) else { break };
                    let t = std::time::Instant::now();
                    let (status, body) = match conn.exchange(p).await {
                        Ok(r) => r,
                        Err(e) => {
                            if errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
                                eprintln!("error: {e:#}");
                            }
                            conn = BenchConnection::connect(&addr).await?;
                            continue;
                        }
                    };
                    if status != 201 {
                        if errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
                            eprintln!("error: {status}: {}", String::from_utf8_lossy(body));
                        }
                        continue;
                    }
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    // A client's entries are sequenced in the order it sends them, so the
                    // smallest index of the run is among the clients' first answers.
                    if std::mem::take(&mut first)
                        && let Some(idx) = serde_json::from_slice::<Value>(body)
                            .ok()
                            .and_then(|v| v.as_object()?.values().next()?["logIndex"].as_u64())
                    {
                        first_index.fetch_min(idx, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Ok::<_, anyhow::Error>(lat)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        Ok::<_, anyhow::Error>((
            all,
            start.elapsed(),
            errors.load(std::sync::atomic::Ordering::Relaxed),
            first_index.load(std::sync::atomic::Ordering::Relaxed),
        ))
    })?;
    let mut lat = latencies;
    lat.sort_by(|x, y| x.total_cmp(y));
    let appended = lat.len();
    let rate = appended as f64 / wall.as_secs_f64();
    // Proof latency: random indexes over the whole tree, one at a time.
    let client = sigil_rekor::Client::new(&base)?;
    let size = client.info()?.tree_size;
    let mut proof_lat = Vec::new();
    let mut seed = run_id | 1;
    let mut body_bytes = 0u64;
    for _ in 0..a.proofs.min(size as usize * 4) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let i = seed % size.max(1);
        let t = std::time::Instant::now();
        let e = client.entry_by_index(i)?;
        proof_lat.push(t.elapsed().as_secs_f64() * 1000.0);
        body_bytes += e.body.len() as u64;
    }
    proof_lat.sort_by(|x, y| x.total_cmp(y));
    let avg_body = if proof_lat.is_empty() {
        0.0
    } else {
        body_bytes as f64 / proof_lat.len() as f64
    };
    let sizes = a.data.as_deref().map(dir_size);
    let raw = (avg_body * size as f64).max(1.0);
    let storage = sizes.map(|(apparent, _)| apparent);
    let allocated = sizes.map(|(_, allocated)| allocated);
    let ratio = storage.map(|s| s as f64 / raw);
    let allocated_ratio = allocated.map(|s| s as f64 / raw);
    let out = json!({
        "entries": appended, "errors": errors, "clients": a.clients,
        "wallSeconds": wall.as_secs_f64(), "appendsPerSecond": rate,
        "integrationMs": {"p50": percentile(&lat, 0.5), "p99": percentile(&lat, 0.99), "max": lat.last().copied().unwrap_or(0.0)},
        "treeSize": size, "firstIndexThisRun": first_index,
        "proofMs": {"count": proof_lat.len(), "p50": percentile(&proof_lat, 0.5), "p99": percentile(&proof_lat, 0.99)},
        "averageEntryBytes": avg_body, "storageBytes": storage, "storageToRawRatio": ratio,
        "allocatedBytes": allocated, "allocatedToRawRatio": allocated_ratio,
    });
    match a.output {
        Output::Json => {
            println!("{out:#}");
            Ok(())
        }
        Output::Text => {
            println!(
                "appends:      {appended} in {:.2} s = {rate:.0}/s with {} clients ({errors} errors)",
                wall.as_secs_f64(),
                a.clients
            );
            println!(
                "integration:  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(0.0)
            );
            println!(
                "proofs:       {} reads at tree size {size}: p50 {:.2} ms, p99 {:.2} ms",
                proof_lat.len(),
                percentile(&proof_lat, 0.5),
                percentile(&proof_lat, 0.99)
            );
            if let (Some(s), Some(r), Some(al), Some(ar)) =
                (storage, ratio, allocated, allocated_ratio)
            {
                println!(
                    "storage:      {s} bytes for {size} entries of ~{avg_body:.0} bytes = {r:.2}x the raw entry bytes"
                );
                println!("allocated:    {al} bytes on disk = {ar:.2}x the raw entry bytes");
            }
            Ok(())
        }
    }
}

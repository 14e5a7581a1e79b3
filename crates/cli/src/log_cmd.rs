//! `sigil log serve|get|search|verify|monitor`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::hash::hex_lower;
use sigil_crypto::{KeyAlgorithm, SigningKey};
use sigil_rekor::LogKey;
use sigil_rekor::verify::MonitorState;
use sigil_server::log::{Log, LogConfig};
use sigil_store::log::Embedded;

use crate::cli::{
    LogBench, LogGet, LogMigrate, LogMonitor, LogSearch, LogServe, LogTarget, LogVerify,
    OutputFormat,
};
use crate::support::{VerificationFailed, load_signing_key, print_json, read_limited};

fn load_log_key(a: &LogServe) -> Result<SigningKey> {
    if let Some(p) = &a.key {
        let pem = read_limited(p, 64 * 1024, "log signing key")?;
        if sigil_crypto::pem::peek_label(&pem).is_some_and(|l| l.starts_with("ENCRYPTED")) {
            return load_signing_key(&p.to_string_lossy());
        }
        return SigningKey::from_plain_pem(&pem)
            .with_context(|| format!("log key {}", p.display()));
    }
    let path = a.data.join("log-signing-key.pem");
    if path.exists() {
        let pem = zeroize::Zeroizing::new(read_limited(&path, 64 * 1024, "log signing key")?);
        if sigil_crypto::pem::peek_label(&pem).is_some_and(|l| l.starts_with("ENCRYPTED")) {
            return load_signing_key(&path.to_string_lossy());
        }
        errln!(
            "sigil log: the signing key {} is not encrypted (mode 0600): whoever reads it can sign checkpoints and SETs for this log; keep the data directory private, or start the log once with COSIGN_PASSWORD set to store the key encrypted",
            path.display()
        );
        return SigningKey::from_plain_pem(&pem)
            .with_context(|| format!("log key {}", path.display()));
    }
    let alg = match a.key_algorithm.as_str() {
        "ed25519" => KeyAlgorithm::Ed25519,
        _ => KeyAlgorithm::EcdsaP256,
    };
    let key = SigningKey::generate(alg)?;
    // Encrypted as a cosign key file when a password is in the environment (it is needed at
    // every start); otherwise unencrypted, mode 0600, and said so.
    let password = std::env::var("SIGIL_PASSWORD")
        .or_else(|_| std::env::var("COSIGN_PASSWORD"))
        .ok()
        .filter(|p| !p.is_empty())
        .map(zeroize::Zeroizing::new);
    let pem = zeroize::Zeroizing::new(match &password {
        Some(pw) => sigil_crypto::keyfile::encrypt_key(
            &key,
            pw.as_bytes(),
            sigil_crypto::keyfile::KeyFileLabel::Sigstore,
            sigil_crypto::keyfile::ScryptParams::DEFAULT,
        )?,
        None => sigil_crypto::pem::encode("PRIVATE KEY", &key.to_pkcs8_der()?),
    });
    std::fs::create_dir_all(&a.data)
        .with_context(|| format!("cannot create {}", a.data.display()))?;
    let mut outputs = crate::support::AtomicOutputs::new(false);
    outputs.add(&path, pem.as_bytes(), 0o600)?;
    outputs.commit()?;
    errln!(
        "sigil log: generated the log signing key {}{}",
        path.display(),
        if password.is_some() {
            " (encrypted with the password in COSIGN_PASSWORD/SIGIL_PASSWORD, needed at every start)"
        } else {
            " (not encrypted, mode 0600: set COSIGN_PASSWORD before the first start to encrypt it)"
        }
    );
    Ok(key)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn serve(a: LogServe) -> Result<()> {
    crate::outputs::serving();
    let key = load_log_key(&a)?;
    let store: Arc<dyn sigil_store::log::LogStore> = match &a.database_url {
        Some(url) => Arc::new(sigil_store::postgres::Postgres::connect(url, 4)?),
        None => Arc::new(Embedded::open_with(
            &a.data,
            sigil_store::log::IndexOptions {
                flush_entries: a.index_flush_entries,
                ..Default::default()
            },
        )?),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let addr = listener.local_addr()?;
        // The origin names the log for good: given, else the one recorded on first start,
        // else the listen address (recorded, so that a restart on another port keeps it).
        let origin_file = a.data.join("origin");
        let recorded = std::fs::read_to_string(&origin_file).ok().map(|s| s.trim().to_owned());
        let origin = match (&a.origin, &recorded) {
            (Some(o), Some(r)) if o != r => {
                errln!("sigil log: warning: the origin changes from {r} to {o}; clients that pinned {r} will refuse new checkpoints");
                o.clone()
            }
            (Some(o), _) => o.clone(),
            (None, Some(r)) => r.clone(),
            (None, None) => addr.to_string(),
        };
        if recorded.as_deref() != Some(origin.as_str()) {
            let mut o = crate::support::AtomicOutputs::new(true);
            o.add(&origin_file, format!("{origin}\n").as_bytes(), 0o644)?;
            o.commit()?;
        }
        let config = LogConfig {
            origin: origin.clone(),
            key,
            batch_max_size: a.batch_max_size,
            batch_max_age: Duration::from_millis(a.batch_max_age_ms),
        };
        // Opening reads storage, which may be a blocking database client.
        let log = tokio::task::spawn_blocking(move || Log::open(store, config)).await??;
        let head = log.head();
        errln!(
            "sigil log: listening on {}://{addr}, origin {origin:?}, {} store{}, {} entries, log ID {}{}",
            if a.tls_cert.is_some() { "https" } else { "http" },
            log.backend(),
            if a.database_url.is_some() { String::new() } else { format!(" in {}", a.data.display()) },
            head.size,
            hex_lower(&log.id()),
            if log.read_only() { " (read-only data directory: serving reads, appends answer 503)" } else { "" }
        );
        let tls = match (&a.tls_cert, &a.tls_key) {
            (Some(c), Some(k)) => Some((
                read_limited(c, 1 << 20, "TLS certificate")?,
                read_limited(k, 1 << 20, "TLS key")?,
            )),
            _ => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        if let Some(f) = &a.ready_file {
            let mut o = crate::support::AtomicOutputs::new(true);
            o.add(f, format!("{scheme}://{addr}\n").as_bytes(), 0o644)?;
            o.commit()?;
        }
        let mut limits = sigil_server::Limits {
            max_connections: a.max_connections as usize,
            header_timeout: Duration::from_secs(a.header_timeout),
            body_timeout: Duration::from_secs(a.body_timeout),
            max_body: a.max_body_size as usize,
            ..Default::default()
        };
        // Keep descriptors for the store and the listener: beyond them, connections are
        // closed as they arrive instead of waiting in the accept queue.
        if let Some(files) = sigil_server::listen::raise_file_limit()
            && files < limits.max_connections as u64 + 128
        {
            let fit = files.saturating_sub(128).max(16) as usize;
            errln!(
                "sigil log: the open-file limit is {files}: at most {fit} connections (not {}); raise it with ulimit -n",
                limits.max_connections
            );
            limits.max_connections = fit;
        }
        let stats = Arc::new(sigil_server::LimitStats::default());
        let app = sigil_server::log::api::router(log.clone(), a.max_body_size as usize);
        let app = sigil_server::listen::guard_bodies(app, &limits, stats.clone());
        let tls = match tls {
            Some((cert, key)) => Some(sigil_server::listen::tls_config(&cert, &key).context("TLS")?),
            None => None,
        };
        sigil_server::listen::serve(listener, app, limits, tls, stats, shutdown_signal()).await?;
        errln!("sigil log: stopping at {} entries", log.head().size);
        // Shut down and drop the log (and a database client with its own runtime) off the
        // async workers.
        tokio::task::spawn_blocking(move || {
            log.shutdown();
            drop(log);
        })
        .await?;
        Ok::<_, anyhow::Error>(())
    })
}

// ------------------------------------------------------------------------------------------
// Clients

struct Target {
    client: sigil_rekor::Client,
    key: LogKey,
    key_fetched: bool,
}

impl Target {
    fn new(t: &LogTarget) -> Result<Self> {
        let client = sigil_rekor::Client::new(&t.rekor_url)?;
        let (key, key_fetched) =
            crate::rekor::log_public_key(&client, t.log_public_key.as_deref())?;
        Ok(Self {
            client,
            key: LogKey::new(key),
            key_fetched,
        })
    }

    fn tofu_note(&self) {
        if self.key_fetched {
            errln!(
                "note: the log key was fetched from the log itself; pass --log-public-key to pin it"
            );
        }
    }
}

/// A log's answer that does not hold up is a verification failure (exit 1); one that cannot
/// be had or read is an error.
fn failure(e: sigil_rekor::RekorError) -> anyhow::Error {
    if e.is_verification_failure() {
        VerificationFailed(e.to_string()).into()
    } else {
        e.into()
    }
}

/// Verifies one entry (UUID, log ID, SET, inclusion proof, checkpoint) and describes it.
fn verify_entry(t: &Target, e: &sigil_rekor::LogEntry) -> Result<Value> {
    let v = sigil_rekor::verify::verify_entry(e, &t.key)
        .map_err(|err| failure(sigil_rekor::RekorError::Entry(err)))?;
    Ok(
        json!({"uuid": e.uuid, "logIndex": e.log_index, "integratedTime": e.integrated_time,
              "treeSize": v.tree_size, "origin": v.origin,
              "body": serde_json::from_slice::<Value>(&e.body).unwrap_or(Value::Null)}),
    )
}

fn fetch(t: &Target, log_index: Option<u64>, uuid: Option<&str>) -> Result<sigil_rekor::LogEntry> {
    match (log_index, uuid) {
        (Some(i), _) => t.client.entry_by_index(i).map_err(failure),
        (None, Some(u)) => t.client.entry_by_uuid(u).map_err(failure),
        _ => bail!("give --log-index or --uuid"),
    }
}

pub fn get(a: LogGet) -> Result<()> {
    let t = Target::new(&a.target)?;
    let e = fetch(&t, a.log_index, a.uuid.as_deref())?;
    let out = verify_entry(&t, &e)?;
    t.tofu_note();
    match a.target.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Text => {
            outln!("UUID: {}", e.uuid);
            outln!("Index: {}", out["logIndex"]);
            outln!("IntegratedTime: {}", out["integratedTime"]);
            outln!(
                "Inclusion: verified in the tree of {} ({})",
                out["treeSize"],
                out["origin"].as_str().unwrap_or_default()
            );
            outln!("Body: {}", out["body"]);
            Ok(())
        }
    }
}

pub fn search(a: LogSearch) -> Result<()> {
    let t = Target::new(&a.target)?;
    let mut q = serde_json::Map::new();
    if let Some(s) = &a.sha {
        let hash = if Path::new(s).is_file() {
            let f = std::fs::File::open(s)?;
            let d =
                sigil_crypto::hash::hash_reader(sigil_crypto::HashAlgorithm::Sha256, f, |_| {})?;
            format!("sha256:{}", d.to_hex())
        } else if s.contains(':') {
            s.clone()
        } else {
            format!("sha256:{s}")
        };
        q.insert("hash".into(), json!(hash));
    }
    if let Some(p) = &a.public_key {
        let pem = read_limited(p, 64 * 1024, "public key")?;
        q.insert(
            "publicKey".into(),
            json!({"format": "x509", "content": STANDARD.encode(pem)}),
        );
    }
    if let Some(e) = &a.email {
        q.insert("email".into(), json!(e));
    }
    if let Some(s) = &a.subject {
        q.insert("subject".into(), json!(s));
    }
    if q.is_empty() {
        bail!("give --sha, --public-key, --email or --subject");
    }
    let uuids = t.client.search(&Value::Object(q))?;
    match a.target.output {
        OutputFormat::Json => print_json(&json!({"uuids": uuids})),
        OutputFormat::Text => {
            if uuids.is_empty() {
                errln!("no matching entries");
            }
            for u in uuids {
                outln!("{u}");
            }
            Ok(())
        }
    }
}

pub fn verify(a: LogVerify) -> Result<()> {
    let t = Target::new(&a.target)?;
    let out = if let Some(i) = a.log_index {
        let e = fetch(&t, Some(i), None)?;
        let r = verify_entry(&t, &e)?;
        json!({"verified": "inclusion", "logIndex": i, "uuid": e.uuid, "treeSize": r["treeSize"]})
    } else if let Some(first) = a.first_size {
        let (last, first_root, last_root) = match t.client.prove_sizes(&t.key, first, a.last_size) {
            Err(e @ sigil_rekor::RekorError::Sizes { .. }) => bail!("{e}"),
            r => r.map_err(failure)?,
        };
        json!({"verified": "consistency", "firstSize": first, "lastSize": last,
               "firstRoot": hex_lower(&first_root), "lastRoot": hex_lower(&last_root)})
    } else {
        bail!("give --log-index or --first-size");
    };
    t.tofu_note();
    match a.target.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Text => {
            errln!("Verified OK: {out}");
            Ok(())
        }
    }
}

pub fn monitor(a: LogMonitor) -> Result<()> {
    let t = Target::new(&a.target)?;
    let (new, text) = t.client.checkpoint(&t.key).map_err(failure)?;
    let previous = match std::fs::metadata(&a.state) {
        Ok(_) => {
            let bytes = read_limited(&a.state, 1024 * 1024, "state file")?;
            Some(
                MonitorState::parse(&bytes, &t.key)
                    .with_context(|| format!("state file {}", a.state.display()))?,
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", a.state.display())),
    };
    if let Some(old) = &previous {
        t.client
            .prove_consistency(&old.checkpoint, &new)
            .map_err(failure)?;
    }
    let state = MonitorState::new(new.clone(), text);
    let mut o = crate::support::AtomicOutputs::new(true);
    o.add(
        &a.state,
        format!("{:#}\n", state.to_json()).as_bytes(),
        0o644,
    )?;
    o.commit()?;
    t.tofu_note();
    let prev_size = previous.as_ref().map(|p| p.checkpoint.size);
    let out = json!({"origin": new.origin, "previousSize": prev_size, "treeSize": new.size, "consistent": true});
    match a.target.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Text => {
            match prev_size {
                Some(p) => errln!(
                    "{}: consistent from {} to {} entries",
                    new.origin,
                    p,
                    new.size
                ),
                None => errln!(
                    "{}: first checkpoint stored ({} entries)",
                    new.origin,
                    new.size
                ),
            }
            std::io::stderr().flush()?;
            Ok(())
        }
    }
}

// ------------------------------------------------------------------------------------------
// Bench

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
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

pub fn bench(a: LogBench) -> Result<()> {
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
    errln!("signing {} entries...", a.entries);
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
                                errln!("error: {e:#}");
                            }
                            conn = BenchConnection::connect(&addr).await?;
                            continue;
                        }
                    };
                    if status != 201 {
                        if errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
                            errln!("error: {status}: {}", String::from_utf8_lossy(body));
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
        OutputFormat::Json => print_json(&out),
        OutputFormat::Text => {
            outln!(
                "appends:      {appended} in {:.2} s = {rate:.0}/s with {} clients ({errors} errors)",
                wall.as_secs_f64(),
                a.clients
            );
            outln!(
                "integration:  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(0.0)
            );
            outln!(
                "proofs:       {} reads at tree size {size}: p50 {:.2} ms, p99 {:.2} ms",
                proof_lat.len(),
                percentile(&proof_lat, 0.5),
                percentile(&proof_lat, 0.99)
            );
            if let (Some(s), Some(r), Some(al), Some(ar)) =
                (storage, ratio, allocated, allocated_ratio)
            {
                outln!(
                    "storage:      {s} bytes for {size} entries of ~{avg_body:.0} bytes = {r:.2}x the raw entry bytes"
                );
                outln!("allocated:    {al} bytes on disk = {ar:.2}x the raw entry bytes");
            }
            Ok(())
        }
    }
}

pub fn migrate(a: LogMigrate) -> Result<()> {
    let open = |data: &Option<std::path::PathBuf>,
                url: &Option<String>|
     -> Result<Box<dyn sigil_store::log::LogStore>> {
        Ok(match (data, url) {
            (Some(d), _) => Box::new(Embedded::open(d)?),
            (None, Some(u)) => Box::new(sigil_store::postgres::Postgres::connect(u, 1)?),
            (None, None) => bail!("name a source and a target"),
        })
    };
    let from = open(&a.from_data, &a.from_database_url)?;
    let to = open(&a.to_data, &a.to_database_url)?;
    let t = std::time::Instant::now();
    let n = sigil_store::log::migrate(from.as_ref(), to.as_ref(), a.chunk)
        .context("migration failed; the target may hold a partial copy: drop it before retrying")?;
    errln!(
        "copied {n} entries from the {} store to the {} store in {:.1} s; the signed head and root match",
        from.backend(),
        to.backend(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

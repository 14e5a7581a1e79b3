//! `sigil log serve|get|search|verify|monitor`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
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
    LogGet, LogMigrate, LogMonitor, LogSearch, LogServe, LogTarget, LogVerify, OutputFormat,
};
use crate::support::{VerificationFailed, print_json, read_limited};

/// The log's signing key (`sigil_server::log::setup`), with what the operator must hear.
fn load_log_key(a: &LogServe) -> Result<SigningKey> {
    use sigil_server::log::setup::load_or_create_key;
    let alg = match a.key_algorithm.as_str() {
        "ed25519" => KeyAlgorithm::Ed25519,
        _ => KeyAlgorithm::EcdsaP256,
    };
    let ask = || crate::support::password(false).map_err(|e| format!("{e:#}"));
    let (key, notice) =
        load_or_create_key(&a.data, a.key.as_deref(), alg, &ask, new_key_password())?;
    announce_key(
        "sigil log",
        "log",
        "sign checkpoints and SETs for this log",
        notice.as_ref(),
    );
    Ok(key)
}

/// The password a new service key is encrypted with: the one in the environment, if any (it
/// is then needed at every start).
pub fn new_key_password() -> Option<zeroize::Zeroizing<String>> {
    std::env::var("SIGIL_PASSWORD")
        .or_else(|_| std::env::var("COSIGN_PASSWORD"))
        .ok()
        .filter(|p| !p.is_empty())
        .map(zeroize::Zeroizing::new)
}

/// What the operator must hear about a service's key: generated (encrypted or not), or found
/// unencrypted.
pub fn announce_key(
    service: &str,
    what: &str,
    power: &str,
    notice: Option<&sigil_server::log::setup::KeyNotice>,
) {
    use sigil_server::log::setup::KeyNotice;
    match notice {
        Some(KeyNotice::Unencrypted(path)) => errln!(
            "{service}: the signing key {} is not encrypted (mode 0600): whoever reads it can {power}; keep the data directory private, or start once with COSIGN_PASSWORD set to store the key encrypted",
            path.display()
        ),
        Some(KeyNotice::Generated { path, encrypted }) => errln!(
            "{service}: generated the {what} signing key {}{}",
            path.display(),
            if *encrypted {
                " (encrypted with the password in COSIGN_PASSWORD/SIGIL_PASSWORD, needed at every start)"
            } else {
                " (not encrypted, mode 0600: set COSIGN_PASSWORD before the first start to encrypt it)"
            }
        ),
        None => {}
    }
}

/// Ends on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    sigil_server::listen::shutdown_signal().await;
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
    sigil_server::listen::runtime()?.block_on(async move {
        let listener = sigil_server::listen::bind(&a.listen).await?;
        let addr = listener.local_addr()?;
        // The origin names the log for good: given, else the one recorded on first start,
        // else the listen address (recorded, so that a restart on another port keeps it).
        let (origin, replaced) =
            sigil_server::log::setup::origin(&a.data, a.origin.as_deref(), &addr.to_string())?;
        if let Some(r) = replaced {
            errln!("sigil log: warning: the origin changes from {r} to {origin}; clients that pinned {r} will refuse new checkpoints");
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
        let app = if a.ct {
            let mut roots = Vec::new();
            for p in &a.ct_roots {
                let pem = read_limited(p, 1 << 20, "CT roots")?;
                for b in sigil_crypto::pem::decode_all(&pem, 64)
                    .with_context(|| format!("CT roots {}", p.display()))?
                {
                    roots.push(
                        sigil_pki::cert::Certificate::from_der(&b.contents)
                            .with_context(|| format!("CT roots {}", p.display()))?,
                    );
                }
            }
            errln!("sigil log: certificate transparency mode, {} accepted root(s)", roots.len());
            sigil_server::log::ct::router(Arc::new(sigil_server::log::ct::CtLog::new(
                log.clone(),
                roots,
            )))
        } else {
            sigil_server::log::api::router(log.clone(), a.max_body_size as usize)
        };
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

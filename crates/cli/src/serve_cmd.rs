//! `sigil serve`: the transparency log (Rekor v1 API and tiles), its certificate transparency
//! log, the keyless CA and the timestamp authority in one process at one origin, each the
//! service crate's own router (`sigil_server::log::api`, `sigil_server::log::ct`,
//! `sigil_ca::service`, `sigil_tsa_service`), on the embedded store in one data directory.
//! The CA logs its precertificates to the CT log in the same process. Once listening, it
//! writes `DIR/trusted_root.json` and `DIR/trust-config.json` (a ClientTrustConfig whose URLs
//! are the served origin) for clients.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sigil_crypto::KeyAlgorithm;
use sigil_server::log::{Log, LogConfig};
use sigil_store::log::Embedded;

use crate::cli::Serve;
use crate::log_cmd::{announce_key, new_key_password};

/// The trusted root file written into the data directory.
pub const TRUSTED_ROOT_FILE: &str = "trusted_root.json";
/// The ClientTrustConfig file written into the data directory.
pub const TRUST_CONFIG_FILE: &str = "trust-config.json";

async fn open_log(dir: &Path, origin: &str, what: &str) -> Result<Arc<Log>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ask = || crate::support::password(false).map_err(|e| format!("{e:#}"));
    let (key, notice) = sigil_server::log::setup::load_or_create_key(
        dir,
        None,
        KeyAlgorithm::EcdsaP256,
        &ask,
        new_key_password(),
    )?;
    announce_key(
        "sigil serve",
        what,
        "sign checkpoints and SETs for this log",
        notice.as_ref(),
    );
    let (origin, replaced) = sigil_server::log::setup::origin(dir, None, origin)?;
    if let Some(r) = replaced {
        errln!("sigil serve: warning: the {what} origin changes from {r} to {origin}");
    }
    let store: Arc<dyn sigil_store::log::LogStore> = Arc::new(Embedded::open(dir)?);
    let config = LogConfig {
        origin,
        key,
        batch_max_size: 256,
        batch_max_age: Duration::from_millis(2),
    };
    Ok(tokio::task::spawn_blocking(move || Log::open(store, config)).await??)
}

fn rfc3339_now() -> String {
    sigil_sign::now().to_rfc3339()
}

/// The trusted root and the ClientTrustConfig for a server at `url`.
fn trust_files(
    url: &str,
    log: &Log,
    ct: &Log,
    ca_chain: &[Vec<u8>],
    tsa_chain: &[Vec<u8>],
) -> Result<(serde_json::Value, serde_json::Value)> {
    let start = "2020-01-01T00:00:00Z";
    let mut root = sigil_formats::trust_root::for_log(url, log.public_key(), start, None)?;
    let ct_entry = sigil_formats::trust_root::log_instance(url, ct.public_key(), start, None)?;
    if let Some(list) = root["ctlogs"].as_array_mut() {
        list.push(ct_entry);
    }
    for (field, chain) in [
        ("certificateAuthorities", ca_chain),
        ("timestampAuthorities", tsa_chain),
    ] {
        let entry = crate::rekor::certificate_authority_of(chain, url)?;
        if let Some(list) = root[field].as_array_mut() {
            list.push(entry);
        }
    }
    sigil_formats::trust_root::TrustedRoot::parse(format!("{root}").as_bytes())
        .context("the trusted root written for clients")?;
    use sigil_formats::signing_config::{Service, Services};
    let service = |u: String| Service {
        url: u,
        major_api_version: 1,
        start: rfc3339_now(),
        operator: "sigil serve".into(),
    };
    let services = Services {
        ca: vec![service(url.to_owned())],
        oidc: Vec::new(),
        tlogs: vec![service(url.to_owned())],
        tsas: vec![service(format!("{url}/api/v1/timestamp"))],
    };
    let trust = sigil_formats::signing_config::client_trust_config(
        root.clone(),
        sigil_formats::signing_config::signing_config(&services),
    );
    Ok((root, trust))
}

pub fn serve(a: Serve) -> Result<()> {
    crate::outputs::serving();
    let data = a.data.clone();
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    // The CA: created on first start (its keys need a password), then opened.
    let password = crate::support::password(false)?;
    let ca_dir = data.join("ca");
    if !ca_dir.join(sigil_ca::CHAIN_FILE).exists() {
        let alg = match a.ca_key_algorithm.as_str() {
            "ecdsa-p256" => KeyAlgorithm::EcdsaP256,
            _ => KeyAlgorithm::EcdsaP384,
        };
        sigil_ca::init(&ca_dir, alg, "sigil", &password)?;
        errln!(
            "sigil serve: created the keyless CA in {}",
            ca_dir.display()
        );
    }
    let ca = sigil_ca::Ca::open(&ca_dir, &password)?;
    let autosign = match (&a.registry_events_token, &a.sign_on_push_registry) {
        (Some(token), Some(host)) => {
            let registry = crate::oci_cmd::registry(&a.registry)?.writing();
            let rules = load_rules(a.sign_on_push_config.as_deref())?;
            let service = Arc::new(
                sigil_autosign::AutoSign::open(
                    &data.join("autosign"),
                    host,
                    registry,
                    zeroize::Zeroizing::new(token.clone()),
                    password.clone(),
                )?
                .with_rules(rules),
            );
            sigil_autosign::spawn_worker(service.clone());
            errln!(
                "sigil serve: signing on push in {host} ({} push(es) waiting)",
                service.pending()
            );
            Some(service)
        }
        _ => None,
    };
    drop(password);
    let ask = || crate::support::password(false).map_err(|e| format!("{e:#}"));
    let (tsa, notices) = sigil_tsa_service::open(
        &data.join("tsa"),
        KeyAlgorithm::EcdsaP384,
        &ask,
        new_key_password(),
    )?;
    for n in &notices {
        announce_key(
            "sigil serve",
            "timestamp",
            "sign timestamps as this authority",
            Some(n),
        );
    }
    let config = match &a.oidc_config {
        Some(p) => sigil_ca::config::load(p)?,
        None => {
            errln!("sigil serve: no --oidc-config: the CA refuses every token until one is given");
            sigil_ca::config::Config::default()
        }
    };
    let tls = crate::tsa_cmd::tls_config(&a.tls)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let ca_root = sigil_pki::cert::Certificate::from_der(&ca.chain_der()[1])?;
    sigil_server::listen::runtime()?.block_on(async move {
        let listener = sigil_server::listen::bind(&a.listen).await?;
        let addr = listener.local_addr()?;
        let url = a
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let origin = url.split_once("://").map_or(url.as_str(), |(_, r)| r).to_owned();
        let log = open_log(&data.join("log"), &origin, "log").await?;
        let ct_log = open_log(&data.join("ct"), &format!("{origin}/ct"), "CT log").await?;
        let ct = Arc::new(sigil_server::log::ct::CtLog::new(ct_log.clone(), vec![ca_root]));
        let ca_chain = ca.chain_der();
        let authority = sigil_ca::service::Authority::new(
            ca,
            config,
            sigil_ca::service::CtClient::Local(ct.clone()),
            a.clock_skew,
            false,
        )?;
        let tsa_chain: Vec<Vec<u8>> = sigil_crypto::pem::decode_all(tsa.chain_pem().as_bytes(), 8)?
            .into_iter()
            .map(|b| b.contents)
            .collect();
        let (root, trust) = trust_files(&url, &log, &ct_log, &ca_chain, &tsa_chain)?;
        let mut o = crate::support::AtomicOutputs::new(true);
        o.add(&data.join(TRUSTED_ROOT_FILE), format!("{root:#}\n").as_bytes(), 0o644)?;
        o.add(&data.join(TRUST_CONFIG_FILE), format!("{trust:#}\n").as_bytes(), 0o644)?;
        o.commit()?;
        if let Some(s) = &autosign {
            // A blocking HTTP client: made off the async workers.
            let (u, k) = (url.clone(), log.public_key().clone());
            s.set_log(tokio::task::spawn_blocking(move || sigil_sign::Log::new(&u, k)).await??);
        }
        let limits = sigil_server::Limits::default();
        let app = sigil_server::log::api::router(log.clone(), limits.max_body)
            .merge(sigil_server::log::ct::routes(ct))
            .merge(sigil_ca::service::router(Arc::new(authority)))
            .merge(sigil_tsa_service::routes(Arc::new(tsa)));
        let app = match autosign {
            Some(s) => app.merge(sigil_autosign::router(s)),
            None => app,
        };
        let stats = Arc::new(sigil_server::LimitStats::default());
        let app = sigil_server::listen::guard_bodies(app, &limits, stats.clone());
        errln!(
            "sigil serve: listening on {url} (log {} entries, CT log {} entries, CA, TSA); clients: --trust-config {}",
            log.head().size,
            ct_log.head().size,
            data.join(TRUST_CONFIG_FILE).display()
        );
        crate::tsa_cmd::write_ready(a.ready_file.as_deref(), &url)?;
        sigil_server::listen::serve(listener, app, limits, tls, stats, sigil_server::listen::shutdown_signal()).await?;
        tokio::task::spawn_blocking(move || {
            log.shutdown();
            ct_log.shutdown();
        })
        .await?;
        Ok::<_, anyhow::Error>(())
    })
}

/// The signing-on-push rules of `--sign-on-push-config`, if given.
fn load_rules(path: Option<&Path>) -> Result<sigil_autosign::rules::Rules> {
    let Some(p) = path else {
        return Ok(Default::default());
    };
    let bytes =
        crate::support::read_limited(p, sigil_autosign::rules::MAX_RULES, "sign-on-push rules")?;
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", p.display()))?;
    sigil_autosign::rules::Rules::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
}

pub fn keys_create(a: crate::cli::KeysCreate) -> Result<()> {
    let rules = load_rules(a.sign_on_push_config.as_deref())?;
    let name = if a.repository == sigil_autosign::DEFAULT_KEY {
        a.repository.clone()
    } else if sigil_formats::reference::is_repository_path(&a.repository) {
        rules.key_name(&a.repository)
    } else {
        anyhow::bail!(
            "{:?} is not a repository name (lowercase letters, digits, . _ - and /)",
            a.repository
        );
    };
    let password = crate::support::password(true)?;
    let keys = sigil_autosign::KeyStore::in_data_dir(&a.data, password);
    let existed = keys.exists(&name);
    let key = keys.key(&name)?;
    errln!(
        "{} the key {name} for {}",
        if existed { "Found" } else { "Created" },
        a.repository
    );
    out!("{}", key.public_key().to_pem());
    Ok(())
}

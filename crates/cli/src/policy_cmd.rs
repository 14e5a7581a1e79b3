//! `policy test`: images against ClusterImagePolicy documents, as the admission webhook decides.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;
use sigil_policy::cip::{self, MAX_POLICY_FILE};
use sigil_policy::eval::{self, NoMatch};

use crate::cli::{AdmissionManifests, AdmissionRender, AdmissionServe, OutputFormat, PolicyTest};
use crate::support::{VerificationFailed, print_json, read_limited};

/// Every policy (ClusterImagePolicy and OrgPolicy) in the files and directories given (a directory's `*.yaml`, `*.yml` and
/// `*.json`, in name order). A document that does not load is an error naming the file.
pub fn load_policies(paths: &[std::path::PathBuf]) -> Result<cip::PolicySet> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<_> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read policy directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension()
                            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
                })
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = cip::PolicySet::default();
    for f in files {
        let bytes = read_limited(&f, MAX_POLICY_FILE, "policy")?;
        let text =
            std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8", f.display()))?;
        out.extend(cip::parse_set(text, &f.display().to_string())?);
    }
    if out.cips.is_empty() && out.orgs.is_empty() && out.trust_roots.is_empty() {
        bail!(
            "no ClusterImagePolicy or OrgPolicy found in {}",
            display(paths)
        );
    }
    Ok(out)
}

fn display(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn trust(path: Option<&Path>) -> Result<sigil_verify::TrustMaterial> {
    Ok(match path {
        None => sigil_verify::TrustMaterial::public_good(),
        Some(p) => {
            let bytes = read_limited(
                p,
                sigil_formats::trust_root::MAX_TRUSTED_ROOT_LEN,
                "trust root",
            )?;
            sigil_verify::TrustMaterial::new(
                sigil_formats::trust_root::TrustedRoot::parse(&bytes)
                    .with_context(|| format!("trust root {}", p.display()))?,
            )
        }
    })
}

pub fn test(a: PolicyTest) -> Result<()> {
    let no_match: NoMatch = a.no_match_policy.parse().map_err(anyhow::Error::msg)?;
    let policies = load_policies(&a.policy)?;
    let registry = match &a.evidence {
        Some(dir) => crate::oci_cmd::offline_registry(&a.registry, dir)?,
        None => crate::oci_cmd::registry(&a.registry)?,
    };
    let trust = trust(a.trust_root.as_deref())?;
    let prepared = sigil_image::policy::prepare(&policies);
    let checker = sigil_image::policy::RegistryChecker {
        registry: &registry,
        trust: &trust,
        prepared: &prepared,
    };
    let resource = a.resource.as_deref().map(resource_of).transpose()?;
    let decisions: Vec<eval::Decision> = a
        .images
        .iter()
        .map(|image| eval::decide_set(&policies, image, resource.as_ref(), no_match, &checker))
        .collect();
    let errors: Vec<&String> = decisions.iter().flat_map(|d| &d.errors).collect();
    let warnings: Vec<&String> = decisions.iter().flat_map(|d| &d.warnings).collect();
    match a.output {
        OutputFormat::Json => {
            print_json(&json!({"errors": errors, "warnings": warnings, "decisions": decisions}))?
        }
        OutputFormat::Text => {
            for d in &decisions {
                for p in &d.policies {
                    for au in &p.authorities {
                        errln!(
                            "{}: policy {} authority {}: {} ({})",
                            d.image,
                            p.policy,
                            au.name,
                            if au.passed { "passed" } else { "failed" },
                            au.detail
                        );
                    }
                }
                for w in &d.warnings {
                    errln!("warning: {w}");
                }
                if d.allowed {
                    outln!("{}: allowed", d.image);
                } else {
                    outln!("{}: denied", d.image);
                }
            }
        }
    }
    let denied = decisions.iter().filter(|d| !d.allowed).count();
    if denied > 0 {
        let first = errors.first().map(|e| e.as_str()).unwrap_or("denied");
        return Err(VerificationFailed(if decisions.len() == 1 {
            first.to_owned()
        } else {
            format!(
                "{denied} of {} images denied; the first: {first}",
                decisions.len()
            )
        })
        .into());
    }
    Ok(())
}

pub fn admission_serve(a: AdmissionServe) -> Result<()> {
    crate::outputs::serving();
    let no_match: NoMatch = a.no_match_policy.parse().map_err(anyhow::Error::msg)?;
    let policies = load_policies(&a.policy)?;
    let (cips, orgs) = (policies.cips.len(), policies.orgs.len());
    let registry = crate::oci_cmd::registry(&a.registry)?;
    let cert = read_limited(&a.tls_cert, 1 << 20, "TLS certificate")?;
    let key = read_limited(&a.tls_key, 1 << 20, "TLS key")?;
    let (tls, served_cert) =
        sigil_server::listen::reloadable_tls_config(&cert, &key).context("TLS")?;
    if a.metrics_prefix.is_empty()
        || !a
            .metrics_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || a.metrics_prefix.starts_with(|c: char| c.is_ascii_digit())
    {
        anyhow::bail!(
            "--metrics-prefix {:?}: a Prometheus name (letters, digits and _, not starting with a digit)",
            a.metrics_prefix
        );
    }
    let config = sigil_admission::service::Config {
        no_match,
        deadline: a.deadline,
        metrics_prefix: a.metrics_prefix.clone(),
        ..Default::default()
    };
    let trust = trust(a.trust_root.as_deref())?;
    let adm = match &a.audit_log {
        None => sigil_admission::service::Admission::new(policies, registry, trust, config),
        Some(p) => {
            let out: Box<dyn std::io::Write + Send> = if p.as_os_str() == "-" {
                Box::new(std::io::stdout())
            } else {
                Box::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .with_context(|| format!("cannot open the audit log {}", p.display()))?,
                )
            };
            sigil_admission::service::Admission::with_audit(policies, registry, trust, config, out)
        }
    };
    // Reload on change (polled) or SIGHUP; a set that does not load keeps the previous one.
    let hup = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let (adm, paths, hup, every) = (
            adm.clone(),
            a.policy.clone(),
            hup.clone(),
            a.reload_interval,
        );
        let tls_files = [a.tls_cert.clone(), a.tls_key.clone()];
        std::thread::spawn(move || {
            let mut seen = fingerprint(&paths);
            let mut seen_tls = fingerprint(&tls_files);
            loop {
                std::thread::sleep(every.max(std::time::Duration::from_millis(50)));
                // A renewed certificate (a rotated Secret) serves new connections; one that
                // does not load keeps the previous.
                let now_tls = fingerprint(&tls_files);
                if now_tls != seen_tls {
                    seen_tls = now_tls;
                    let loaded = read_limited(&tls_files[0], 1 << 20, "TLS certificate")
                        .and_then(|c| Ok((c, read_limited(&tls_files[1], 1 << 20, "TLS key")?)))
                        .and_then(|(c, k)| Ok(served_cert.reload(&c, &k)?));
                    match loaded {
                        Ok(()) => errln!("sigil admission: reloaded the TLS certificate"),
                        Err(e) => errln!(
                            "sigil admission: the TLS certificate did not reload, the previous one stays: {e:#}"
                        ),
                    }
                }
                let now = fingerprint(&paths);
                let asked = hup.swap(false, std::sync::atomic::Ordering::Relaxed);
                if now == seen && !asked {
                    continue;
                }
                seen = now;
                match load_policies(&paths) {
                    Ok(set) => {
                        errln!(
                            "sigil admission: reloaded {} ClusterImagePolicies, {} OrgPolicies",
                            set.cips.len(),
                            set.orgs.len()
                        );
                        adm.set_policies(set);
                    }
                    Err(e) => {
                        errln!(
                            "sigil admission: the policies did not reload, the previous ones stay: {e:#}"
                        );
                        adm.reload_failed(format!("{e:#}"));
                    }
                }
            }
        });
    }
    sigil_server::listen::runtime()?.block_on(async move {
        let listener = sigil_server::listen::bind(&a.listen).await?;
        let addr = listener.local_addr()?;
        errln!(
            "sigil admission: listening on https://{addr}, {cips} ClusterImagePolicies, {orgs} OrgPolicies, no-match-policy {}",
            a.no_match_policy
        );
        if let Some(f) = &a.ready_file {
            let mut o = crate::support::AtomicOutputs::new(true);
            o.add(f, format!("https://{addr}\n").as_bytes(), 0o644)?;
            o.commit()?;
        }
        let limits = sigil_server::Limits {
            max_body: sigil_admission::review::MAX_REVIEW,
            ..Default::default()
        };
        let stats = std::sync::Arc::new(sigil_server::LimitStats::default());
        let app = sigil_server::listen::guard_bodies(
            sigil_admission::service::router(adm),
            &limits,
            stats.clone(),
        );
        #[cfg(unix)]
        if let Ok(mut sig) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            tokio::spawn(async move {
                while sig.recv().await.is_some() {
                    hup.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        sigil_server::listen::serve(listener, app, limits, Some(tls), stats, crate::log_cmd::shutdown_signal()).await?;
        Ok::<_, anyhow::Error>(())
    })
}

/// What the policy paths hold now (names, sizes, modification times), to notice changes.
fn fingerprint(
    paths: &[std::path::PathBuf],
) -> Vec<(std::path::PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut out = Vec::new();
    for p in paths {
        let mut files = vec![p.clone()];
        if p.is_dir() {
            files = std::fs::read_dir(p)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            files.sort();
        }
        for f in files {
            let m = std::fs::metadata(&f).ok();
            out.push((
                f,
                m.as_ref().map_or(0, |m| m.len()),
                m.and_then(|m| m.modified().ok()),
            ));
        }
    }
    out
}

pub fn admission_manifests(a: AdmissionManifests) -> Result<()> {
    let read = |p: &Option<std::path::PathBuf>, what: &str| -> Result<Option<Vec<u8>>> {
        p.as_ref()
            .map(|p| read_limited(p, 1 << 20, what))
            .transpose()
    };
    let tls = match (
        read(&a.tls_cert, "TLS certificate")?,
        read(&a.tls_key, "TLS key")?,
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        _ => None,
    };
    let objects = sigil_admission::manifests::render(&sigil_admission::manifests::Options {
        namespace: a.namespace,
        image: a.image,
        namespace_label: a.namespace_label,
        timeout_seconds: a.timeout,
        failure_policy: a.failure_policy,
        ca_bundle: read(&a.ca_bundle, "CA bundle")?,
        tls,
    })?;
    print_yaml(&objects)
}

fn print_yaml(objects: &[serde_json::Value]) -> Result<()> {
    let mut text = String::new();
    for o in objects {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(o).context("YAML")?);
    }
    out!("{text}");
    Ok(())
}

pub fn admission_render(a: AdmissionRender) -> Result<()> {
    let bytes = read_limited(&a.values, 1 << 20, "values")?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("{}: not UTF-8", a.values.display()))?;
    let values: sigil_admission::render::Values =
        serde_saphyr::from_str(text).with_context(|| format!("values {}", a.values.display()))?;
    let v = &values.admission;
    let mut objects = Vec::new();
    if a.mode == "kyverno" || a.mode == "both" {
        objects.extend(if a.kyverno_api == "imagevalidatingpolicy" {
            sigil_admission::render::kyverno_ivp(v)?
        } else {
            sigil_admission::render::kyverno(v)?
        });
    }
    if a.mode == "vap" || a.mode == "both" {
        objects.extend(sigil_admission::render::vap(v));
    }
    print_yaml(&objects)
}

/// A Kubernetes object's resource for `match[]`: its group and version (from `apiVersion`), the
/// resource its kind is served as, its labels and namespace.
fn resource_of(path: &Path) -> Result<eval::Resource> {
    let bytes = read_limited(path, 4 << 20, "resource")?;
    let text =
        std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8", path.display()))?;
    let v: serde_json::Value =
        serde_saphyr::from_str(text).with_context(|| format!("resource {}", path.display()))?;
    let api = v["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let kind = v["kind"].as_str().unwrap_or_default();
    let resource = match kind {
        "Pod" => "pods",
        "Deployment" => "deployments",
        "StatefulSet" => "statefulsets",
        "DaemonSet" => "daemonsets",
        "ReplicaSet" => "replicasets",
        "Job" => "jobs",
        "CronJob" => "cronjobs",
        other => bail!(
            "resource {}: kind {other:?} carries no pod template",
            path.display()
        ),
    };
    let labels = v["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(eval::Resource {
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
        labels,
        namespace: v["metadata"]["namespace"].as_str().map(str::to_owned),
    })
}

//! The webhook's service: its policies, the decisions, the cache, and the HTTP routes.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sigil_oci::Registry;
use sigil_policy::cip::PolicySet;
use sigil_policy::eval::{self, NoMatch};

use crate::review::{MAX_REVIEW, Review, response};

/// How the webhook decides.
#[derive(Debug, Clone)]
pub struct Config {
    /// What happens to an image no policy matches.
    pub no_match: NoMatch,
    /// The per-request deadline (below the webhook's `timeoutSeconds`).
    pub deadline: Duration,
    /// How long an allowed digest stays cached.
    pub positive_ttl: Duration,
    /// How long a denied digest stays cached.
    pub negative_ttl: Duration,
    /// Most cached decisions.
    pub cache_size: usize,
    /// The metrics' name prefix (`sigil_admission`; a platform may expose its own, such as
    /// `cloudtaser_admission`).
    pub metrics_prefix: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            no_match: NoMatch::Deny,
            deadline: Duration::from_secs(8),
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            cache_size: 10_000,
            metrics_prefix: "sigil_admission".into(),
        }
    }
}

/// A policy set with its revision (any change makes a new revision: cached decisions of the
/// old one are not used).
#[derive(Debug, Clone)]
pub struct Revision {
    /// The policies.
    pub set: PolicySet,
    /// A number that changes whenever the set does.
    pub id: u64,
    /// The set's TrustRoots as trust material and its denied identities, built when the set
    /// loads.
    pub prepared: sigil_image::policy::Prepared,
}

/// A cached decision's key: the image, the resource it runs in, the policy revision.
type Key = (String, eval::Resource, u64);

/// One image's decision, as cached.
#[derive(Debug, Clone)]
struct Cached {
    allowed: bool,
    errors: Vec<String>,
    warnings: Vec<String>,
    reason: Option<String>,
    at: Instant,
}

/// A verification in flight: its answer once made.
type Slot = Arc<(Mutex<Option<Cached>>, std::sync::Condvar)>;

/// The webhook.
pub struct Admission {
    policies: RwLock<Arc<Revision>>,
    registry: Registry,
    trust: sigil_verify::TrustMaterial,
    config: Config,
    cache: Mutex<HashMap<Key, Cached>>,
    inflight: Mutex<HashMap<Key, Slot>>,
    rejections: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Decisions made (for tests and metrics): verified, from the cache.
    pub counts: Counts,
    audit: Option<Mutex<Box<dyn std::io::Write + Send>>>,
    reload_error: Mutex<Option<String>>,
}

/// How decisions were reached.
#[derive(Debug, Default)]
pub struct Counts {
    /// Verified now.
    pub verified: std::sync::atomic::AtomicU64,
    /// Answered from the cache.
    pub cached: std::sync::atomic::AtomicU64,
    /// Answered by waiting for a verification another request had started.
    pub shared: std::sync::atomic::AtomicU64,
    /// Reloads that failed (the previous policies kept).
    pub reload_failures: std::sync::atomic::AtomicU64,
    /// Reviews allowed.
    pub allowed: std::sync::atomic::AtomicU64,
    /// Reviews denied.
    pub denied: std::sync::atomic::AtomicU64,
    /// How long `/validate` answers took (parsing to response, the deadline included).
    pub validate_seconds: crate::metrics::Histogram,
    /// How long `/mutate` answers took.
    pub mutate_seconds: crate::metrics::Histogram,
    /// How long each registry verification of an image took (cache misses only).
    pub verification_seconds: crate::metrics::Histogram,
}

/// An image's decision.
#[derive(Debug, Clone)]
pub struct ImageDecision {
    /// The image as written.
    pub image: String,
    /// Whether it is admitted.
    pub allowed: bool,
    /// Why not.
    pub errors: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// A denial's typed reason (`no-signatures`, `signature-invalid`, `registry-unreachable`,
    /// `unpinned`, `no-matching-policy`, ...), for metrics and audit.
    pub reason: Option<String>,
}

/// The typed reason of a denied decision: the first failing authority's, else the rule's.
fn reason_of(d: &eval::Decision) -> Option<String> {
    if d.allowed {
        return None;
    }
    let failed = d.policies.iter().find(|p| !p.passed);
    Some(match failed {
        Some(p) => p
            .authorities
            .iter()
            .find_map(|a| a.reason.clone())
            .unwrap_or_else(|| {
                if p.policy.starts_with("OrgPolicy/") {
                    "org-rule".into()
                } else {
                    "policy".into()
                }
            }),
        None => "no-matching-policy".into(),
    })
}

impl Admission {
    /// A webhook deciding with `policies`.
    pub fn new(
        policies: PolicySet,
        registry: Registry,
        trust: sigil_verify::TrustMaterial,
        config: Config,
    ) -> Arc<Self> {
        Arc::new(Self {
            policies: RwLock::new(Arc::new(Revision {
                prepared: sigil_image::policy::prepare(&policies),
                set: policies,
                id: 1,
            })),
            registry,
            trust,
            config,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            rejections: Mutex::new(std::collections::BTreeMap::new()),
            counts: Counts::default(),
            audit: None,
            reload_error: Mutex::new(None),
        })
    }

    /// The same webhook writing one JSON line per decision to `out` (the audit log).
    pub fn with_audit(
        policies: PolicySet,
        registry: Registry,
        trust: sigil_verify::TrustMaterial,
        config: Config,
        out: Box<dyn std::io::Write + Send>,
    ) -> Arc<Self> {
        let mut a = Arc::into_inner(Self::new(policies, registry, trust, config))
            .expect("a new Arc has one owner");
        a.audit = Some(Mutex::new(out));
        Arc::new(a)
    }

    /// A reload that failed: the previous policies stay, and the reason is kept for
    /// `/readyz` and the metrics.
    pub fn reload_failed(&self, why: String) {
        self.counts
            .reload_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self
            .reload_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
    }

    fn audit(
        &self,
        review: &Review,
        mutate: bool,
        decisions: &[ImageDecision],
        allowed: bool,
        message: Option<&str>,
    ) {
        let Some(out) = &self.audit else { return };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let line = json!({
            "time": sigil_formats::time::Timestamp::from_unix(now).to_rfc3339(),
            "webhook": if mutate { "mutate" } else { "validate" },
            "uid": review.uid, "namespace": review.namespace, "kind": review.kind, "name": review.name,
            "operation": review.operation, "user": review.user, "dryRun": review.dry_run,
            "policyRevision": self.revision().id,
            "allowed": allowed, "message": message,
            "images": decisions.iter().map(|d| json!({"image": d.image, "allowed": d.allowed, "reason": d.reason, "errors": d.errors, "warnings": d.warnings})).collect::<Vec<_>>(),
        });
        let mut w = out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }

    /// Replaces the policies (a reload); the cache of the old revision is dropped.
    pub fn set_policies(&self, set: PolicySet) {
        *self
            .reload_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        let mut p = self
            .policies
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = p.id + 1;
        *p = Arc::new(Revision {
            prepared: sigil_image::policy::prepare(&set),
            set,
            id,
        });
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn revision(&self) -> Arc<Revision> {
        self.policies
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn applies(rev: &Revision, image: &str, resource: &eval::Resource) -> bool {
        !rev.set.orgs.is_empty()
            || eval::matching(&rev.set.cips, image, Some(resource)).map_or(true, |m| !m.is_empty())
    }

    /// The decision on one image (blocking: registry requests).
    pub fn decide_image(&self, image: &str, resource: &eval::Resource) -> ImageDecision {
        let rev = self.revision();
        let pinned = sigil_formats::reference::Reference::parse(image)
            .map(|r| r.digest().is_some())
            .unwrap_or(false);
        if !pinned && Self::applies(&rev, image, resource) {
            return ImageDecision {
                image: image.to_owned(),
                allowed: false,
                errors: vec![format!(
                    "{image} must be an image digest (repo:tag@sha256:…): the mutating webhook resolves tags"
                )],
                warnings: Vec::new(),
                reason: Some("unpinned".into()),
            };
        }
        // match[] reads the resource's kind and labels, and namespaces its namespace: all of
        // it is in the key, so one resource's decision is never another's.
        let key: Key = (image.to_owned(), resource.clone(), rev.id);
        if let Some(c) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            let ttl = if c.allowed {
                self.config.positive_ttl
            } else {
                self.config.negative_ttl
            };
            if c.at.elapsed() < ttl {
                self.counts
                    .cached
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return ImageDecision {
                    image: image.to_owned(),
                    allowed: c.allowed,
                    errors: c.errors.clone(),
                    warnings: c.warnings.clone(),
                    reason: c.reason.clone(),
                };
            }
        }
        // Concurrent requests for one image share one verification: the first verifies,
        // the others wait for its answer.
        let (slot, first) = {
            let mut inflight = self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match inflight.get(&key) {
                Some(s) => (s.clone(), false),
                None => {
                    let s: Slot = Arc::new((Mutex::new(None), std::sync::Condvar::new()));
                    inflight.insert(key.clone(), s.clone());
                    (s, true)
                }
            }
        };
        if !first {
            let mut done = slot
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while done.is_none() {
                done = slot
                    .1
                    .wait(done)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            self.counts
                .shared
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let c = done.clone().unwrap_or_else(|| Cached {
                allowed: false,
                errors: vec!["the shared verification did not finish".into()],
                warnings: Vec::new(),
                reason: Some("internal".into()),
                at: Instant::now(),
            });
            return ImageDecision {
                image: image.to_owned(),
                allowed: c.allowed,
                errors: c.errors,
                warnings: c.warnings,
                reason: c.reason,
            };
        }
        // Waiters must always get an answer: a verification that panics is a denial.
        let started = Instant::now();
        let d = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let checker = sigil_image::policy::RegistryChecker {
                registry: &self.registry,
                trust: &self.trust,
                prepared: &rev.prepared,
            };
            eval::decide_set(
                &rev.set,
                image,
                Some(resource),
                self.config.no_match,
                &checker,
            )
        }))
        .unwrap_or_else(|_| eval::Decision {
            image: image.to_owned(),
            allowed: false,
            errors: vec![format!(
                "{image}: the verification failed unexpectedly: denied"
            )],
            warnings: Vec::new(),
            policies: Vec::new(),
        });
        self.counts
            .verified
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.counts.verification_seconds.observe(started.elapsed());
        let reason = reason_of(&d);
        let entry = Cached {
            allowed: d.allowed,
            errors: d.errors.clone(),
            warnings: d.warnings.clone(),
            reason: reason.clone(),
            at: Instant::now(),
        };
        {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.len() >= self.config.cache_size {
                // Bounded: the oldest half goes.
                let mut ages: Vec<_> = cache.iter().map(|(k, v)| (v.at, k.clone())).collect();
                ages.sort_by_key(|(at, _)| *at);
                for (_, k) in ages.into_iter().take(cache.len() / 2 + 1) {
                    cache.remove(&k);
                }
            }
            cache.insert(key.clone(), entry.clone());
        }
        *slot
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(entry);
        slot.1.notify_all();
        self.inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key);
        ImageDecision {
            image: image.to_owned(),
            allowed: d.allowed,
            errors: d.errors,
            warnings: d.warnings,
            reason,
        }
    }

    /// Answers a validating review (blocking).
    pub fn validate(&self, review: &Review) -> Value {
        let images = match review.images() {
            Ok(i) => i,
            Err(e) => return response(&review.uid, false, Some(&e.to_string()), &[], None),
        };
        let resource = review.resource();
        let distinct: BTreeSet<&str> = images.iter().map(|i| i.image.as_str()).collect();
        let decisions: Vec<ImageDecision> = distinct
            .into_iter()
            .map(|i| self.decide_image(i, &resource))
            .collect();
        let errors: Vec<&str> = decisions
            .iter()
            .flat_map(|d| d.errors.iter().map(String::as_str))
            .collect();
        let warnings: Vec<String> = decisions.iter().flat_map(|d| d.warnings.clone()).collect();
        let allowed = errors.is_empty();
        let message = (!allowed).then(|| errors.join("; "));
        self.count(allowed);
        {
            let mut r = self
                .rejections
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for d in decisions.iter().filter(|d| !d.allowed) {
                *r.entry(d.reason.clone().unwrap_or_else(|| "unknown".into()))
                    .or_default() += 1;
            }
        }
        self.audit(review, false, &decisions, allowed, message.as_deref());
        response(&review.uid, allowed, message.as_deref(), &warnings, None)
    }

    fn count(&self, allowed: bool) {
        let c = if allowed {
            &self.counts.allowed
        } else {
            &self.counts.denied
        };
        c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The metrics, in Prometheus' text format.
    pub fn metrics(&self) -> String {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.counts;
        let p = &self.config.metrics_prefix;
        let enforcing =
            u8::from(self.config.no_match == NoMatch::Deny || !self.revision().set.cips.is_empty());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# TYPE {p}_signature_enforced gauge\n{p}_signature_enforced {enforcing}"
        );
        let _ = writeln!(
            out,
            "# TYPE {p}_decisions_total counter\n{p}_decisions_total{{outcome=\"allowed\"}} {}\n{p}_decisions_total{{outcome=\"denied\"}} {}",
            c.allowed.load(Relaxed),
            c.denied.load(Relaxed)
        );
        let _ = writeln!(out, "# TYPE {p}_signature_rejections_total counter");
        for (reason, n) in self
            .rejections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "{p}_signature_rejections_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# TYPE {p}_verifications_total counter\n{p}_verifications_total{{source=\"registry\"}} {}\n{p}_verifications_total{{source=\"cache\"}} {}\n{p}_verifications_total{{source=\"shared\"}} {}",
            c.verified.load(Relaxed),
            c.cached.load(Relaxed),
            c.shared.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE {p}_policy_reload_failures_total counter\n{p}_policy_reload_failures_total {}",
            c.reload_failures.load(Relaxed)
        );
        let _ = writeln!(out, "# TYPE {p}_request_duration_seconds histogram");
        c.validate_seconds.render(
            &mut out,
            &format!("{p}_request_duration_seconds"),
            "webhook=\"validate\"",
        );
        c.mutate_seconds.render(
            &mut out,
            &format!("{p}_request_duration_seconds"),
            "webhook=\"mutate\"",
        );
        let _ = writeln!(out, "# TYPE {p}_verification_duration_seconds histogram");
        c.verification_seconds
            .render(&mut out, &format!("{p}_verification_duration_seconds"), "");
        out
    }

    /// Answers a mutating review (blocking): every image not pinned by digest is resolved and
    /// rewritten `repo:tag@sha256:…`; an image that cannot be resolved denies.
    pub fn mutate(&self, review: &Review) -> Value {
        let images = match review.images() {
            Ok(i) => i,
            Err(e) => return response(&review.uid, false, Some(&e.to_string()), &[], None),
        };
        let mut patch = Vec::new();
        let mut resolved: HashMap<String, String> = HashMap::new();
        for at in images {
            let Ok(r) = sigil_oci::ImageRef::parse(&at.image) else {
                return response(
                    &review.uid,
                    false,
                    Some(&format!("{} is not an image reference", at.image)),
                    &[],
                    None,
                );
            };
            if r.digest().is_some() {
                continue;
            }
            let digest = match resolved.get(&at.image) {
                Some(d) => d.clone(),
                None => match self.registry.resolve(&r) {
                    Ok(d) => {
                        resolved.insert(at.image.clone(), d.clone());
                        d
                    }
                    Err(e) => {
                        let why = match e {
                            sigil_oci::RegistryError::Unreachable { .. } => {
                                format!("registry unreachable: {e}")
                            }
                            e => e.to_string(),
                        };
                        return response(
                            &review.uid,
                            false,
                            Some(&format!("cannot resolve {}: {why}", at.image)),
                            &[],
                            None,
                        );
                    }
                },
            };
            patch.push(json!({"op": "replace", "path": at.pointer, "value": format!("{}@{digest}", at.image)}));
        }
        response(&review.uid, true, None, &[], Some(&patch))
    }
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"message": msg}))).into_response()
}

async fn answer(adm: Arc<Admission>, body: Bytes, mutate: bool) -> Response {
    if body.len() > MAX_REVIEW {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({"message": format!("the review is over {MAX_REVIEW} bytes")})),
        )
            .into_response();
    }
    let review = match Review::parse(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(e.to_string()),
    };
    let uid = review.uid.clone();
    let deadline = adm.config.deadline;
    let started = Instant::now();
    let metrics = adm.clone();
    let work = tokio::task::spawn_blocking(move || {
        if mutate {
            adm.mutate(&review)
        } else {
            adm.validate(&review)
        }
    });
    let out = match tokio::time::timeout(deadline, work).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => response(
            &uid,
            false,
            Some(&format!("the decision failed: {e}")),
            &[],
            None,
        ),
        Err(_) => response(
            &uid,
            false,
            Some(&format!(
                "the decision did not finish within {} ms: denied",
                deadline.as_millis()
            )),
            &[],
            None,
        ),
    };
    let h = if mutate {
        &metrics.counts.mutate_seconds
    } else {
        &metrics.counts.validate_seconds
    };
    h.observe(started.elapsed());
    axum::Json(out).into_response()
}

/// The routes: `POST /validate`, `POST /mutate`, `GET /healthz`, `GET /readyz`.
pub fn router(adm: Arc<Admission>) -> Router {
    Router::new()
        .route(
            "/validate",
            post(|State(a): State<Arc<Admission>>, body: Bytes| answer(a, body, false)),
        )
        .route(
            "/mutate",
            post(|State(a): State<Arc<Admission>>, body: Bytes| answer(a, body, true)),
        )
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route(
            "/metrics",
            get(|State(a): State<Arc<Admission>>| async move {
                ([("content-type", "text/plain; version=0.0.4")], a.metrics())
            }),
        )
        .route(
            "/readyz",
            get(|State(a): State<Arc<Admission>>| async move {
                let rev = a.revision();
                let err = a.reload_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                axum::Json(json!({"status": "ready", "policies": rev.set.cips.len(), "orgPolicies": rev.set.orgs.len(),
                                  "revision": rev.id, "lastReloadError": err}))
            }),
        )
        .with_state(adm)
}

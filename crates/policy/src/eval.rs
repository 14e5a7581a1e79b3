//! Decisions: which policies apply to an image, and whether it passes them, with
//! policy-controller's semantics — every matching policy must pass (AND); within a policy one
//! passing authority is enough (OR); the policy-level `policy` runs only when an authority
//! passed; `warn` mode turns a denial into a warning; an image no policy matches follows the
//! no-match policy (`deny` by default). The verification itself (registry, signatures, logs) is
//! the caller's: this module asks a [`Checker`] for each authority and decides.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cip::{Authority, Policy};

/// What happens to an image no policy matches (`no-match-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoMatch {
    /// Denied (the default).
    #[default]
    Deny,
    /// Allowed.
    Allow,
    /// Allowed, with a warning.
    Warn,
}

impl std::str::FromStr for NoMatch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "deny" => Ok(Self::Deny),
            "allow" => Ok(Self::Allow),
            "warn" => Ok(Self::Warn),
            other => Err(format!(
                "no-match-policy {other:?} is not deny, allow or warn"
            )),
        }
    }
}

/// The resource an image is admitted in (for `match[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resource {
    /// API group (`""` core, `apps`, `batch`).
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Resource, plural (`pods`, `deployments`).
    pub resource: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its namespace, when it has one.
    pub namespace: Option<String>,
}

/// What checking one authority on one image came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorityOutcome {
    /// The authority's name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed, or what passed, in one sentence.
    pub detail: String,
    /// The typed reason of a failure, as the verifier names it (`no-signatures`,
    /// `signature-invalid`, `registry-unreachable`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What checking an authority found.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Whether it passed.
    pub passed: bool,
    /// What passed, or why not, in one sentence.
    pub detail: String,
    /// A failure's typed reason (`no-signatures`, `signature-invalid`, ...).
    pub reason: Option<String>,
    /// What verified, as policy-controller's `authorityMatches` entry
    /// (`{"signatures": [...], "attestations": {name: [...]}}`), for a policy-level policy.
    pub evidence: serde_json::Value,
}

impl Checked {
    /// A pass.
    pub fn pass(detail: impl Into<String>) -> Self {
        Self {
            passed: true,
            detail: detail.into(),
            reason: None,
            evidence: serde_json::json!({"signatures": [], "attestations": {}}),
        }
    }

    /// A failure with its reason.
    pub fn fail(reason: &str, detail: impl Into<String>) -> Self {
        Self {
            passed: false,
            detail: detail.into(),
            reason: Some(reason.to_owned()),
            evidence: serde_json::Value::Null,
        }
    }
}

/// Checks one (non-static) authority for an image: the caller's verification.
pub trait Checker {
    /// Checks `authority` (of `policy`) on `image`.
    fn check(&self, image: &str, policy: &Policy, authority: &Authority) -> Checked;

    /// The digest `image` (a tag) resolves to, for rules on digests; `Err` when it cannot be
    /// resolved (the rule then denies).
    fn resolve(&self, image: &str) -> Result<String, String> {
        Err(format!("{image} cannot be resolved here"))
    }
}

/// One policy's result.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyOutcome {
    /// The policy's name.
    pub policy: String,
    /// Whether it passed.
    pub passed: bool,
    /// Whether it is in `warn` mode.
    pub warn: bool,
    /// Every authority tried, in order.
    pub authorities: Vec<AuthorityOutcome>,
    /// Why it failed (when it did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The decision on one image.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The image as given.
    pub image: String,
    /// Whether it is admitted.
    pub allowed: bool,
    /// policy-controller's tester output: denials.
    pub errors: Vec<String>,
    /// Warnings (warn-mode policies, `no-match-policy: warn`).
    pub warnings: Vec<String>,
    /// Every policy that matched.
    pub policies: Vec<PolicyOutcome>,
}

/// The policies matching `image` (and `resource`, when given: policies with `match[]` apply only
/// to the resources they name; without a resource, every policy whose glob matches applies).
pub fn matching<'a>(
    policies: &'a [Policy],
    image: &str,
    resource: Option<&Resource>,
) -> Result<Vec<&'a Policy>, crate::glob::GlobError> {
    let mut out = Vec::new();
    for p in policies {
        let mut hit = false;
        for g in &p.globs {
            if g.matches(image)? {
                hit = true;
                break;
            }
        }
        if !hit {
            continue;
        }
        let m = &p.doc.spec.match_;
        let applies = match resource {
            Some(r) if !m.is_empty() => m.iter().any(|mr| {
                mr.group.as_deref().is_none_or(|g| g == r.group)
                    && mr.version.as_deref().is_none_or(|v| v == r.version)
                    && mr.resource.as_deref().is_none_or(|x| x == r.resource)
                    && mr.selector.as_ref().is_none_or(|s| s.matches(&r.labels))
            }),
            _ => true,
        };
        if applies {
            out.push(p);
        }
    }
    Ok(out)
}

/// Decides on `image`.
pub fn decide(
    policies: &[Policy],
    image: &str,
    resource: Option<&Resource>,
    no_match: NoMatch,
    checker: &dyn Checker,
) -> Decision {
    let mut d = Decision {
        image: image.to_owned(),
        allowed: true,
        errors: Vec::new(),
        warnings: Vec::new(),
        policies: Vec::new(),
    };
    let matched = match matching(policies, image, resource) {
        Ok(m) => m,
        Err(e) => {
            d.allowed = false;
            d.errors.push(e.to_string());
            return d;
        }
    };
    if matched.is_empty() {
        let msg = format!("{image}: no policy matches the image");
        match no_match {
            NoMatch::Deny => {
                d.allowed = false;
                d.errors.push(format!("{msg} (no-match-policy deny)"));
            }
            NoMatch::Warn => d.warnings.push(format!("{msg} (no-match-policy warn)")),
            NoMatch::Allow => {}
        }
        return d;
    }
    for p in matched {
        let mut out = PolicyOutcome {
            policy: p.name().to_owned(),
            passed: false,
            warn: p.warn,
            authorities: Vec::new(),
            message: None,
        };
        // With a policy-level policy every authority is checked (it sees them all, as
        // `authorityMatches`); otherwise the first that passes is enough.
        let all = p.doc.spec.policy.is_some();
        let mut matches = serde_json::Map::new();
        for (i, a) in p.doc.spec.authorities.iter().enumerate() {
            let name = p.authority_name(i);
            let c = match &a.static_ {
                Some(s) if s.action == "pass" => Checked::pass("static pass"),
                Some(s) => Checked::fail(
                    "static-fail",
                    s.message
                        .clone()
                        .unwrap_or_else(|| "disallowed by static policy".into()),
                ),
                None => checker.check(image, p, a),
            };
            if c.passed {
                out.passed = true;
                matches.insert(name.clone(), c.evidence.clone());
            }
            out.authorities.push(AuthorityOutcome {
                name,
                passed: c.passed,
                detail: c.detail,
                reason: c.reason,
            });
            if c.passed && !all {
                break;
            }
        }
        if let (true, Some(pol)) = (out.passed, &p.doc.spec.policy) {
            let input = serde_json::json!({ "authorityMatches": matches });
            match (pol.type_.as_str(), &pol.data) {
                ("rego", Some(data)) => match crate::rego::evaluate(p.name(), data, &input) {
                    Ok(None) => {}
                    Ok(Some(w)) => d.warnings.push(format!("policy {}: {w}", p.name())),
                    Err(e) => {
                        out.passed = false;
                        out.message = Some(format!("{image}: policy {} failed: {e}", p.name()));
                    }
                },
                ("cue", Some(data)) => {
                    let verdict = crate::cue::Policy::parse(data)
                        .map_err(|e| e.to_string())
                        .and_then(|c| {
                            c.check(&input)
                                .map_err(|v| format!("the CUE policy is not satisfied: {v}"))
                        });
                    if let Err(e) = verdict {
                        out.passed = false;
                        out.message = Some(format!("{image}: policy {} failed: {e}", p.name()));
                    }
                }
                (t, data) => {
                    out.passed = false;
                    out.message = Some(format!(
                        "{image}: policy {}: its spec.policy ({t}{}) cannot be evaluated by this Sigil: denied",
                        p.name(),
                        if data.is_none() { ", not inline" } else { "" }
                    ));
                }
            }
        }
        if !out.passed && out.message.is_none() {
            let why: Vec<String> = out
                .authorities
                .iter()
                .map(|a| format!("{}: {}", a.name, a.detail))
                .collect();
            out.message = Some(format!(
                "{image}: policy {} failed: none of its authorities passed ({})",
                p.name(),
                why.join("; ")
            ));
        }
        if !out.passed {
            let msg = out.message.clone().unwrap_or_default();
            if p.warn {
                d.warnings.push(msg);
            } else {
                d.allowed = false;
                d.errors.push(msg);
            }
        }
        d.policies.push(out);
    }
    d
}

/// Decides on `image` under a whole policy set: every OrgPolicy's rules, then the
/// ClusterImagePolicies ([`decide`]). With an OrgPolicy present, the no-match policy applies
/// only when no ClusterImagePolicy matches and no OrgPolicy requires signatures.
pub fn decide_set(
    set: &crate::cip::PolicySet,
    image: &str,
    resource: Option<&Resource>,
    no_match: NoMatch,
    checker: &dyn Checker,
) -> Decision {
    let mut org_outcomes = Vec::new();
    let mut errors = Vec::new();
    for o in &set.orgs {
        let (outcome, why) = org_rules(o, image, resource, checker);
        if let Some(w) = why {
            errors.push(w);
        }
        org_outcomes.push(outcome);
    }
    let signed_by_org = set.orgs.iter().any(|o| o.required() > 0);
    let cip_matches = matching(&set.cips, image, resource)
        .map(|m| !m.is_empty())
        .unwrap_or(true);
    let effective_no_match = if signed_by_org && !cip_matches {
        NoMatch::Allow
    } else {
        no_match
    };
    let mut d = decide(&set.cips, image, resource, effective_no_match, checker);
    if !errors.is_empty() {
        d.allowed = false;
    }
    errors.extend(std::mem::take(&mut d.errors));
    d.errors = errors;
    org_outcomes.extend(std::mem::take(&mut d.policies));
    d.policies = org_outcomes;
    d
}

fn org_rules(
    o: &crate::org::OrgPolicy,
    image: &str,
    resource: Option<&Resource>,
    checker: &dyn Checker,
) -> (PolicyOutcome, Option<String>) {
    let mut out = PolicyOutcome {
        policy: format!("OrgPolicy/{}", o.name()),
        passed: true,
        warn: false,
        authorities: Vec::new(),
        message: None,
    };
    let deny = |out: &mut PolicyOutcome, rule: &str, why: String| {
        out.passed = false;
        let msg = format!("{image}: OrgPolicy {} ({rule}): {why}", o.name());
        out.message = Some(msg.clone());
        Some(msg)
    };
    let s = &o.spec;
    let parsed = match sigil_formats::reference::Reference::parse(image) {
        Ok(r) => r,
        Err(e) => {
            let m = deny(&mut out, "reference", e.to_string());
            return (out, m);
        }
    };
    let repo = format!("{}/{}", parsed.api_host(), parsed.path());
    let written = format!("{}/{}", parsed.domain(), parsed.path());
    if !s.allowed_registries.is_empty()
        && !s
            .allowed_registries
            .iter()
            .any(|p| crate::org::under_prefix(&repo, p) || crate::org::under_prefix(&written, p))
    {
        let why = format!(
            "{repo} is not under an allowed registry ({})",
            s.allowed_registries.join(", ")
        );
        let m = deny(&mut out, "allowedRegistries", why);
        return (out, m);
    }
    if let (false, Some(ns)) = (
        s.allowed_namespaces.is_empty(),
        resource.and_then(|r| r.namespace.as_deref()),
    ) && !s.allowed_namespaces.iter().any(|n| n == ns)
    {
        let m = deny(
            &mut out,
            "allowedNamespaces",
            format!("namespace {ns} is not allowed"),
        );
        return (out, m);
    }
    if s.deny_mutable_references && parsed.digest().is_none() {
        let m = deny(
            &mut out,
            "denyMutableReferences",
            "the image is not pinned by digest (a mutable tag)".into(),
        );
        return (out, m);
    }
    if !s.deny_digests.is_empty() {
        let digest = match parsed.digest() {
            Some(d) => Ok(d.to_owned()),
            None => checker.resolve(image),
        };
        match digest {
            Err(e) => {
                let m = deny(
                    &mut out,
                    "denyDigests",
                    format!("cannot resolve the tag to check the deny list: {e}"),
                );
                return (out, m);
            }
            Ok(d) if s.deny_digests.contains(&d) => {
                let m = deny(
                    &mut out,
                    "denyDigests",
                    format!("digest {d} is on the deny list"),
                );
                return (out, m);
            }
            Ok(_) => {}
        }
    }
    let need = o.required();
    if need > 0 {
        // A CIP-shaped wrapper so that the checker sees the OrgPolicy's authorities.
        let wrapper = crate::cip::Policy {
            doc: crate::cip::ClusterImagePolicy {
                api_version: crate::org::API_VERSION.into(),
                kind: "OrgPolicy".into(),
                metadata: o.metadata.clone(),
                spec: crate::cip::Spec {
                    images: Vec::new(),
                    authorities: o.effective_authorities(),
                    policy: None,
                    mode: None,
                    match_: Vec::new(),
                },
                status: None,
            },
            globs: Vec::new(),
            warn: false,
        };
        let mut passed = 0;
        for a in &wrapper.doc.spec.authorities {
            let c = match &a.static_ {
                Some(st) if st.action == "pass" => Checked::pass("static pass"),
                Some(st) => Checked::fail(
                    "static-fail",
                    st.message.clone().unwrap_or_else(|| "disallowed".into()),
                ),
                None => checker.check(image, &wrapper, a),
            };
            passed += usize::from(c.passed);
            out.authorities.push(AuthorityOutcome {
                name: a.name.clone(),
                passed: c.passed,
                detail: c.detail,
                reason: c.reason,
            });
        }
        if passed < need {
            let why: Vec<String> = out
                .authorities
                .iter()
                .filter(|a| !a.passed)
                .map(|a| format!("{}: {}", a.name, a.detail))
                .collect();
            let m = deny(
                &mut out,
                "requireSignatures",
                format!(
                    "{passed} of the required {need} authorities passed ({})",
                    why.join("; ")
                ),
            );
            return (out, m);
        }
    }
    (out, None)
}

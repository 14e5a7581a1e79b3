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
#[derive(Debug, Clone, Default)]
pub struct Resource {
    /// API group (`""` core, `apps`, `batch`).
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Resource, plural (`pods`, `deployments`).
    pub resource: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
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

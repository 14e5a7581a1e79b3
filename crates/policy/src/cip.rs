//! ClusterImagePolicy documents (`policy.sigstore.dev/v1alpha1` and `v1beta1`), read from YAML
//! or JSON and validated as policy-controller's webhook validates them. Unknown fields are
//! refused: a misspelt `keyles:` must not silently drop an authority.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::glob::Glob;

/// The API versions read.
pub const API_VERSIONS: [&str; 2] = [
    "policy.sigstore.dev/v1alpha1",
    "policy.sigstore.dev/v1beta1",
];

/// A ClusterImagePolicy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterImagePolicy {
    /// `policy.sigstore.dev/v1alpha1` or `v1beta1`.
    pub api_version: String,
    /// `ClusterImagePolicy`.
    pub kind: String,
    /// Its name (and whatever else Kubernetes keeps there).
    pub metadata: Metadata,
    /// The policy.
    pub spec: Spec,
    /// Written by the cluster; ignored.
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

/// The document's metadata: the name matters, the rest is kept as it is.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// The policy's name.
    pub name: String,
    /// Anything else.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The images the policy applies to.
    pub images: Vec<ImagePattern>,
    /// Any one of them passing passes the policy.
    #[serde(default)]
    pub authorities: Vec<Authority>,
    /// A policy over the authorities' results, run only when one passed.
    #[serde(default)]
    pub policy: Option<PolicyRef>,
    /// `enforce` (the default) or `warn`.
    #[serde(default)]
    pub mode: Option<String>,
    /// The resources the policy applies to (all when empty).
    #[serde(default, rename = "match")]
    pub match_: Vec<MatchResource>,
}

/// One `images[]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagePattern {
    /// The glob.
    pub glob: String,
}

/// One authority.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authority {
    /// Its name (`authority-N` when absent, as policy-controller names them).
    #[serde(default)]
    pub name: String,
    /// A public key.
    #[serde(default)]
    pub key: Option<KeyRef>,
    /// Keyless: a CA and the identities it must have certified.
    #[serde(default)]
    pub keyless: Option<Keyless>,
    /// A fixed answer.
    #[serde(default, rename = "static")]
    pub static_: Option<Static>,
    /// Another repository holding the signatures (at most one).
    #[serde(default)]
    pub source: Vec<Source>,
    /// The transparency log the signatures must be in ("ctlog" means Rekor here).
    #[serde(default)]
    pub ctlog: Option<TLog>,
    /// Attestations that must verify (each with an optional policy).
    #[serde(default)]
    pub attestations: Vec<Attestation>,
    /// RFC 3161 timestamps required, from this trust root's TSAs.
    #[serde(default)]
    pub rfc3161timestamp: Option<TLog>,
    /// `legacy` (cosign's tags, the default) or `bundle` (OCI 1.1 referrers).
    #[serde(default)]
    pub signature_format: Option<String>,
}

/// `key`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRef {
    /// The PEM, inline (or `env://VAR` / a file path in Sigil's tester).
    #[serde(default)]
    pub data: Option<String>,
    /// A KMS URI.
    #[serde(default)]
    pub kms: Option<String>,
    /// A Kubernetes Secret holding the key.
    #[serde(default)]
    pub secret_ref: Option<SecretRef>,
    /// `sha256` (default), `sha384` or `sha512`.
    #[serde(default)]
    pub hash_algorithm: Option<String>,
}

/// A Secret reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// The Secret's name.
    pub name: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `keyless`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Keyless {
    /// The Fulcio URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Identities, any one of which must match.
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// A CA certificate instead of Fulcio's.
    #[serde(default, rename = "ca-cert")]
    pub ca_cert: Option<KeyRef>,
    /// The TrustRoot with the CA.
    #[serde(default)]
    pub trust_root_ref: Option<String>,
    /// Do not require an SCT.
    #[serde(default, rename = "insecureIgnoreSCT")]
    pub insecure_ignore_sct: Option<bool>,
}

/// One identity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    /// The OIDC issuer, exactly.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The subject (SAN), exactly.
    #[serde(default)]
    pub subject: Option<String>,
    /// The issuer, as a regular expression.
    #[serde(default, rename = "issuerRegExp")]
    pub issuer_regexp: Option<String>,
    /// The subject, as a regular expression.
    #[serde(default, rename = "subjectRegExp")]
    pub subject_regexp: Option<String>,
}

/// `static`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Static {
    /// `pass` or `fail`.
    pub action: String,
    /// Why.
    #[serde(default)]
    pub message: Option<String>,
}

/// `source[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// The repository holding the signatures.
    #[serde(default)]
    pub oci: Option<String>,
    /// Pull secrets for it.
    #[serde(default)]
    pub signature_pull_secrets: Vec<NameRef>,
    /// A prefix of the signature tags.
    #[serde(default)]
    pub tag_prefix: Option<String>,
}

/// A reference by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameRef {
    /// The name.
    pub name: String,
}

/// `ctlog` and `rfc3161timestamp`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TLog {
    /// The log's URL.
    #[serde(default)]
    pub url: Option<String>,
    /// The TrustRoot with its key.
    #[serde(default)]
    pub trust_root_ref: Option<String>,
}

/// `attestations[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attestation {
    /// Its name.
    pub name: String,
    /// The predicate type (a cosign shortcut or a URI).
    pub predicate_type: String,
    /// A policy over the statement.
    #[serde(default)]
    pub policy: Option<PolicyRef>,
}

/// A CUE or Rego policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRef {
    /// `cue` or `rego`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Inline.
    #[serde(default)]
    pub data: Option<String>,
    /// Fetched (`url`, `sha256sum`).
    #[serde(default)]
    pub remote: Option<serde_json::Value>,
    /// From a ConfigMap.
    #[serde(default)]
    pub config_map_ref: Option<serde_json::Value>,
    /// Include the image's config file in the input.
    #[serde(default)]
    pub fetch_config_file: Option<bool>,
    /// Include the resource's spec.
    #[serde(default)]
    pub include_spec: Option<bool>,
    /// Include its metadata.
    #[serde(default)]
    pub include_object_meta: Option<bool>,
    /// Include its type meta.
    #[serde(default)]
    pub include_type_meta: Option<bool>,
}

/// `match[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchResource {
    /// API group (`""` for the core group, `apps`, `batch`).
    #[serde(default)]
    pub group: Option<String>,
    /// API version.
    #[serde(default)]
    pub version: Option<String>,
    /// Resource (`pods`, `deployments`, ...).
    #[serde(default)]
    pub resource: Option<String>,
    /// A label selector on the resource.
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must equal.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions that must hold.
    #[serde(default)]
    pub match_expressions: Vec<LabelExpression>,
}

/// One selector expression.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelExpression {
    /// The label.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In`/`NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| {
                let got = labels.get(&e.key);
                match e.operator.as_str() {
                    "In" => got.is_some_and(|g| e.values.contains(g)),
                    "NotIn" => got.is_none_or(|g| !e.values.contains(g)),
                    "Exists" => got.is_some(),
                    "DoesNotExist" => got.is_none(),
                    _ => false,
                }
            })
    }
}

/// Why a policy document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {what}")]
pub struct DocumentError {
    /// The file (or `-`), with the document's position when the file holds several.
    pub source_name: String,
    /// What is wrong, with the field's path.
    pub what: String,
}

/// Largest policy file read.
pub const MAX_POLICY_FILE: usize = 4 * 1024 * 1024;

/// A policy with its globs compiled.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The document.
    pub doc: ClusterImagePolicy,
    /// `images[].glob`, compiled.
    pub globs: Vec<Glob>,
    /// `warn` mode.
    pub warn: bool,
}

impl Policy {
    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.doc.metadata.name
    }

    /// The authority's name as reported (`authority-N` when unnamed).
    pub fn authority_name(&self, i: usize) -> String {
        match self.doc.spec.authorities.get(i) {
            Some(a) if !a.name.is_empty() => a.name.clone(),
            _ => format!("authority-{i}"),
        }
    }
}

/// Reads every ClusterImagePolicy in `text` (YAML, several documents separated by `---`, or
/// JSON; a `List` of them too), validated. `source_name` names the file in errors.
pub fn parse(text: &str, source_name: &str) -> Result<Vec<Policy>, DocumentError> {
    let set = parse_set(text, source_name)?;
    if let Some(o) = set.orgs.first() {
        return Err(DocumentError {
            source_name: source_name.to_owned(),
            what: format!(
                "OrgPolicy {} where only ClusterImagePolicy documents are read",
                o.name()
            ),
        });
    }
    Ok(set.cips)
}

/// The documents of a policy set: ClusterImagePolicies and Sigil's OrgPolicies.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The ClusterImagePolicies.
    pub cips: Vec<Policy>,
    /// The organisation rules.
    pub orgs: Vec<crate::org::OrgPolicy>,
    /// The TrustRoots authorities name.
    pub trust_roots: Vec<crate::trustroot::TrustRoot>,
}

impl PolicySet {
    /// Adds another set's documents.
    pub fn extend(&mut self, other: PolicySet) {
        self.cips.extend(other.cips);
        self.orgs.extend(other.orgs);
        self.trust_roots.extend(other.trust_roots);
    }
}

/// Reads every ClusterImagePolicy and OrgPolicy in `text` (as [`parse`] does).
pub fn parse_set(text: &str, source_name: &str) -> Result<PolicySet, DocumentError> {
    let err = |what: String| DocumentError {
        source_name: source_name.to_owned(),
        what,
    };
    if text.len() > MAX_POLICY_FILE {
        return Err(err(format!("over {MAX_POLICY_FILE} bytes")));
    }
    let options = serde_saphyr::Options {
        budget: Some(serde_saphyr::Budget {
            max_depth: 64,
            ..Default::default()
        }),
        ..Default::default()
    };
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| err(e.to_string()))?;
    let mut out = PolicySet::default();
    let several = docs.len() > 1;
    for (n, doc) in docs.into_iter().enumerate() {
        let here = |what: String| {
            err(if several {
                format!("document {}: {what}", n + 1)
            } else {
                what
            })
        };
        if doc.is_null() {
            continue;
        }
        let items = match doc.get("kind").and_then(|k| k.as_str()) {
            Some("List") | Some("ClusterImagePolicyList") => doc
                .get("items")
                .and_then(|i| i.as_array())
                .cloned()
                .ok_or_else(|| here("a List without items".into()))?,
            _ => vec![doc],
        };
        for item in items {
            let kind = item.get("kind").and_then(|k| k.as_str());
            if kind == Some("OrgPolicy") {
                out.orgs.push(crate::org::load(item).map_err(&here)?);
            } else if kind == Some("TrustRoot") {
                out.trust_roots
                    .push(crate::trustroot::load(item).map_err(&here)?);
            } else {
                out.cips.push(load(item).map_err(&here)?);
            }
        }
    }
    Ok(out)
}

fn load(v: serde_json::Value) -> Result<Policy, String> {
    let api = v.get("apiVersion").and_then(|a| a.as_str()).unwrap_or("");
    if !API_VERSIONS.contains(&api) {
        return Err(format!(
            "apiVersion {api:?} is not a ClusterImagePolicy's ({})",
            API_VERSIONS.join(" or ")
        ));
    }
    let kind = v.get("kind").and_then(|a| a.as_str()).unwrap_or("");
    if kind != "ClusterImagePolicy" {
        return Err(format!("kind {kind:?} is not ClusterImagePolicy"));
    }
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or("(unnamed)")
        .to_owned();
    let doc: ClusterImagePolicy =
        serde_path_to_error::deserialize(v).map_err(|e| match e.path().to_string().as_str() {
            "." => format!("ClusterImagePolicy {name}: {}", e.inner()),
            p => format!("ClusterImagePolicy {name}: {p}: {}", e.inner()),
        })?;
    validate(doc)
}

/// Validates one authority (shared with OrgPolicy).
/// An identity has an issuer (or `issuerRegExp`), a subject (or `subjectRegExp`), and regular
/// expressions that compile.
pub(crate) fn check_identity(
    q: String,
    id: &Identity,
    at: &dyn Fn(String, &str) -> String,
) -> Result<(), String> {
    if id.issuer.is_none() && id.issuer_regexp.is_none() {
        return Err(at(q, "issuer or issuerRegExp is required"));
    }
    if id.subject.is_none() && id.subject_regexp.is_none() {
        return Err(at(q, "subject or subjectRegExp is required"));
    }
    for (f, re) in [
        ("issuerRegExp", &id.issuer_regexp),
        ("subjectRegExp", &id.subject_regexp),
    ] {
        if let Some(re) = re {
            regex::Regex::new(re).map_err(|e| at(format!("{q}.{f}"), &e.to_string()))?;
        }
    }
    Ok(())
}

pub(crate) fn validate_authorities(name: &str, authorities: &[Authority]) -> Result<(), String> {
    let at = |path: String, what: &str| format!("{name}: {path}: {what}");
    check_authorities(authorities, &at)
}

fn validate(doc: ClusterImagePolicy) -> Result<Policy, String> {
    let name = &doc.metadata.name;
    let at = |path: String, what: &str| format!("ClusterImagePolicy {name}: {path}: {what}");
    let spec = &doc.spec;
    if spec.images.is_empty() {
        return Err(at(
            "spec.images".into(),
            "at least one image glob is required",
        ));
    }
    let globs = spec
        .images
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Glob::new(&p.glob).map_err(|e| at(format!("spec.images[{i}].glob"), &e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if spec.authorities.is_empty() {
        return Err(at(
            "spec.authorities".into(),
            "at least one authority is required",
        ));
    }
    check_authorities(&spec.authorities, &at)?;
    if let Some(pol) = &spec.policy {
        check_policy_ref(pol).map_err(|e| at("spec.policy".into(), &e))?;
    }
    for (i, m) in spec.match_.iter().enumerate() {
        let q = format!("spec.match[{i}]");
        if let Some(r) = &m.resource
            && !RESOURCES.contains(&r.as_str())
        {
            return Err(at(
                format!("{q}.resource"),
                &format!(
                    "unsupported resource {r:?} (one of {})",
                    RESOURCES.join(", ")
                ),
            ));
        }
        if m.selector.is_some() && m.resource.is_none() && m.version.is_none() && m.group.is_none()
        {
            return Err(at(
                format!("{q}.selector"),
                "a selector needs a resource type to match the labels of",
            ));
        }
    }
    let warn = match spec.mode.as_deref() {
        None | Some("") | Some("enforce") => false,
        Some("warn") => true,
        Some(_) => return Err(at("spec.mode".into(), "must be enforce or warn")),
    };
    Ok(Policy { doc, globs, warn })
}

/// The resources a `match[]` may name: those that carry a pod template.
pub const RESOURCES: [&str; 7] = [
    "pods",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "jobs",
    "cronjobs",
];

/// Where a `key.data` says the key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyData {
    /// A PEM public key, inline.
    Pem(String),
    /// `env://VAR`: the PEM in an environment variable (resolved by the caller).
    Env(String),
    /// A file path (Sigil's tester; resolved by the caller).
    File(String),
}

/// Reads a `key.data` value: inline PEM (which must be a public key), `env://VAR`, or a path.
pub fn key_data(d: &str) -> Result<KeyData, String> {
    let t = d.trim();
    if let Some(var) = t.strip_prefix("env://") {
        if var.is_empty() {
            return Err("env:// names no variable".into());
        }
        return Ok(KeyData::Env(var.to_owned()));
    }
    if t.starts_with("-----BEGIN") {
        sigil_crypto::PublicKey::from_pem(t.as_bytes())
            .map_err(|e| format!("not a PEM public key: {e}"))?;
        return Ok(KeyData::Pem(t.to_owned()));
    }
    if t.contains('\n') || t.is_empty() || t.starts_with('-') {
        return Err(format!(
            "{:?} is neither a PEM public key, env://VAR nor a file",
            t.lines().next().unwrap_or("")
        ));
    }
    Ok(KeyData::File(t.to_owned()))
}

fn check_authorities(
    authorities: &[Authority],
    at: &dyn Fn(String, &str) -> String,
) -> Result<(), String> {
    for (i, a) in authorities.iter().enumerate() {
        let p = |f: &str| format!("spec.authorities[{i}]{f}");
        let kinds = [a.key.is_some(), a.keyless.is_some(), a.static_.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(at(
                p(""),
                "exactly one of key, keyless or static is required",
            ));
        }
        if a.source.len() > 1 {
            return Err(at(p(".source"), "at most one source"));
        }
        if let Some(s) = &a.static_ {
            if !matches!(s.action.as_str(), "pass" | "fail") {
                return Err(at(p(".static.action"), "must be pass or fail"));
            }
            if !a.attestations.is_empty()
                || !a.source.is_empty()
                || a.ctlog.is_some()
                || a.rfc3161timestamp.is_some()
            {
                return Err(at(
                    p(".static"),
                    "a static authority takes no attestations, source, ctlog or rfc3161timestamp",
                ));
            }
        }
        if let Some(k) = &a.key {
            let n = [k.data.is_some(), k.kms.is_some(), k.secret_ref.is_some()];
            if n.iter().filter(|k| **k).count() != 1 {
                return Err(at(
                    p(".key"),
                    "exactly one of data, kms or secretRef is required",
                ));
            }
            if let Some(d) = &k.data {
                key_data(d).map_err(|e| at(p(".key.data"), &e))?;
            }
            if let Some(h) = &k.hash_algorithm
                && !matches!(h.as_str(), "sha224" | "sha256" | "sha384" | "sha512")
            {
                return Err(at(
                    p(".key.hashAlgorithm"),
                    "must be sha224, sha256, sha384 or sha512",
                ));
            }
        }
        if let Some(k) = &a.keyless {
            if k.identities.is_empty() {
                return Err(at(
                    p(".keyless.identities"),
                    "at least one identity is required",
                ));
            }
            if k.url.is_some() && k.ca_cert.is_some() {
                return Err(at(p(".keyless"), "url and ca-cert are exclusive"));
            }
            for (j, id) in k.identities.iter().enumerate() {
                check_identity(p(&format!(".keyless.identities[{j}]")), id, at)?;
            }
        }
        if let Some(f) = &a.signature_format
            && !matches!(f.as_str(), "legacy" | "bundle")
        {
            return Err(at(p(".signatureFormat"), "must be legacy or bundle"));
        }
        for (j, att) in a.attestations.iter().enumerate() {
            let q = p(&format!(".attestations[{j}]"));
            if att.name.is_empty() || att.predicate_type.is_empty() {
                return Err(at(q, "name and predicateType are required"));
            }
            if let Some(pol) = &att.policy {
                check_policy_ref(pol).map_err(|e| at(format!("{q}.policy"), &e))?;
            }
        }
    }
    Ok(())
}

fn check_policy_ref(p: &PolicyRef) -> Result<(), String> {
    if !matches!(p.type_.as_str(), "cue" | "rego") {
        return Err(format!("type {:?} is neither cue nor rego", p.type_));
    }
    let n = [
        p.data.is_some(),
        p.remote.is_some(),
        p.config_map_ref.is_some(),
    ];
    if n.iter().filter(|k| **k).count() != 1 {
        return Err("exactly one of data, remote or configMapRef is required".into());
    }
    // Inline policies are checked now, so that one that cannot run never loads.
    match (p.type_.as_str(), &p.data) {
        ("cue", Some(d)) => {
            crate::cue::Policy::parse(d).map_err(|e| e.to_string())?;
        }
        ("rego", Some(d)) => {
            crate::rego::compile_check(d).map_err(|e| e.to_string())?;
        }
        _ => {}
    }
    Ok(())
}

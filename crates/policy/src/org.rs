//! Organisation rules: Sigil's `OrgPolicy` document (`sigil.dev/v1alpha1`), rules that hold for
//! every image, on top of the ClusterImagePolicies:
//!
//! ```yaml
//! apiVersion: sigil.dev/v1alpha1
//! kind: OrgPolicy
//! metadata: {name: acme}
//! spec:
//!   allowedRegistries: [registry.acme.example, ghcr.io/acme]  # repository prefixes, by path segment
//!   allowedNamespaces: [prod, staging]    # when the resource's namespace is known
//!   denyMutableReferences: true           # an image must be pinned by digest
//!   denyDigests: ["sha256:…"]             # blocked everywhere (a compromised build)
//!   denyIdentities:                       # signatures by these never count, in any policy
//!   - {issuer: https://token.example, subjectRegExp: "^https://ci.example/leaked/"}
//!   authorities:                          # ClusterImagePolicy authorities (key, static, ...)
//!   - {name: alice, key: {data: alice.pub}}
//!   - {name: bob, key: {data: bob.pub}}
//!   - {name: carol, key: {data: carol.pub}}
//!   requireSignatures: 2                  # k-of-n: at least 2 of the authorities must pass
//!   requireAttestations: [slsaprovenance, spdxjson]  # each verified by every authority counted
//! ```
//!
//! Every field is optional; unknown fields are refused. An image must satisfy every OrgPolicy;
//! a rule that cannot be decided (a tag that cannot be resolved to check the deny list) denies.

use serde::Deserialize;

use crate::cip::{Attestation, Authority, Identity, Metadata};

/// The API version read.
pub const API_VERSION: &str = "sigil.dev/v1alpha1";

/// An OrgPolicy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgPolicy {
    /// `sigil.dev/v1alpha1`.
    pub api_version: String,
    /// `OrgPolicy`.
    pub kind: String,
    /// Its name.
    pub metadata: Metadata,
    /// The rules.
    pub spec: OrgSpec,
}

/// The rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgSpec {
    /// Repository prefixes images must come from (`registry.example`, `ghcr.io/org`), matched
    /// on the normalised name at path-segment boundaries. Empty: any.
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// Namespaces images may run in (checked when the resource's namespace is known).
    #[serde(default)]
    pub allowed_namespaces: Vec<String>,
    /// Refuse images not pinned by digest.
    #[serde(default)]
    pub deny_mutable_references: bool,
    /// Digests refused everywhere.
    #[serde(default)]
    pub deny_digests: Vec<String>,
    /// Certificate identities whose signatures never count, in any policy's authority (a
    /// compromised CI identity): `issuer`/`subject` exactly or by `…RegExp`.
    #[serde(default)]
    pub deny_identities: Vec<Identity>,
    /// The authorities `requireSignatures` counts.
    #[serde(default)]
    pub authorities: Vec<Authority>,
    /// At least this many of `authorities` must pass (k-of-n). Default: 1 when authorities are
    /// given, else none.
    #[serde(default)]
    pub require_signatures: Option<usize>,
    /// Attestations (cosign shortcuts or URIs) every counted authority must also have verified.
    #[serde(default)]
    pub require_attestations: Vec<String>,
}

impl OrgPolicy {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The authorities as checked: with the required attestations added to each.
    pub fn effective_authorities(&self) -> Vec<Authority> {
        self.spec
            .authorities
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut a = a.clone();
                if a.name.is_empty() {
                    a.name = format!("authority-{i}");
                }
                for t in &self.spec.require_attestations {
                    a.attestations.push(Attestation {
                        name: t.clone(),
                        predicate_type: t.clone(),
                        policy: None,
                    });
                }
                a
            })
            .collect()
    }

    /// How many authorities must pass.
    pub fn required(&self) -> usize {
        self.spec
            .require_signatures
            .unwrap_or(usize::from(!self.spec.authorities.is_empty()))
    }
}

pub(crate) fn load(v: serde_json::Value) -> Result<OrgPolicy, String> {
    let api = v.get("apiVersion").and_then(|a| a.as_str()).unwrap_or("");
    if api != API_VERSION {
        return Err(format!(
            "apiVersion {api:?} is not an OrgPolicy's ({API_VERSION})"
        ));
    }
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or("(unnamed)")
        .to_owned();
    let doc: OrgPolicy =
        serde_path_to_error::deserialize(v).map_err(|e| match e.path().to_string().as_str() {
            "." => format!("OrgPolicy {name}: {}", e.inner()),
            p => format!("OrgPolicy {name}: {p}: {}", e.inner()),
        })?;
    let at = |path: &str, what: &str| format!("OrgPolicy {name}: {path}: {what}");
    let s = &doc.spec;
    crate::cip::validate_authorities(&format!("OrgPolicy {name}"), &s.authorities)?;
    if let Some(n) = s.require_signatures {
        if n == 0 || n > s.authorities.len() {
            return Err(at(
                "spec.requireSignatures",
                &format!(
                    "must be between 1 and the {} authorities",
                    s.authorities.len()
                ),
            ));
        }
    }
    if !s.require_attestations.is_empty() && s.authorities.is_empty() {
        return Err(at(
            "spec.requireAttestations",
            "needs authorities to verify them with",
        ));
    }
    for (i, t) in s.require_attestations.iter().enumerate() {
        if sigil_formats::dsse::predicate_type(t).is_none() {
            return Err(at(
                &format!("spec.requireAttestations[{i}]"),
                &format!("{t:?} is neither a cosign predicate shortcut nor a URI"),
            ));
        }
    }
    let at_path = |path: String, what: &str| at(&path, what);
    for (i, id) in s.deny_identities.iter().enumerate() {
        crate::cip::check_identity(format!("spec.denyIdentities[{i}]"), id, &at_path)?;
    }
    for (i, d) in s.deny_digests.iter().enumerate() {
        if !sigil_formats::reference::is_sha256_digest(d) {
            return Err(at(
                &format!("spec.denyDigests[{i}]"),
                "must be sha256:<64 lower-case hex>",
            ));
        }
    }
    for (i, r) in s.allowed_registries.iter().enumerate() {
        if r.is_empty() || r.contains(['*', '@']) || r.contains("://") {
            return Err(at(
                &format!("spec.allowedRegistries[{i}]"),
                "a registry host or repository prefix, without wildcards",
            ));
        }
    }
    Ok(doc)
}

/// Whether `name` (a normalised repository, `host/path`) starts with `prefix` at a path
/// boundary (`ghcr.io/acme` allows `ghcr.io/acme/app`, not `ghcr.io/acme-evil/app`).
pub fn under_prefix(name: &str, prefix: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    name == p
        || name
            .strip_prefix(p)
            .is_some_and(|rest| rest.starts_with('/'))
}

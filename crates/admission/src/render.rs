//! For platforms that run Kyverno, or only the API server: the same intent rendered as their
//! documents, from a values block shaped like a Helm chart's:
//!
//! ```yaml
//! admission:
//!   enforceSignature: true          # false: nothing that denies (audit / warn only)
//!   signature:
//!     publicKey: |                  # inline PEM (air-gapped clusters), or
//!       -----BEGIN PUBLIC KEY-----
//!     publicKeyURL: https://…       # where Kyverno fetches it
//!   rekorURL: https://rekor.sigstore.dev
//!   ignoreTlog: false
//!   additionalImageReferences: ["registry.example/*"]
//! ```
//!
//! - `kyverno`: a Kyverno `ClusterPolicy` with a `verifyImages` rule (Kyverno ≥ 1.11): the key
//!   attestor, Rekor settings, `mutateDigest` and `verifyDigest`; or ([`kyverno_ivp`]) the
//!   `policies.kyverno.io/v1` `ImageValidatingPolicy` Kyverno ≥ 1.17 prefers: a cosign key
//!   attestor, its `ctlog`, `matchImageReferences` globs, `validationConfigurations` and a CEL
//!   validation calling `verifyImageSignatures` for every container image.
//! - `vap`: a Kubernetes 1.30+ `ValidatingAdmissionPolicy` and its binding that deny any image
//!   (every kind and container list) not pinned by `@sha256:` digest. It cannot verify
//!   signatures; it closes the tag-swap and rollback gap.

use serde::Deserialize;
use serde_json::{Value, json};

/// The values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    /// The `admission` block.
    #[serde(default)]
    pub admission: AdmissionValues,
}

/// `admission`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdmissionValues {
    /// Deny (true) or only audit and warn (false).
    #[serde(default = "yes")]
    pub enforce_signature: bool,
    /// The signing key.
    #[serde(default)]
    pub signature: Signature,
    /// The transparency log.
    #[serde(default, rename = "rekorURL")]
    pub rekor_url: Option<String>,
    /// Do not require a log entry.
    #[serde(default)]
    pub ignore_tlog: bool,
    /// Images the rule covers (default: all).
    #[serde(default)]
    pub additional_image_references: Vec<String>,
    /// Accepted and ignored (Helm charts carry it).
    #[serde(default)]
    pub mode: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for AdmissionValues {
    fn default() -> Self {
        Self {
            enforce_signature: true,
            signature: Signature::default(),
            rekor_url: None,
            ignore_tlog: false,
            additional_image_references: Vec::new(),
            mode: None,
        }
    }
}

/// `admission.signature`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Signature {
    /// Inline PEM.
    #[serde(default)]
    pub public_key: Option<String>,
    /// A URL of the PEM.
    #[serde(default, rename = "publicKeyURL")]
    pub public_key_url: Option<String>,
}

/// Why the values cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Neither key form given, or both.
    #[error("admission.signature needs exactly one of publicKey and publicKeyURL")]
    Key,
    /// An inline key that is not a PEM public key.
    #[error("admission.signature.publicKey: {0}")]
    BadKey(String),
    /// The ImageValidatingPolicy form takes the key inline only.
    #[error(
        "admission.signature.publicKeyURL: Kyverno's ImageValidatingPolicy takes the key inline (publicKey); render the ClusterPolicy form for a key URL"
    )]
    KeyUrlInIvp,
}

const KINDS: &str = r#"[
  {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods", "pods/ephemeralcontainers"]},
  {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"]},
  {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["jobs", "cronjobs"]}
]"#;

/// The pod spec of any kind, and every image in it, as CEL.
pub const CEL_SPEC: &str = "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
/// Every image of the pod spec (`variables.spec`), as CEL.
pub const CEL_IMAGES: &str = "(has(variables.spec.containers) ? variables.spec.containers.map(c, c.image) : []) + (has(variables.spec.initContainers) ? variables.spec.initContainers.map(c, c.image) : []) + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers.map(c, c.image) : []) + (has(variables.spec.volumes) ? variables.spec.volumes.filter(v, has(v.image)).map(v, v.image.reference) : [])";
/// The rule: every image pinned by digest.
pub const CEL_PINNED: &str = "variables.images.all(i, i.matches('@sha256:[a-f0-9]{64}$'))";

/// The ValidatingAdmissionPolicy and its binding.
pub fn vap(v: &AdmissionValues) -> Vec<Value> {
    let rules: Value = serde_json::from_str(KINDS).unwrap_or(Value::Null);
    let actions = if v.enforce_signature {
        json!(["Deny"])
    } else {
        json!(["Warn", "Audit"])
    };
    vec![
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "sigil-require-digests"},
            "spec": {"failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": rules},
                "variables": [{"name": "spec", "expression": CEL_SPEC}, {"name": "images", "expression": CEL_IMAGES}],
                "validations": [{"expression": CEL_PINNED,
                    "message": "every image must be pinned by digest (repo@sha256:…)", "reason": "Forbidden"}]}}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "sigil-require-digests"},
            "spec": {"policyName": "sigil-require-digests", "validationActions": actions}}),
    ]
}

/// The key as Kyverno takes it: an inline PEM (checked), or the URL.
fn key_of(v: &AdmissionValues) -> Result<(String, bool), RenderError> {
    match (&v.signature.public_key, &v.signature.public_key_url) {
        (Some(pem), None) => {
            if !pem.trim_start().starts_with("-----BEGIN PUBLIC KEY-----") {
                return Err(RenderError::BadKey("not a PEM public key".into()));
            }
            sigil_crypto::PublicKey::from_pem(pem.as_bytes())
                .map_err(|e| RenderError::BadKey(e.to_string()))?;
            Ok((pem.trim().to_owned() + "\n", true))
        }
        (None, Some(url)) => Ok((url.clone(), false)),
        _ => Err(RenderError::Key),
    }
}

fn image_references(v: &AdmissionValues) -> Vec<String> {
    if v.additional_image_references.is_empty() {
        vec!["*".to_owned()]
    } else {
        v.additional_image_references.clone()
    }
}

/// The CEL validation of the ImageValidatingPolicy: every container image (Kyverno's
/// `images` variable, init and ephemeral containers included) has a signature by the attestor.
pub const CEL_IVP_SIGNED: &str = "((has(images.containers) ? images.containers : []) + (has(images.initContainers) ? images.initContainers : []) + (has(images.ephemeralContainers) ? images.ephemeralContainers : [])).map(image, verifyImageSignatures(image, [attestors.sigil])).all(e, e > 0)";

/// Kyverno's `ImageValidatingPolicy` (`policies.kyverno.io/v1`, Kyverno ≥ 1.17), for pods
/// (Kyverno generates the pod controllers' rules itself).
pub fn kyverno_ivp(v: &AdmissionValues) -> Result<Vec<Value>, RenderError> {
    let (key, inline) = key_of(v)?;
    if !inline {
        return Err(RenderError::KeyUrlInIvp);
    }
    let mut ctlog = json!({"insecureIgnoreTlog": v.ignore_tlog});
    if let Some(u) = &v.rekor_url {
        ctlog["url"] = json!(u);
    }
    let refs: Vec<Value> = image_references(v)
        .into_iter()
        .map(|g| json!({"glob": g}))
        .collect();
    Ok(vec![json!({
        "apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy",
        "metadata": {"name": "sigil-verify-images"},
        "spec": {
            "validationActions": if v.enforce_signature { json!(["Deny"]) } else { json!(["Audit", "Warn"]) },
            "failurePolicy": if v.enforce_signature { "Fail" } else { "Ignore" },
            "webhookConfiguration": {"timeoutSeconds": 30},
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]},
            "matchImageReferences": refs,
            "attestors": [{"name": "sigil", "cosign": {"key": {"data": key}, "ctlog": ctlog}}],
            "validationConfigurations": {"mutateDigest": true, "verifyDigest": true, "required": v.enforce_signature},
            "validations": [{"expression": CEL_IVP_SIGNED,
                "message": "every image must be signed with the platform's key"}],
        }
    })])
}

/// The Kyverno ClusterPolicy.
pub fn kyverno(v: &AdmissionValues) -> Result<Vec<Value>, RenderError> {
    let (key, _) = key_of(v)?;
    let refs = image_references(v);
    let mut rekor = json!({"ignoreTlog": v.ignore_tlog});
    if let Some(u) = &v.rekor_url {
        rekor["url"] = json!(u);
    }
    Ok(vec![
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "sigil-verify-images"},
        "spec": {"validationFailureAction": if v.enforce_signature { "Enforce" } else { "Audit" },
            "webhookTimeoutSeconds": 30, "background": false,
            "rules": [{"name": "verify-signature",
                "match": {"any": [{"resources": {"kinds": ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]}}]},
                "verifyImages": [{"imageReferences": refs, "mutateDigest": true, "verifyDigest": true, "required": v.enforce_signature,
                    "attestors": [{"entries": [{"keys": {"publicKeys": key, "rekor": rekor}}]}]}]}]}}),
    ])
}

//! The Kubernetes objects that run the webhook: a Deployment of `sigil admission serve`, its
//! Service, the TLS Secret, and the validating and mutating webhook configurations
//! (failurePolicy Fail by default, sideEffects None, timeoutSeconds at most 30, the mutating one
//! with `reinvocationPolicy: IfNeeded`, namespaces opting in by a label).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// What to render.
#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace the webhook runs in.
    pub namespace: String,
    /// The container image of Sigil.
    pub image: String,
    /// The label (key, value) namespaces opt in with.
    pub namespace_label: (String, String),
    /// The webhooks' timeoutSeconds (1–30).
    pub timeout_seconds: u8,
    /// `Fail` or `Ignore`.
    pub failure_policy: String,
    /// The CA that signed the serving certificate (PEM), for `caBundle`.
    pub ca_bundle: Option<Vec<u8>>,
    /// The serving certificate and key (PEM), for the Secret.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namespace: "sigil-system".into(),
            image: "ghcr.io/sigil/sigil:latest".into(),
            namespace_label: ("policy.sigstore.dev/include".into(), "true".into()),
            timeout_seconds: 25,
            failure_policy: "Fail".into(),
            ca_bundle: None,
            tls: None,
        }
    }
}

/// Why the options cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// timeoutSeconds outside 1–30 (the API server refuses it).
    #[error("the webhook timeout must be 1 to 30 seconds, not {0}")]
    Timeout(u8),
    /// A failure policy other than Fail or Ignore.
    #[error("the failure policy must be Fail or Ignore, not {0:?}")]
    FailurePolicy(String),
}

const NAME: &str = "sigil-admission";

fn webhook(o: &Options, name: &str, path: &str, mutating: bool) -> Value {
    let mut client =
        json!({"service": {"name": NAME, "namespace": o.namespace, "path": path, "port": 443}});
    if let Some(ca) = &o.ca_bundle {
        client["caBundle"] = json!(STANDARD.encode(ca));
    }
    let mut w = json!({
        "name": name,
        "clientConfig": client,
        "rules": [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods", "pods/ephemeralcontainers"], "scope": "Namespaced"},
            {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "scope": "Namespaced"},
            {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["jobs", "cronjobs"], "scope": "Namespaced"},
        ],
        "failurePolicy": o.failure_policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": o.timeout_seconds,
        "namespaceSelector": {"matchLabels": {o.namespace_label.0.clone(): o.namespace_label.1.clone()}},
    });
    if mutating {
        w["reinvocationPolicy"] = json!("IfNeeded");
    }
    w
}

/// The objects, in apply order.
pub fn render(o: &Options) -> Result<Vec<Value>, ManifestError> {
    if !(1..=30).contains(&o.timeout_seconds) {
        return Err(ManifestError::Timeout(o.timeout_seconds));
    }
    if !matches!(o.failure_policy.as_str(), "Fail" | "Ignore") {
        return Err(ManifestError::FailurePolicy(o.failure_policy.clone()));
    }
    // Answer before the API server gives up.
    let deadline = o.timeout_seconds.saturating_sub(2).clamp(1, 8);
    let labels = json!({"app.kubernetes.io/name": NAME});
    let mut out =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": o.namespace}})];
    if let Some((cert, key)) = &o.tls {
        out.push(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": format!("{NAME}-tls"), "namespace": o.namespace},
            "data": {"tls.crt": STANDARD.encode(cert), "tls.key": STANDARD.encode(key)}}),
        );
    }
    out.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{NAME}-policies"), "namespace": o.namespace},
        "data": {}}));
    out.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": o.namespace, "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "sigil", "image": o.image,
                    "args": ["admission", "serve", "--listen", "0.0.0.0:8443",
                             "--policy", "/etc/sigil/policies",
                             "--tls-cert", "/etc/sigil/tls/tls.crt", "--tls-key", "/etc/sigil/tls/tls.key",
                             "--deadline", format!("{deadline}s"), "--audit-log", "-"],
                    "ports": [{"containerPort": 8443, "name": "https"}],
                    "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8443, "scheme": "HTTPS"}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8443, "scheme": "HTTPS"}},
                    "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                                        "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "tls", "mountPath": "/etc/sigil/tls", "readOnly": true},
                                     {"name": "policies", "mountPath": "/etc/sigil/policies", "readOnly": true}]}],
                "volumes": [{"name": "tls", "secret": {"secretName": format!("{NAME}-tls")}},
                            {"name": "policies", "configMap": {"name": format!("{NAME}-policies")}}]}}}}));
    out.push(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": o.namespace},
        "spec": {"selector": labels, "ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}));
    out.push(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": NAME},
        "webhooks": [webhook(o, "validate.sigil.dev", "/validate", false)]}));
    out.push(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": NAME},
        "webhooks": [webhook(o, "mutate.sigil.dev", "/mutate", true)]}));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhooks_fail_closed_within_the_api_servers_limits() {
        let objs = render(&Options::default()).unwrap();
        let v = objs
            .iter()
            .find(|o| o["kind"] == "ValidatingWebhookConfiguration")
            .unwrap();
        let w = &v["webhooks"][0];
        assert_eq!(
            (w["failurePolicy"].as_str(), w["sideEffects"].as_str()),
            (Some("Fail"), Some("None"))
        );
        assert!(w["timeoutSeconds"].as_u64().unwrap() <= 30);
        assert_eq!(
            w["namespaceSelector"]["matchLabels"]["policy.sigstore.dev/include"],
            "true"
        );
        let m = objs
            .iter()
            .find(|o| o["kind"] == "MutatingWebhookConfiguration")
            .unwrap();
        assert_eq!(m["webhooks"][0]["reinvocationPolicy"], "IfNeeded");
        assert_eq!(
            render(&Options {
                timeout_seconds: 31,
                ..Default::default()
            })
            .unwrap_err(),
            ManifestError::Timeout(31)
        );
        assert!(
            render(&Options {
                failure_policy: "Maybe".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}

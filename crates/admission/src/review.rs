//! AdmissionReview v1: the request as the API server sends it, the images its object carries
//! (with the JSON pointer of each, for patches), and the response.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// Largest AdmissionReview accepted (the API server's own limit on objects is 3 MiB).
pub const MAX_REVIEW: usize = 4 * 1024 * 1024;

/// Why a request is not an AdmissionReview this webhook answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// Not `admission.k8s.io/v1` `AdmissionReview`.
    #[error("not an admission.k8s.io/v1 AdmissionReview (apiVersion {api:?}, kind {kind:?})")]
    NotAReview {
        /// The apiVersion found.
        api: String,
        /// The kind found.
        kind: String,
    },
    /// A field the request must carry.
    #[error("the AdmissionReview has no {0}")]
    Missing(&'static str),
    /// An image field that is not a string.
    #[error("{0} is not a string")]
    ImageNotString(String),
}

/// The request.
#[derive(Debug, Clone)]
pub struct Review {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.kind.kind` (`Pod`, `Deployment`, ...).
    pub kind: String,
    /// `request.resource` group, version, resource.
    pub resource: (String, String, String),
    /// `request.subResource` (`ephemeralcontainers`).
    pub sub_resource: Option<String>,
    /// `request.namespace`.
    pub namespace: Option<String>,
    /// `request.name`.
    pub name: Option<String>,
    /// `request.operation`.
    pub operation: String,
    /// `request.userInfo.username`.
    pub user: Option<String>,
    /// `request.dryRun`.
    pub dry_run: bool,
    /// `request.object`.
    pub object: Value,
}

impl Review {
    /// Parses an AdmissionReview.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReviewError> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| ReviewError::NotJson(e.to_string()))?;
        let api = v["apiVersion"].as_str().unwrap_or_default();
        let kind = v["kind"].as_str().unwrap_or_default();
        if api != "admission.k8s.io/v1" || kind != "AdmissionReview" {
            return Err(ReviewError::NotAReview {
                api: api.to_owned(),
                kind: kind.to_owned(),
            });
        }
        let r = v
            .get("request")
            .filter(|r| r.is_object())
            .ok_or(ReviewError::Missing("request"))?;
        let s = |x: &Value| x.as_str().map(str::to_owned);
        Ok(Self {
            uid: s(&r["uid"])
                .filter(|u| !u.is_empty())
                .ok_or(ReviewError::Missing("request.uid"))?,
            kind: s(&r["kind"]["kind"]).unwrap_or_default(),
            resource: (
                s(&r["resource"]["group"]).unwrap_or_default(),
                s(&r["resource"]["version"]).unwrap_or_default(),
                s(&r["resource"]["resource"]).unwrap_or_default(),
            ),
            sub_resource: s(&r["subResource"]).filter(|x| !x.is_empty()),
            namespace: s(&r["namespace"]).filter(|x| !x.is_empty()),
            name: s(&r["name"]).filter(|x| !x.is_empty()),
            operation: s(&r["operation"]).unwrap_or_default(),
            user: s(&r["userInfo"]["username"]),
            dry_run: r["dryRun"].as_bool().unwrap_or(false),
            object: r.get("object").cloned().unwrap_or(Value::Null),
        })
    }

    /// The resource for policies' `match[]`: group, version, resource, labels, namespace.
    pub fn resource(&self) -> sigil_policy::eval::Resource {
        let labels: BTreeMap<String, String> = self.object["metadata"]["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        sigil_policy::eval::Resource {
            group: self.resource.0.clone(),
            version: self.resource.1.clone(),
            resource: self.resource.2.clone(),
            labels,
            namespace: self.namespace.clone(),
        }
    }

    /// Where the pod spec is in the object, by kind: `/spec` (Pod, and the
    /// `pods/ephemeralcontainers` subresource), `/spec/template/spec` (Deployment, StatefulSet,
    /// DaemonSet, ReplicaSet, Job), `/spec/jobTemplate/spec/template/spec` (CronJob); `None`
    /// for kinds without one.
    pub fn pod_spec_pointer(&self) -> Option<&'static str> {
        match self.kind.as_str() {
            "Pod" => Some("/spec"),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                Some("/spec/template/spec")
            }
            "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
            _ => None,
        }
    }

    /// Every image the object carries: containers, init containers, ephemeral containers and
    /// image volumes, each with its JSON pointer.
    pub fn images(&self) -> Result<Vec<ImageAt>, ReviewError> {
        let Some(base) = self.pod_spec_pointer() else {
            return Ok(Vec::new());
        };
        let Some(spec) = self.object.pointer(base) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
                let pointer = format!("{base}/{list}/{i}/image");
                match c.get("image") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => out.push(ImageAt {
                        image: s.clone(),
                        pointer,
                    }),
                    Some(_) => return Err(ReviewError::ImageNotString(pointer)),
                }
            }
        }
        for (i, v) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
            let pointer = format!("{base}/volumes/{i}/image/reference");
            match v.pointer("/image/reference") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => out.push(ImageAt {
                    image: s.clone(),
                    pointer,
                }),
                Some(_) => return Err(ReviewError::ImageNotString(pointer)),
            }
        }
        Ok(out)
    }
}

/// One image and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageAt {
    /// The reference as written.
    pub image: String,
    /// Its JSON pointer in the object.
    pub pointer: String,
}

/// The AdmissionReview response for `uid`.
pub fn response(
    uid: &str,
    allowed: bool,
    message: Option<&str>,
    warnings: &[String],
    patch: Option<&[Value]>,
) -> Value {
    let mut r = json!({"uid": uid, "allowed": allowed});
    if let Some(m) = message {
        r["status"] = json!({"code": if allowed { 200 } else { 403 }, "message": m,
                             "reason": if allowed { "" } else { "Forbidden" }});
    }
    if !warnings.is_empty() {
        // The API server shows warnings to the user; each is kept short.
        r["warnings"] = json!(warnings.iter().map(|w| shorten(w, 120)).collect::<Vec<_>>());
    }
    if let Some(p) = patch.filter(|p| !p.is_empty()) {
        r["patchType"] = json!("JSONPatch");
        r["patch"] = json!(STANDARD.encode(Value::from(p.to_vec()).to_string()));
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": r})
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(kind: &str, resource: &str, object: Value) -> Vec<u8> {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": resource},
            "namespace": "prod", "operation": "CREATE", "userInfo": {"username": "alice"},
            "object": object, "dryRun": false}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn images_are_found_in_every_kind_and_list() {
        let pod = json!({"metadata": {"labels": {"app": "x"}}, "spec": {
            "initContainers": [{"name": "i", "image": "init:1"}],
            "containers": [{"name": "a", "image": "app:1"}, {"name": "b", "image": "side:2"}],
            "ephemeralContainers": [{"name": "e", "image": "debug:3"}],
            "volumes": [{"name": "v", "image": {"reference": "data:4"}}, {"name": "w", "emptyDir": {}}]}});
        let r = Review::parse(&review("Pod", "pods", pod.clone())).unwrap();
        let imgs: Vec<(String, String)> = r
            .images()
            .unwrap()
            .into_iter()
            .map(|i| (i.image, i.pointer))
            .collect();
        assert_eq!(
            imgs,
            [
                ("app:1", "/spec/containers/0/image"),
                ("side:2", "/spec/containers/1/image"),
                ("init:1", "/spec/initContainers/0/image"),
                ("debug:3", "/spec/ephemeralContainers/0/image"),
                ("data:4", "/spec/volumes/0/image/reference"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(r.resource().labels["app"], "x");
        assert_eq!(r.namespace.as_deref(), Some("prod"));
        for (kind, base, object) in [
            (
                "Deployment",
                "/spec/template/spec",
                json!({"spec": {"template": {"spec": pod["spec"]}}}),
            ),
            (
                "Job",
                "/spec/template/spec",
                json!({"spec": {"template": {"spec": pod["spec"]}}}),
            ),
            (
                "CronJob",
                "/spec/jobTemplate/spec/template/spec",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": pod["spec"]}}}}}),
            ),
        ] {
            let r = Review::parse(&review(kind, "x", object)).unwrap();
            let imgs = r.images().unwrap();
            assert_eq!(imgs.len(), 5, "{kind}");
            assert_eq!(imgs[0].pointer, format!("{base}/containers/0/image"));
        }
        let cm = Review::parse(&review("ConfigMap", "configmaps", json!({"data": {}}))).unwrap();
        assert_eq!(cm.images().unwrap(), []);
    }

    #[test]
    fn malformed_reviews_are_refused_specifically() {
        assert!(matches!(Review::parse(b"{"), Err(ReviewError::NotJson(_))));
        assert!(matches!(
            Review::parse(br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#),
            Err(ReviewError::NotAReview { .. })
        ));
        assert_eq!(
            Review::parse(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#)
                .unwrap_err(),
            ReviewError::Missing("request")
        );
        assert_eq!(
            Review::parse(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}"#).unwrap_err(),
            ReviewError::Missing("request.uid")
        );
        let bad = Review::parse(&review(
            "Pod",
            "pods",
            json!({"spec": {"containers": [{"image": 7}]}}),
        ))
        .unwrap();
        assert_eq!(
            bad.images().unwrap_err(),
            ReviewError::ImageNotString("/spec/containers/0/image".into())
        );
    }

    #[test]
    fn responses_echo_the_uid_and_carry_the_patch() {
        let r = response(
            "u-1",
            false,
            Some("denied: no signatures"),
            &["w".repeat(200)],
            None,
        );
        assert_eq!(r["response"]["uid"], "u-1");
        assert_eq!(r["response"]["allowed"], false);
        assert_eq!(r["response"]["status"]["code"], 403);
        assert_eq!(
            r["response"]["warnings"][0]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            120
        );
        let patch = [
            json!({"op": "replace", "path": "/spec/containers/0/image", "value": "a:1@sha256:00"}),
        ];
        let r = response("u-2", true, None, &[], Some(&patch));
        assert_eq!(r["response"]["patchType"], "JSONPatch");
        let decoded = STANDARD
            .decode(r["response"]["patch"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&decoded).unwrap()[0]["op"],
            "replace"
        );
    }
}

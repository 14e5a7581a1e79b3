//! Registry notifications as a signing-on-push service receives them: the CNCF distribution
//! registry's envelope (`application/vnd.docker.distribution.events.v1+json`, 2.8, and
//! `…events.v2+json`, 3.x: `{"events":[{"id","action","target":{"mediaType","digest",
//! "repository","tag",…},…}]}`) and Harbor's webhook (`{"type":"PUSH_ARTIFACT","event_data":
//! {"resources":[{"digest","tag"}],"repository":{"repo_full_name"}}}`).
//!
//! Only pushes of manifests and indexes come out ([`Push`]); pulls, mounts, deletes and blob
//! pushes are dropped. A push names a digest (`sha256:` and 64 hex digits, checked) and a
//! repository (checked as an OCI repository name); its tag is kept for information only: a
//! signer signs the digest, never what a tag points to later. Pushes under cosign's
//! attachment tags (`sha256-<hex>.sig`, `.att`, `.sbom`) are dropped too: they are signatures of
//! other manifests, and signing them would feed on its own output.

use serde_json::Value;

use crate::oci::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::reference::{is_repository_path, is_sha256_digest};

/// The largest notification body read.
pub const MAX_BODY: usize = 1024 * 1024;
/// The most events one notification may carry.
pub const MAX_EVENTS: usize = 1024;

/// The distribution 2.8 envelope's media type.
pub const EVENTS_V1: &str = "application/vnd.docker.distribution.events.v1+json";
/// The distribution 3.x envelope's media type.
pub const EVENTS_V2: &str = "application/vnd.docker.distribution.events.v2+json";

/// A manifest or index pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The repository (`team/app`), without the registry host.
    pub repository: String,
    /// What was pushed: `sha256:…`.
    pub digest: String,
    /// Its media type (empty when the sender names none: Harbor).
    pub media_type: String,
    /// The tag it was pushed under, if any (information only).
    pub tag: Option<String>,
    /// The sender's event ID (distribution), or the digest (Harbor), for deduplication.
    pub event_id: String,
}

/// Why a notification could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// Over [`MAX_BODY`] or [`MAX_EVENTS`].
    #[error("the notification is over the limit: {0}")]
    TooLarge(String),
    /// Not JSON, or not one of the envelopes.
    #[error("not a registry notification: {0}")]
    Malformed(String),
    /// A push whose digest or repository is not one.
    #[error("event {index}: {what}")]
    BadEvent {
        /// Which event (from 0).
        index: usize,
        /// What is wrong.
        what: String,
    },
}

/// Whether `media_type` is a manifest or an index (what gets signed).
pub fn is_manifest(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_MANIFEST_LIST
    )
}

fn text(v: &Value, field: &str) -> Option<String> {
    v[field].as_str().map(str::to_owned)
}

fn checked(
    index: usize,
    repository: String,
    digest: String,
) -> Result<(String, String), EventsError> {
    if !is_sha256_digest(&digest) {
        return Err(EventsError::BadEvent {
            index,
            what: format!("the digest {digest:?} is not sha256:<64 hex>"),
        });
    }
    if !is_repository_path(&repository) {
        return Err(EventsError::BadEvent {
            index,
            what: format!("{repository:?} is not a repository name"),
        });
    }
    Ok((repository, digest))
}

/// The manifest and index pushes of a notification body.
pub fn parse(body: &[u8]) -> Result<Vec<Push>, EventsError> {
    if body.len() > MAX_BODY {
        return Err(EventsError::TooLarge(format!(
            "{} bytes (at most {MAX_BODY})",
            body.len()
        )));
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|e| EventsError::Malformed(e.to_string()))?;
    if let Some(events) = v.get("events") {
        return distribution(events);
    }
    if v.get("type").is_some() && v.get("event_data").is_some() {
        return harbor(&v);
    }
    Err(EventsError::Malformed(
        "neither a distribution envelope (events) nor a Harbor webhook (type, event_data)".into(),
    ))
}

fn distribution(events: &Value) -> Result<Vec<Push>, EventsError> {
    let list = events
        .as_array()
        .ok_or_else(|| EventsError::Malformed("events is not a list".into()))?;
    if list.len() > MAX_EVENTS {
        return Err(EventsError::TooLarge(format!(
            "{} events (at most {MAX_EVENTS})",
            list.len()
        )));
    }
    let mut out = Vec::new();
    for (index, e) in list.iter().enumerate() {
        if e["action"].as_str() != Some("push") {
            continue;
        }
        let t = &e["target"];
        let media_type = text(t, "mediaType").unwrap_or_default();
        if !is_manifest(&media_type) {
            continue; // a blob (layer or config)
        }
        let (Some(repository), Some(digest)) = (text(t, "repository"), text(t, "digest")) else {
            return Err(EventsError::BadEvent {
                index,
                what: "a manifest push without repository or digest".into(),
            });
        };
        let (repository, digest) = checked(index, repository, digest)?;
        if text(t, "tag").is_some_and(|t| crate::oci::is_attachment_tag(&t)) {
            continue; // a signature, attestation or SBOM of another manifest
        }
        out.push(Push {
            event_id: text(e, "id").unwrap_or_else(|| digest.clone()),
            tag: text(t, "tag").filter(|t| !t.is_empty()),
            repository,
            digest,
            media_type,
        });
    }
    Ok(out)
}

fn harbor(v: &Value) -> Result<Vec<Push>, EventsError> {
    if v["type"].as_str() != Some("PUSH_ARTIFACT") {
        return Ok(Vec::new());
    }
    let data = &v["event_data"];
    let repository = text(&data["repository"], "repo_full_name").ok_or_else(|| {
        EventsError::Malformed(
            "a PUSH_ARTIFACT without event_data.repository.repo_full_name".into(),
        )
    })?;
    let resources = data["resources"].as_array().ok_or_else(|| {
        EventsError::Malformed("a PUSH_ARTIFACT without event_data.resources".into())
    })?;
    if resources.len() > MAX_EVENTS {
        return Err(EventsError::TooLarge(format!(
            "{} resources (at most {MAX_EVENTS})",
            resources.len()
        )));
    }
    let mut out = Vec::new();
    for (index, r) in resources.iter().enumerate() {
        let digest = text(r, "digest").ok_or_else(|| EventsError::BadEvent {
            index,
            what: "a resource without a digest".into(),
        })?;
        let (repository, digest) = checked(index, repository.clone(), digest)?;
        out.push(Push {
            event_id: digest.clone(),
            tag: text(r, "tag").filter(|t| !t.is_empty()),
            repository,
            digest,
            media_type: String::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn distribution_pushes_of_manifests_only() {
        let body = json!({"events": [
            {"id": "e1", "action": "push", "target": {"mediaType": OCI_MANIFEST, "digest": D, "repository": "team/app", "tag": "v1"}},
            {"id": "e2", "action": "push", "target": {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D, "repository": "team/app"}},
            {"id": "e3", "action": "pull", "target": {"mediaType": OCI_MANIFEST, "digest": D, "repository": "team/app"}},
            {"id": "e4", "action": "delete", "target": {"digest": D, "repository": "team/app"}},
            {"id": "e5", "action": "push", "target": {"mediaType": OCI_INDEX, "digest": D, "repository": "team/multi"}},
            {"id": "e6", "action": "push", "target": {"mediaType": OCI_MANIFEST, "digest": D, "repository": "team/app",
                "tag": "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"}},
        ]});
        let pushes = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(pushes.len(), 2);
        assert_eq!(pushes[0].repository, "team/app");
        assert_eq!(pushes[0].tag.as_deref(), Some("v1"));
        assert_eq!(pushes[0].event_id, "e1");
        assert_eq!(pushes[1].media_type, OCI_INDEX);
    }

    #[test]
    fn harbor_push_artifact() {
        let body = json!({"type": "PUSH_ARTIFACT", "occur_at": 1, "operator": "admin",
            "event_data": {"resources": [{"digest": D, "tag": "latest", "resource_url": "h/library/app:latest"}],
                           "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app", "repo_type": "private"}}});
        let pushes = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(pushes.len(), 1);
        assert_eq!(pushes[0].repository, "library/app");
        assert_eq!(pushes[0].digest, D);
        let pull = json!({"type": "PULL_ARTIFACT", "event_data": {}});
        assert!(parse(pull.to_string().as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn hostile_notifications_are_refused() {
        let bad_digest = json!({"events": [{"action": "push", "target": {"mediaType": OCI_MANIFEST, "digest": "sha256:../../etc", "repository": "team/app"}}]});
        assert!(matches!(
            parse(bad_digest.to_string().as_bytes()),
            Err(EventsError::BadEvent { index: 0, .. })
        ));
        for repo in ["Team/App", "../x", "a//b", "a/", "-a", "a..b", ""] {
            let body = json!({"events": [{"action": "push", "target": {"mediaType": OCI_MANIFEST, "digest": D, "repository": repo}}]});
            assert!(
                matches!(
                    parse(body.to_string().as_bytes()),
                    Err(EventsError::BadEvent { .. })
                ),
                "{repo}"
            );
        }
        assert!(matches!(parse(b"[]"), Err(EventsError::Malformed(_))));
        assert!(matches!(parse(b"{"), Err(EventsError::Malformed(_))));
        let many: Vec<Value> = (0..=MAX_EVENTS)
            .map(|_| json!({"action": "pull"}))
            .collect();
        assert!(matches!(
            parse(json!({"events": many}).to_string().as_bytes()),
            Err(EventsError::TooLarge(_))
        ));
        assert!(is_repository_path("library/ubuntu"));
        assert!(is_repository_path("a.b_c__d-e--f/g"));
    }
}

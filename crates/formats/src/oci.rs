//! OCI and Docker manifest documents: descriptors, image manifests, indexes, and the media types
//! cosign uses for its attachments.
//!
//! Serialised in the field order go-containerregistry writes (`schemaVersion`, `mediaType`,
//! `artifactType`, `config`, `layers`/`manifests`, `subject`, `annotations`; descriptors
//! `mediaType`, `size`, `digest`, ...), with absent optional fields left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The OCI empty descriptor's media type (blob `{}`).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Digest of the two-byte blob `{}`.
pub const OCI_EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// A cosign signature layer (simple-signing payload).
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// A cosign attestation layer (DSSE envelope).
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The artifact type of a cosign legacy signature written as a referrer.
pub const COSIGN_SIG_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The artifact type of a cosign legacy attestation written as a referrer.
pub const COSIGN_ATT_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.att.v1+json";
/// The artifact type and layer type of a Sigstore bundle referrer.
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Every manifest media type Sigil asks for.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Layer annotation: the base64 signature.
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation: the signing certificate (PEM).
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation: the certificate chain (PEM).
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
/// Layer annotation: the Rekor SET bundle (JSON).
pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation: an RFC 3161 timestamp (JSON).
pub const ANNOTATION_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Layer annotation on attestations: the in-toto predicate type.
pub const ANNOTATION_PREDICATE_TYPE: &str = "predicateType";
/// Manifest annotation on bundle referrers: `message-signature` or `dsse-envelope`.
pub const ANNOTATION_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// Manifest annotation on bundle referrers: the predicate type of a DSSE bundle.
pub const ANNOTATION_BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
/// Manifest annotation: creation time.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type (referrers listings).
    #[serde(
        default,
        rename = "artifactType",
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor of `data` with this media type.
    pub fn of(media_type: &str, data: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            size: data.len() as u64,
            digest: sha256_digest(data),
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An index entry's platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version.
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageManifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's media type.
    #[serde(default, rename = "mediaType", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(
        default,
        rename = "artifactType",
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// OCI 1.1 subject (what this manifest refers to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The index's media type.
    #[serde(default, rename = "mediaType", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests it lists.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Index {
    /// An empty OCI index (a referrers listing or the referrers tag-schema fallback).
    pub fn empty() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_owned()),
            manifests: Vec::new(),
            annotations: None,
        }
    }
}

/// A fetched manifest of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per fetch; boxing buys nothing
pub enum Manifest {
    /// An image manifest.
    Image(ImageManifest),
    /// An index.
    Index(Index),
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of a manifest's shape.
    #[error("malformed manifest: {0}")]
    Json(String),
    /// A media type Sigil does not read.
    #[error("unsupported manifest media type {0:?}")]
    MediaType(String),
    /// `schemaVersion` is not 2.
    #[error("unsupported manifest schemaVersion {0}")]
    SchemaVersion(u32),
    /// A descriptor digest is not `sha256:<64 hex>`.
    #[error("descriptor digest {0:?} is not sha256:<64 lower-case hex>")]
    Digest(String),
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u32>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
}

impl Manifest {
    /// Parses manifest bytes; `content_type` is the registry's `Content-Type`, used when the
    /// document does not name its own media type.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        let version = probe.schema_version.unwrap_or(0);
        if version != 2 {
            return Err(ManifestError::SchemaVersion(version));
        }
        let media_type = probe
            .media_type
            .as_deref()
            .or(content_type.map(|c| c.split(';').next().unwrap_or(c).trim()));
        let is_index = match media_type {
            Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
            Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
            None | Some("application/json") | Some("") => probe.manifests.is_some(),
            Some(other) => return Err(ManifestError::MediaType(other.to_owned())),
        };
        let json = |e: serde_json::Error| ManifestError::Json(e.to_string());
        let m = if is_index {
            Self::Index(serde_json::from_slice(bytes).map_err(json)?)
        } else {
            Self::Image(serde_json::from_slice(bytes).map_err(json)?)
        };
        for d in m.descriptors() {
            check_digest(&d.digest)?;
        }
        Ok(m)
    }

    /// Every descriptor in the manifest (config, layers and subject; or the index entries).
    pub fn descriptors(&self) -> Vec<&Descriptor> {
        match self {
            Self::Image(m) => std::iter::once(&m.config)
                .chain(&m.layers)
                .chain(&m.subject)
                .collect(),
            Self::Index(i) => i.manifests.iter().collect(),
        }
    }

    /// The manifest's media type (defaulting to OCI's).
    pub fn media_type(&self) -> &str {
        match self {
            Self::Image(m) => m.media_type.as_deref().unwrap_or(OCI_MANIFEST),
            Self::Index(i) => i.media_type.as_deref().unwrap_or(OCI_INDEX),
        }
    }
}

/// Checks that a digest is `sha256:<64 lower-case hex>`, the only algorithm Sigil follows.
pub fn check_digest(digest: &str) -> Result<(), ManifestError> {
    if crate::reference::is_sha256_digest(digest) {
        Ok(())
    } else {
        Err(ManifestError::Digest(digest.to_owned()))
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        sigil_crypto::hash::Digest::of(sigil_crypto::HashAlgorithm::Sha256, data).to_hex()
    )
}

/// Whether a manifest (parsed JSON) is a signature, attestation or SBOM attached to another
/// manifest rather than an image: it names a `subject` (an OCI 1.1 referrer), a Sigstore or
/// cosign `artifactType`, or a layer holding a simple-signing payload, a DSSE envelope or a
/// Sigstore bundle (cosign's `.sig` and `.att` tags). Signing on push leaves these alone: signing
/// a signature would sign its own output for ever.
pub fn is_attachment_manifest(manifest: &serde_json::Value) -> bool {
    let sigstore_type = |t: &str| {
        t.starts_with("application/vnd.dev.sigstore") || t.starts_with("application/vnd.dev.cosign")
    };
    manifest.get("subject").is_some_and(|s| !s.is_null())
        || manifest["artifactType"].as_str().is_some_and(sigstore_type)
        || manifest["layers"].as_array().is_some_and(|layers| {
            layers.iter().any(|l| {
                l["mediaType"].as_str().is_some_and(|t| {
                    matches!(t, SIMPLE_SIGNING | DSSE_ENVELOPE) || sigstore_type(t)
                })
            })
        })
}

/// Whether `tag` is one of cosign's attachment tags (`sha256-<64 hex>.sig`, `.att`, `.sbom`).
pub fn is_attachment_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let Some((hex, kind)) = rest.split_once('.') else {
        return false;
    };
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(kind, "sig" | "att" | "sbom")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_manifests_and_indexes_and_refuses_the_rest() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
        assert!(matches!(Manifest::parse(m, None), Ok(Manifest::Image(_))));
        let i = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            Manifest::parse(i, Some(OCI_INDEX)),
            Ok(Manifest::Index(_))
        ));
        assert!(matches!(Manifest::parse(i, None), Ok(Manifest::Index(_))));
        assert_eq!(
            Manifest::parse(br#"{"schemaVersion":1}"#, None),
            Err(ManifestError::SchemaVersion(1))
        );
        assert_eq!(
            Manifest::parse(
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.artifact.manifest.v1+json"}"#,
                None
            ),
            Err(ManifestError::MediaType(
                "application/vnd.oci.artifact.manifest.v1+json".into()
            ))
        );
        let bad = br#"{"schemaVersion":2,"config":{"mediaType":"x","size":1,"digest":"sha256:../../etc"},"layers":[]}"#;
        assert!(matches!(
            Manifest::parse(bad, Some(OCI_MANIFEST)),
            Err(ManifestError::Digest(_))
        ));
        assert!(matches!(
            Manifest::parse(b"[", None),
            Err(ManifestError::Json(_))
        ));
        assert_eq!(sha256_digest(b"{}"), OCI_EMPTY_DIGEST);
    }

    #[test]
    fn writes_descriptors_in_ggcr_field_order() {
        let d = Descriptor::of(OCI_EMPTY, b"{}");
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            format!(r#"{{"mediaType":"{OCI_EMPTY}","size":2,"digest":"{OCI_EMPTY_DIGEST}"}}"#)
        );
    }
}

#[cfg(test)]
mod attachment_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures_attestations_and_referrers_are_attachments() {
        let image = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}]});
        assert!(!is_attachment_manifest(&image));
        let sig = json!({"layers": [{"mediaType": SIMPLE_SIGNING}]});
        let att = json!({"layers": [{"mediaType": DSSE_ENVELOPE}]});
        let referrer =
            json!({"artifactType": SIGSTORE_BUNDLE_V03, "subject": {"digest": "sha256:x"}});
        let sbom_referrer =
            json!({"artifactType": "application/spdx+json", "subject": {"digest": "sha256:x"}});
        for m in [sig, att, referrer, sbom_referrer] {
            assert!(is_attachment_manifest(&m), "{m}");
        }
        let hex = "0123456789abcdef".repeat(4);
        assert!(is_attachment_tag(&format!("sha256-{hex}.sig")));
        assert!(is_attachment_tag(&format!("sha256-{hex}.att")));
        assert!(!is_attachment_tag(&format!("sha256-{hex}.zip")));
        assert!(!is_attachment_tag("v1.sig"));
    }
}

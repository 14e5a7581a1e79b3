//! OCI registry access for Sigil: image references, tag-to-digest resolution, and where cosign
//! keeps an image's signatures, attestations and SBOMs (`sha256-<hex>.sig|.att|.sbom`).
//!
//! Registry traffic goes through [`Registry`], Sigil's own API over `oci-client`; nothing else in
//! Sigil names `oci-client`. Errors keep "the registry could not be reached" apart from "the tag
//! does not exist", so that a network failure is never reported as "unsigned".
//!
//! # Example
//!
//! ```no_run
//! use sigil_oci::{ImageRef, Registry, RegistryOptions, Attachment};
//!
//! let image = ImageRef::parse("ghcr.io/org/app:v1.2.3")?;
//! let registry = Registry::new(&RegistryOptions::default())?;
//! let digest = registry.resolve(&image)?;                 // sha256:…
//! println!("{}", image.with_digest(&digest));              // ghcr.io/org/app@sha256:…
//! println!("{}", sigil_oci::attachment_tag(&image, &digest, Attachment::Signature)?); // …:sha256-<hex>.sig
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attach;
pub mod cache;
pub mod client;
pub mod copy;
pub mod credentials;
pub mod evidence;
pub mod inventory;
pub use sigil_formats::oci as manifest;
pub use sigil_formats::reference;

use std::fmt;

pub use reference::{Reference, ReferenceError};

pub use client::{Registry, RegistryOptions, Repo, Stats};

/// Errors talking to a registry, by what the user must do about them.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The reference does not parse.
    #[error("invalid image reference {reference:?}: {detail}")]
    InvalidReference {
        /// What was given.
        reference: String,
        /// Why it is invalid.
        detail: String,
    },
    /// The tag or digest does not exist in the repository.
    #[error("{image}: no such tag or digest in the registry")]
    NoSuchImage {
        /// The image.
        image: String,
    },
    /// The registry could not be reached (connection refused, DNS, timeout, TLS).
    #[error("registry {registry} is unreachable: {detail}")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// The underlying error.
        detail: String,
    },
    /// Credentials are missing or refused.
    #[error("registry {registry} refused access: {detail}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The underlying error.
        detail: String,
    },
    /// Any other registry answer.
    #[error("registry {registry}: {detail}")]
    Registry {
        /// The registry host.
        registry: String,
        /// The underlying error.
        detail: String,
    },
    /// The registry answered with an error status.
    #[error("registry {registry}: {detail}")]
    Status {
        /// The registry host.
        registry: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error codes (`MANIFEST_BLOB_UNKNOWN`, ...), when it sent any.
        codes: Vec<String>,
        /// The request and the registry's error codes.
        detail: String,
    },
    /// Credentials could not be read from the Docker config or its helper.
    #[error("registry credentials: {0}")]
    Credentials(String),
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Runtime(String),
    /// An object is larger than the limit; it was not (completely) read.
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// What was refused.
        what: String,
        /// Its size (as announced, or the limit plus one when it did not say).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More attachments than the verifier reads for one manifest.
    #[error("{what} list {count} attachments, more than the {limit} read (--max-attachments)")]
    TooMany {
        /// Whose attachments.
        what: String,
        /// How many were listed (counted so far).
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Content does not hash to the digest that names it.
    #[error("{what}: expected {expected}, the registry served {actual}")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// A manifest could not be read.
    #[error("{what}: {error}")]
    Manifest {
        /// Which manifest.
        what: String,
        /// What was wrong.
        error: manifest::ManifestError,
    },
}

impl RegistryError {
    /// Whether trying again may help: a 5xx or 429 answer (registries answer 500 to some
    /// concurrent writes of one tag).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Status { status, .. } if *status >= 500 || *status == 429)
    }

    /// Whether a manifest PUT was refused because the registry could not see a blob it
    /// references. Registries with non-atomic storage (distribution's filesystem driver
    /// rewrites a blob's repository link in place when two clients upload the same blob) answer
    /// this transiently while the blob is there; the caller re-checks its blobs and tries again.
    pub fn is_blob_unknown(&self) -> bool {
        matches!(self, Self::Status { status: 400, codes, .. }
            if codes.iter().any(|c| c == "MANIFEST_BLOB_UNKNOWN" || c == "BLOB_UNKNOWN"))
    }
}

/// A parsed image reference (`registry/repository[:tag][@digest]`), Docker Hub names expanded
/// as Docker does (`alpine` is `docker.io/library/alpine`).
#[derive(Clone, PartialEq, Eq)]
pub struct ImageRef(Reference);

impl ImageRef {
    /// Parses a reference.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        Reference::parse(s)
            .map(Self)
            .map_err(|e| RegistryError::InvalidReference {
                reference: s.to_owned(),
                detail: e.to_string(),
            })
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        self.0.api_host()
    }

    /// The repository path.
    pub fn repository(&self) -> &str {
        self.0.path()
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.0.tag()
    }

    /// The digest, if the reference names one.
    pub fn digest(&self) -> Option<&str> {
        self.0.digest()
    }

    /// `registry/repository` without tag or digest (cosign's `docker-reference`).
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.0.domain(), self.0.path())
    }

    /// The same repository pinned to `digest`: `registry/repository@digest`.
    pub fn with_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.repository_name())
    }

    /// The digest if there is one, else the tag (`latest` when neither was given).
    pub fn reference(&self) -> &str {
        self.0.digest().or(self.0.tag()).unwrap_or("latest")
    }

    /// The same repository with another tag or digest.
    pub fn at(&self, reference: &str) -> ImageRef {
        Self(self.0.at(reference))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({})", self.0)
    }
}

/// What cosign attaches to an image under a tag derived from its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// `.sig`: signatures.
    Signature,
    /// `.att`: attestations.
    Attestation,
    /// `.sbom`: SBOMs.
    Sbom,
}

impl Attachment {
    /// The tag suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Signature => "sig",
            Self::Attestation => "att",
            Self::Sbom => "sbom",
        }
    }
}

/// cosign's attachment location for `image` at `digest`: `registry/repository:sha256-<hex>.<suffix>`.
/// `COSIGN_REPOSITORY` moves attachments to another repository, as in cosign.
pub fn attachment_tag(
    image: &ImageRef,
    digest: &str,
    kind: Attachment,
) -> Result<String, RegistryError> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| RegistryError::InvalidReference {
            reference: digest.to_owned(),
            detail: "a digest is <algorithm>:<hex>".into(),
        })?;
    let repo = match std::env::var("COSIGN_REPOSITORY") {
        Ok(r) if !r.is_empty() => r,
        _ => image.repository_name(),
    };
    Ok(format!("{repo}:{alg}-{hex}.{}", kind.suffix()))
}

impl Registry {
    /// The digest the reference names now: a HEAD request for a tag; a digest reference is
    /// checked against what the registry serves.
    pub fn resolve(&self, image: &ImageRef) -> Result<String, RegistryError> {
        let reference = image.reference();
        match self.head_manifest(image.into(), reference)? {
            None => Err(RegistryError::NoSuchImage {
                image: image.to_string(),
            }),
            Some(h) => {
                if let Some(d) = image.digest()
                    && d != h.digest
                {
                    return Err(RegistryError::DigestMismatch {
                        what: format!("manifest {image}"),
                        expected: d.to_owned(),
                        actual: h.digest,
                    });
                }
                Ok(h.digest)
            }
        }
    }

    /// Pushes an image manifest with these layers and config (OCI media types) to `image`'s tag
    /// and returns its digest.
    pub fn push_image(
        &self,
        image: &ImageRef,
        layers: &[Layer],
        config: &[u8],
        config_media_type: &str,
    ) -> Result<String, RegistryError> {
        let repo = image.into();
        let config = self.put_blob(repo, config_media_type, config)?;
        let layers = layers
            .iter()
            .map(|l| self.put_blob(repo, &l.media_type, &l.data))
            .collect::<Result<Vec<_>, _>>()?;
        let m = manifest::ImageManifest {
            schema_version: 2,
            media_type: Some(manifest::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: None,
        };
        let bytes = serde_json::to_vec(&m).map_err(|e| RegistryError::Registry {
            registry: image.registry().to_owned(),
            detail: e.to_string(),
        })?;
        self.put_manifest(repo, image.reference(), &bytes, manifest::OCI_MANIFEST)
    }
}

/// A layer to push: its bytes and media type.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Contents.
    pub data: Vec<u8>,
    /// Media type.
    pub media_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_attachment_tags() {
        let r = ImageRef::parse("alpine:3.20").unwrap();
        assert_eq!(r.repository_name(), "docker.io/library/alpine");
        assert_eq!(r.tag(), Some("3.20"));
        let r = ImageRef::parse("127.0.0.1:5000/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "team/app");
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            attachment_tag(&r, d, Attachment::Signature).unwrap(),
            "127.0.0.1:5000/team/app:sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"
        );
        for bad in ["app:bad tag", "app@sha256:not-hex", "", "repo/UPPER"] {
            assert!(
                matches!(
                    ImageRef::parse(bad),
                    Err(RegistryError::InvalidReference { .. })
                ),
                "{bad}"
            );
        }
    }
}

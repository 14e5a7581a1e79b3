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

pub mod credentials;

use std::fmt;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

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
    /// Credentials could not be read from the Docker config or its helper.
    #[error("registry credentials: {0}")]
    Credentials(String),
    /// The async runtime could not start.
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(String),
}

/// A parsed image reference (`registry/repository[:tag][@digest]`), Docker Hub names expanded
/// as Docker does (`alpine` is `docker.io/library/alpine`).
#[derive(Clone, PartialEq, Eq)]
pub struct ImageRef(Reference);

impl ImageRef {
    /// Parses a reference.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        Reference::try_from(s)
            .map(Self)
            .map_err(|e| RegistryError::InvalidReference {
                reference: s.to_owned(),
                detail: e.to_string(),
            })
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        self.0.resolve_registry()
    }

    /// The repository path.
    pub fn repository(&self) -> &str {
        self.0.repository()
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
        format!("{}/{}", self.0.registry(), self.0.repository())
    }

    /// The same repository pinned to `digest`: `registry/repository@digest`.
    pub fn with_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.repository_name())
    }

    fn inner(&self) -> &Reference {
        &self.0
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.whole())
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({})", self.0.whole())
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

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP (cosign's `--allow-http-registry`).
    pub allow_http: bool,
    /// Accept invalid TLS certificates (cosign's `--allow-insecure-registry`).
    pub allow_insecure: bool,
    /// Basic-auth user name.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
    /// A bearer token.
    pub token: Option<String>,
}

/// A registry client: one connection pool and one token cache for every request it makes.
pub struct Registry {
    client: Client,
    /// Credentials given on the command line; otherwise each registry's come from the Docker config.
    explicit: Option<RegistryAuth>,
    runtime: tokio::runtime::Runtime,
}

impl Registry {
    /// A client with these options.
    pub fn new(options: &RegistryOptions) -> Result<Self, RegistryError> {
        let config = ClientConfig {
            protocol: if options.allow_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            accept_invalid_certificates: options.allow_insecure,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        let explicit = match (&options.token, &options.username, &options.password) {
            (Some(t), _, _) => Some(RegistryAuth::Bearer(t.clone())),
            (None, Some(u), Some(p)) => Some(RegistryAuth::Basic(u.clone(), p.clone())),
            _ => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Runtime(e.to_string()))?;
        Ok(Self {
            client: Client::new(config),
            explicit,
            runtime,
        })
    }

    /// The credentials for `image`'s registry: the command line's, else the Docker config's
    /// (`credHelpers`, `credsStore`, `auths`), else anonymous.
    fn auth_for(&self, image: &ImageRef) -> Result<RegistryAuth, RegistryError> {
        if let Some(a) = &self.explicit {
            return Ok(a.clone());
        }
        let Some(path) = credentials::default_config_path() else {
            return Ok(RegistryAuth::Anonymous);
        };
        match credentials::lookup(&path, image.registry())
            .map_err(|e| RegistryError::Credentials(e.to_string()))?
        {
            Some(credentials::Credential::Basic { username, password }) => {
                Ok(RegistryAuth::Basic(username, password))
            }
            Some(credentials::Credential::IdentityToken(_)) => {
                Err(RegistryError::Credentials(format!(
                    "{} holds an identity token for {}, which Sigil cannot exchange yet; pass --registry-token or --registry-username/--registry-password",
                    path.display(),
                    image.registry()
                )))
            }
            None => Ok(RegistryAuth::Anonymous),
        }
    }

    /// The digest the reference names now (a HEAD request; a digest reference is checked too).
    pub fn resolve(&self, image: &ImageRef) -> Result<String, RegistryError> {
        self.runtime
            .block_on(
                self.client
                    .fetch_manifest_digest(image.inner(), &self.auth_for(image)?),
            )
            .map_err(|e| classify(image, e))
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

impl Registry {
    /// Pushes an image manifest with these layers and config (OCI media types) to `image`'s tag
    /// and returns the manifest digest the registry now serves for it.
    pub fn push_image(
        &self,
        image: &ImageRef,
        layers: &[Layer],
        config: &[u8],
        config_media_type: &str,
    ) -> Result<String, RegistryError> {
        let layers: Vec<oci_client::client::ImageLayer> = layers
            .iter()
            .map(|l| {
                oci_client::client::ImageLayer::new(l.data.clone(), l.media_type.clone(), None)
            })
            .collect();
        let config =
            oci_client::client::Config::new(config.to_vec(), config_media_type.to_owned(), None);
        self.runtime
            .block_on(self.client.push(
                image.inner(),
                &layers,
                config,
                &self.auth_for(image)?,
                None,
            ))
            .map_err(|e| classify(image, e))?;
        self.resolve(image)
    }
}

fn classify(image: &ImageRef, e: OciDistributionError) -> RegistryError {
    let registry = image.registry().to_owned();
    match e {
        OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
            RegistryError::Unreachable {
                registry,
                detail: error_chain(&r),
            }
        }
        OciDistributionError::ImageManifestNotFoundError(_) => RegistryError::NoSuchImage {
            image: image.to_string(),
        },
        OciDistributionError::ServerError { code: 404, .. } => RegistryError::NoSuchImage {
            image: image.to_string(),
        },
        OciDistributionError::RegistryError { ref envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    oci_client::errors::OciErrorCode::ManifestUnknown
                        | oci_client::errors::OciErrorCode::NameUnknown
                )
            }) =>
        {
            RegistryError::NoSuchImage {
                image: image.to_string(),
            }
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => RegistryError::Unauthorized {
            registry,
            detail: e.to_string(),
        },
        other => RegistryError::Registry {
            registry,
            detail: other.to_string(),
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
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

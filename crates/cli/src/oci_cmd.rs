//! `resolve` and `triangulate`.

use anyhow::Result;
use serde_json::json;
use sigil_oci::{Attachment, ImageRef, Registry, RegistryError, RegistryOptions};

use crate::cli::{OutputFormat, RegistryArgs, Resolve, Triangulate, TriangulateType};
use crate::support::print_json;

/// Exit code: the tag or digest does not exist (cosign's 11).
pub const EXIT_NO_SUCH_TAG: u8 = 11;
/// Exit code: the registry could not be reached (never reported as "unsigned").
pub const EXIT_REGISTRY_UNREACHABLE: u8 = 14;

/// A registry client from the command line's flags, with the signature cache unless turned off.
pub fn registry(args: &RegistryArgs) -> Result<Registry> {
    let cache = if args.no_cache {
        None
    } else {
        sigil_oci::cache::Cache::from_env()
    };
    Ok(Registry::new(&registry_options(args))?.with_cache(cache))
}

/// A client that answers from the evidence saved in `dir` (`sigil save`) and sends nothing.
pub fn offline_registry(args: &RegistryArgs, dir: &std::path::Path) -> Result<Registry> {
    Ok(Registry::offline(dir, &registry_options(args))?)
}

fn registry_options(args: &RegistryArgs) -> RegistryOptions {
    RegistryOptions {
        allow_http: args.allow_http_registry,
        allow_insecure: args.allow_insecure_registry,
        username: args.registry_username.clone(),
        password: args.registry_password.clone(),
        token: args.registry_token.clone(),
        max_manifest_size: args.max_manifest_size,
        max_attachment_size: args.max_attachment_size,
        max_attachments: args.max_attachments,
        max_attachments_total: args.max_attachments_total_size,
        timeout: args.timeout,
        docker_config: args.docker_config.clone(),
    }
}

/// An image command's failure with its own exit code (10 no signatures, 12 none matching, ...).
#[derive(Debug)]
pub struct ImageFailure {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for ImageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ImageFailure {}

/// The exit code for a registry error or image failure, if it has its own.
pub fn exit_code(e: &anyhow::Error) -> Option<u8> {
    if let Some(f) = e.downcast_ref::<ImageFailure>() {
        return Some(f.code);
    }
    match e.downcast_ref::<RegistryError>()? {
        RegistryError::NoSuchImage { .. } => Some(EXIT_NO_SUCH_TAG),
        RegistryError::Unreachable { .. } => Some(EXIT_REGISTRY_UNREACHABLE),
        _ => None,
    }
}

pub fn resolve(args: Resolve) -> Result<()> {
    let image = ImageRef::parse(&args.image)?;
    let digest = registry(&args.registry)?.resolve(&image)?;
    let pinned = image.with_digest(&digest);
    match args.output {
        OutputFormat::Text => outln!("{pinned}"),
        OutputFormat::Json => {
            print_json(&json!({"image": args.image, "digest": digest, "reference": pinned}))?
        }
    }
    Ok(())
}

pub fn triangulate(args: Triangulate) -> Result<()> {
    let image = ImageRef::parse(&args.image)?;
    let digest = match image.digest() {
        Some(d) => d.to_owned(),
        None => registry(&args.registry)?.resolve(&image)?,
    };
    let out = match args.type_ {
        TriangulateType::Digest => image.with_digest(&digest),
        TriangulateType::Signature => {
            sigil_oci::attachment_tag(&image, &digest, Attachment::Signature)?
        }
        TriangulateType::Attestation => {
            sigil_oci::attachment_tag(&image, &digest, Attachment::Attestation)?
        }
        TriangulateType::Sbom => sigil_oci::attachment_tag(&image, &digest, Attachment::Sbom)?,
    };
    outln!("{out}");
    Ok(())
}

/// `sigil save`: what verifying the images reads, into an evidence directory.
pub fn save(a: crate::cli::Save) -> Result<()> {
    let registry = registry(&a.registry)?;
    let images: Vec<ImageRef> = a
        .images
        .iter()
        .map(|i| ImageRef::parse(i))
        .collect::<Result<_, _>>()?;
    let locations: Vec<sigil_oci::attach::Location> = a
        .source
        .iter()
        .map(|r| sigil_oci::attach::Location {
            repository: Some(r.clone()),
            tag_prefix: a.source_tag_prefix.clone(),
        })
        .collect();
    let saved = sigil_oci::evidence::save(&registry, &images, &locations, &a.dir)?;
    match a.output {
        crate::cli::OutputFormat::Json => crate::support::print_json(&serde_json::json!({
            "dir": a.dir,
            "images": saved.iter().map(|s| serde_json::json!({
                "image": s.image, "digest": s.digest, "manifests": s.manifests, "blobs": s.blobs,
            })).collect::<Vec<_>>(),
        }))?,
        crate::cli::OutputFormat::Text => {
            for s in &saved {
                errln!(
                    "Saved {} ({}): {} manifests, {} attachment blobs to {}",
                    s.image,
                    s.digest,
                    s.manifests,
                    s.blobs,
                    a.dir.display()
                );
            }
        }
    }
    Ok(())
}

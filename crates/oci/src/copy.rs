//! Copying an image with what is attached to it: the manifest (an index with every manifest it
//! lists), every blob, the `.sig`/`.att`/`.sbom` tags of the image and of each platform, and its
//! referrers. Digests do not change, so signatures made at the source verify at the destination.
//! Blobs are streamed (never held in memory), mounted instead of copied within one registry, and
//! skipped when the destination has them.

use crate::attach::{self, attachment_ref};
use crate::client::{Registry, Repo};
use crate::manifest::{Descriptor, Manifest};
use crate::{Attachment, ImageRef, RegistryError};

/// What to copy besides the image.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Attachment tags to copy.
    pub attachments: Vec<Attachment>,
    /// Copy OCI 1.1 referrers too.
    pub referrers: bool,
    /// Overwrite the destination tag when it points elsewhere.
    pub force: bool,
}

/// What a copy did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyReport {
    /// The image digest (unchanged).
    pub digest: String,
    /// Manifests written.
    pub manifests: u64,
    /// Blobs transferred.
    pub blobs_copied: u64,
    /// Blobs the destination already had (or mounted).
    pub blobs_skipped: u64,
    /// Attachment tags copied (`dst:sha256-<hex>.sig`, ...).
    pub attachments: Vec<String>,
    /// Referrers copied.
    pub referrers: Vec<String>,
}

/// Copies `src` to `dst` (a tag, or the source's tag or digest when `dst` names only a
/// repository).
pub fn copy(
    registry: &Registry,
    src: &ImageRef,
    dst: &ImageRef,
    options: &CopyOptions,
) -> Result<CopyReport, RegistryError> {
    let digest = registry.resolve(src)?;
    let mut report = CopyReport {
        digest: digest.clone(),
        ..Default::default()
    };
    if dst.tag().is_some()
        && !options.force
        && let Some(h) = registry.head_manifest(dst.into(), dst.reference())?
        && h.digest != digest
    {
        return Err(RegistryError::Registry {
            registry: dst.registry().to_owned(),
            detail: format!(
                "{dst} already points to {}; pass --force to overwrite it",
                h.digest
            ),
        });
    }
    let children = copy_manifest(
        registry,
        src,
        dst,
        &digest,
        Some(dst.reference()),
        &mut report,
    )?;
    let mut subjects = vec![digest.clone()];
    subjects.extend(children);
    for subject in &subjects {
        for kind in &options.attachments {
            let from = attachment_ref(src, subject, *kind)?;
            if registry
                .head_manifest((&from).into(), from.reference())?
                .is_none()
            {
                continue;
            }
            let to = attachment_ref(dst, subject, *kind)?;
            copy_manifest(
                registry,
                &from,
                &to,
                from.reference(),
                Some(to.reference()),
                &mut report,
            )?;
            report.attachments.push(to.to_string());
        }
        if options.referrers {
            let found = attach::referrers(registry, src, subject, &[])?;
            // Whether the destination lists referrers itself: asked once per subject.
            let dst_has_api =
                !found.is_empty() && registry.referrers(dst.into(), subject)?.is_some();
            for d in found {
                copy_manifest(registry, src, dst, &d.digest, None, &mut report)?;
                if !dst_has_api {
                    attach::add_to_fallback_index(registry, dst, subject, &d)?;
                }
                report.referrers.push(dst.with_digest(&d.digest));
            }
        }
    }
    Ok(report)
}

/// Copies the manifest `reference` (and, for an index, every manifest it lists) with its blobs;
/// writes it under `tag` when given, else by digest. Returns the digests of the listed manifests.
fn copy_manifest(
    registry: &Registry,
    src: &ImageRef,
    dst: &ImageRef,
    reference: &str,
    tag: Option<&str>,
    report: &mut CopyReport,
) -> Result<Vec<String>, RegistryError> {
    let (s, d) = (Repo::from(src), Repo::from(dst));
    let fetched =
        registry
            .get_manifest(s, reference)?
            .ok_or_else(|| RegistryError::NoSuchImage {
                image: src.at(reference).to_string(),
            })?;
    let mut children = Vec::new();
    match &fetched.manifest {
        Manifest::Image(m) => {
            for b in std::iter::once(&m.config).chain(&m.layers) {
                copy_blob(registry, src, dst, b, report)?;
            }
        }
        Manifest::Index(i) => {
            for child in &i.manifests {
                let grandchildren = copy_manifest(registry, src, dst, &child.digest, None, report)?;
                children.push(child.digest.clone());
                children.extend(grandchildren);
            }
        }
    }
    let media_type = fetched.manifest.media_type().to_owned();
    let target = tag.unwrap_or(&fetched.digest);
    registry.put_manifest(d, target, &fetched.bytes, &media_type)?;
    report.manifests += 1;
    Ok(children)
}

fn copy_blob(
    registry: &Registry,
    src: &ImageRef,
    dst: &ImageRef,
    blob: &Descriptor,
    report: &mut CopyReport,
) -> Result<(), RegistryError> {
    let (s, d) = (Repo::from(src), Repo::from(dst));
    if registry.blob_exists(d, &blob.digest)? {
        report.blobs_skipped += 1;
        return Ok(());
    }
    // Within one registry a mount makes the blob present without moving a byte.
    let mount = (src.registry() == dst.registry()).then(|| src.repository());
    registry.put_blob_stream(d, &blob.digest, blob.size, mount, || {
        registry.blob_reader(s, &blob.digest)
    })?;
    report.blobs_copied += 1;
    Ok(())
}

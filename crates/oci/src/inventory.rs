//! What is attached to an image, as cosign lays it out: listing it (`tree`), reading it back
//! (`download`) and deleting it (`clean`), over both the tag scheme and OCI 1.1 referrers.

use sigil_formats::bundle;
use sigil_formats::dsse::COSIGN_SIGN_PREDICATE;

use crate::attach::{self, Attached, Source};
use crate::client::{Registry, Repo};
use crate::manifest::{self as mf, Descriptor, Manifest};
use crate::{Attachment, ImageRef, RegistryError};

/// One attachment tag and its layers.
#[derive(Debug, Clone)]
pub struct TagAttachments {
    /// Signatures, attestations or SBOMs.
    pub kind: Attachment,
    /// The tag (`registry/repo:sha256-<hex>.sig`).
    pub location: String,
    /// Its layers.
    pub layers: Vec<Descriptor>,
}

/// Everything attached to one manifest.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The attachment tags that exist, in the order signatures, attestations, SBOMs.
    pub tags: Vec<TagAttachments>,
    /// The referrers (every artifact type).
    pub referrers: Vec<Descriptor>,
}

/// Lists what is attached to `digest` in `image`'s repository.
pub fn inventory(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
) -> Result<Inventory, RegistryError> {
    let mut out = Inventory::default();
    for kind in [
        Attachment::Signature,
        Attachment::Attestation,
        Attachment::Sbom,
    ] {
        let at = attach::attachment_ref(image, digest, kind)?;
        if let Some(f) = registry.get_manifest(Repo::from(&at), at.reference())? {
            let layers = match f.manifest {
                Manifest::Image(m) => m.layers,
                Manifest::Index(_) => Vec::new(),
            };
            out.tags.push(TagAttachments {
                kind,
                location: at.to_string(),
                layers,
            });
        }
    }
    out.referrers = attach::referrers(registry, image, digest, &[])?;
    Ok(out)
}

/// The simple-signing signature layers of `digest`: its `.sig` tag, then cosign's signature
/// referrers.
pub fn signatures(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
) -> Result<Vec<Attached>, RegistryError> {
    let mut found = attach::read_tag(registry, image, digest, Attachment::Signature, |l| {
        l.media_type == mf::SIMPLE_SIGNING
    })?;
    found.extend(
        attach::read_referrers(registry, image, digest, &[mf::COSIGN_SIG_ARTIFACT])?
            .into_iter()
            .filter(|a| a.layer.media_type == mf::SIMPLE_SIGNING),
    );
    Ok(found)
}

/// The DSSE envelopes (JSON) of `digest`'s attestations, of predicate type `want` when given:
/// the `.att` tag's layers, then the envelopes of Sigstore-bundle referrers (image signatures
/// in bundle form are not attestations).
pub fn attestations(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    want: Option<&str>,
) -> Result<Vec<Vec<u8>>, RegistryError> {
    let mut out = Vec::new();
    for a in attach::read_tag(registry, image, digest, Attachment::Attestation, |l| {
        l.media_type == mf::DSSE_ENVELOPE
            && want.is_none_or(|w| l.annotation(mf::ANNOTATION_PREDICATE_TYPE) == Some(w))
    })? {
        out.push(a.data.to_vec());
    }
    for a in attach::read_referrers(registry, image, digest, &[mf::SIGSTORE_BUNDLE_V03])? {
        if let Source::Referrer { annotations, .. } = &a.source {
            let pt = annotations
                .get(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE)
                .map(String::as_str);
            if pt == Some(COSIGN_SIGN_PREDICATE) || want.is_some_and(|w| pt != Some(w)) {
                continue;
            }
        }
        if let Ok(bundle::AnyBundle::Sigstore(b)) = bundle::parse_any(&a.data)
            && let Some(env) = &b.dsse_envelope
            && let Ok(json) = serde_json::to_vec(env)
        {
            out.push(json);
        }
    }
    Ok(out)
}

/// Deletes what is attached to `digest` of the given kinds: the attachment tags, and the
/// referrers of those kinds (a bundle referrer is a signature when it carries cosign's sign
/// predicate, an attestation otherwise), keeping the referrers fallback index in step.
/// Returns what was deleted.
pub fn clean(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    kinds: &[Attachment],
) -> Result<Vec<String>, RegistryError> {
    let mut deleted = Vec::new();
    for kind in kinds {
        let at = attach::attachment_ref(image, digest, *kind)?;
        if let Some(h) = registry.head_manifest(Repo::from(&at), at.reference())?
            && registry.delete_manifest(Repo::from(&at), &h.digest)?
        {
            deleted.push(at.to_string());
        }
    }
    let wanted = |d: &Descriptor| -> bool {
        let pt = d.annotation(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE);
        match d.artifact_type.as_deref() {
            Some(mf::COSIGN_SIG_ARTIFACT) => kinds.contains(&Attachment::Signature),
            Some(mf::COSIGN_ATT_ARTIFACT) => kinds.contains(&Attachment::Attestation),
            Some(mf::SIGSTORE_BUNDLE_V03) => {
                if pt == Some(COSIGN_SIGN_PREDICATE) {
                    kinds.contains(&Attachment::Signature)
                } else {
                    kinds.contains(&Attachment::Attestation)
                }
            }
            _ => false,
        }
    };
    let gone: Vec<Descriptor> = attach::referrers(registry, image, digest, &[])?
        .into_iter()
        .filter(|d| wanted(d))
        .collect();
    for d in &gone {
        registry.delete_manifest(Repo::from(image), &d.digest)?;
        deleted.push(image.with_digest(&d.digest));
    }
    if !gone.is_empty() && registry.referrers(Repo::from(image), digest)?.is_none() {
        attach::update_fallback_index(registry, image, digest, |i| {
            let before = i.manifests.len();
            i.manifests
                .retain(|m| !gone.iter().any(|g| g.digest == m.digest));
            i.manifests.len() != before
        })?;
    }
    Ok(deleted)
}

//! Where cosign keeps what it attaches to an image, read and written in its layout:
//!
//! - the **tag scheme**: one image manifest at `sha256-<hex>.sig|.att|.sbom` (in the image's
//!   repository, or `$COSIGN_REPOSITORY`) with one layer per signature, attestation or SBOM;
//! - **OCI 1.1 referrers**: manifests whose `subject` is the image, found with the referrers API
//!   or, on registries without it (a 404), through the referrers tag schema: an index at the tag
//!   `sha256-<hex>` that writers keep up to date.
//!
//! Writing to a tag or to the fallback index is a read-modify-write, which the registry API gives
//! no compare-and-swap for. Writers here re-read the tag just before the PUT, and after it check
//! that what they added is there (twice, a moment apart), starting over if another writer got in
//! between; so concurrent signers do not lose each other's signatures.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::client::{FetchedManifest, Registry, Repo};
use crate::manifest::{
    self, Descriptor, ImageManifest, Index, Manifest, OCI_CONFIG, OCI_EMPTY, OCI_INDEX,
    OCI_MANIFEST,
};
use crate::{Attachment, ImageRef, RegistryError};

/// How many times a read-modify-write starts over before giving up.
const MAX_ATTEMPTS: u32 = 12;
/// How long a writer waits before checking a second time that its write survived. Another
/// writer that checked the tag before our PUT and writes after it must do so within this
/// window to be noticed; the registry API offers no compare-and-swap to close it entirely.
const SURVIVAL_WAIT: Duration = Duration::from_millis(200);

/// One manifest to sign or verify: an image's, or one its index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    /// Its media type (empty when not looked up: a digest reference verified without a round
    /// trip).
    pub media_type: String,
    /// Its size in bytes (0 when not looked up).
    pub size: u64,
    /// `os/arch[/variant]` for a manifest an index lists.
    pub platform: Option<String>,
}

impl Target {
    /// The target as a descriptor (the `subject` of a referrer).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            size: self.size,
            digest: self.digest.clone(),
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// `digest (platform)`, or the digest alone.
    pub fn name(&self) -> String {
        match &self.platform {
            Some(p) => format!("{} ({p})", self.digest),
            None => self.digest.clone(),
        }
    }
}

/// The image's manifest, and with `recursive` every manifest its index lists. A reference by
/// digest must resolve to that digest.
pub fn targets(
    registry: &Registry,
    image: &ImageRef,
    recursive: bool,
) -> Result<Vec<Target>, RegistryError> {
    let head = registry
        .head_manifest(image.into(), image.reference())?
        .ok_or_else(|| RegistryError::NoSuchImage {
            image: image.to_string(),
        })?;
    if let Some(d) = image.digest()
        && d != head.digest
    {
        return Err(RegistryError::DigestMismatch {
            what: image.to_string(),
            expected: d.to_owned(),
            actual: head.digest,
        });
    }
    let media_type = head
        .media_type
        .clone()
        .unwrap_or_else(|| OCI_MANIFEST.to_owned());
    let is_index = media_type == OCI_INDEX || media_type == manifest::DOCKER_MANIFEST_LIST;
    let mut out = vec![Target {
        digest: head.digest.clone(),
        media_type,
        size: head.size.unwrap_or(0),
        platform: None,
    }];
    if recursive && is_index {
        let f = registry
            .get_manifest(image.into(), &head.digest)?
            .ok_or_else(|| RegistryError::NoSuchImage {
                image: image.to_string(),
            })?;
        out[0].size = f.bytes.len() as u64;
        if let Manifest::Index(i) = f.manifest {
            for m in i.manifests {
                out.push(Target {
                    digest: m.digest,
                    media_type: m.media_type,
                    size: m.size,
                    platform: m.platform.map(|p| p.to_string()),
                });
            }
        }
    }
    Ok(out)
}

/// Where an attachment was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A layer of the manifest at this tag reference (`registry/repo:sha256-<hex>.sig`).
    Tag(String),
    /// A layer of this referrer manifest (`registry/repo@sha256:…`).
    Referrer {
        /// The referrer manifest.
        reference: String,
        /// Its artifact type.
        artifact_type: String,
        /// Its annotations.
        annotations: BTreeMap<String, String>,
    },
}

impl Source {
    /// `tag` or `referrer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Tag(_) => "tag",
            Self::Referrer { .. } => "referrer",
        }
    }

    /// The manifest reference.
    pub fn reference(&self) -> &str {
        match self {
            Self::Tag(r) => r,
            Self::Referrer { reference, .. } => reference,
        }
    }
}

/// One attached object: a layer and its bytes.
#[derive(Debug, Clone)]
pub struct Attached {
    /// Where it was found.
    pub source: Source,
    /// The layer descriptor (its annotations carry cosign's signature, certificate, ...).
    pub layer: Descriptor,
    /// The layer's bytes (digest-checked), shared by layers that repeat a digest.
    pub data: std::sync::Arc<Vec<u8>>,
}

/// The repository and tag holding `kind` attachments of `digest`.
pub fn attachment_ref(
    image: &ImageRef,
    digest: &str,
    kind: Attachment,
) -> Result<ImageRef, RegistryError> {
    ImageRef::parse(&crate::attachment_tag(image, digest, kind)?)
}

fn fallback_tag(digest: &str) -> Result<String, RegistryError> {
    manifest::check_digest(digest).map_err(|e| RegistryError::Manifest {
        what: "subject digest".into(),
        error: e,
    })?;
    Ok(digest.replacen(':', "-", 1))
}

fn image_manifest(f: FetchedManifest, what: &str) -> Result<ImageManifest, RegistryError> {
    match f.manifest {
        Manifest::Image(m) => Ok(m),
        Manifest::Index(_) => Err(RegistryError::Manifest {
            what: what.to_owned(),
            error: manifest::ManifestError::MediaType(
                "an index where an image manifest belongs".into(),
            ),
        }),
    }
}

/// Where an image's attachments are read from when not beside it: another repository
/// (policy-controller's `source[].oci`, cosign's `COSIGN_REPOSITORY`) and a tag prefix
/// (`tagPrefix`: `<prefix>sha256-<hex>.sig`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The repository (`registry/path`) holding the attachments; `None`: the image's own.
    pub repository: Option<String>,
    /// Prepended to cosign's tag.
    pub tag_prefix: String,
}

impl Location {
    /// The image whose repository holds the attachments (the image itself by default).
    pub fn repository_of(&self, image: &ImageRef) -> Result<ImageRef, RegistryError> {
        match &self.repository {
            None => Ok(image.clone()),
            Some(r) => ImageRef::parse(r),
        }
    }

    /// The `kind` tag for `digest`: `[repository:]<prefix>sha256-<hex>.<suffix>`.
    pub fn tag(
        &self,
        image: &ImageRef,
        digest: &str,
        kind: Attachment,
    ) -> Result<ImageRef, RegistryError> {
        if self.repository.is_none() && self.tag_prefix.is_empty() {
            return attachment_ref(image, digest, kind);
        }
        let (alg, hex) = digest
            .split_once(':')
            .ok_or_else(|| RegistryError::InvalidReference {
                reference: digest.to_owned(),
                detail: "a digest is <algorithm>:<hex>".into(),
            })?;
        let repo = self.repository_of(image)?.repository_name();
        ImageRef::parse(&format!(
            "{repo}:{}{alg}-{hex}.{}",
            self.tag_prefix,
            kind.suffix()
        ))
    }
}

/// The layers at `image`'s `kind` tag that `want` selects, with their bytes (each refused before
/// download when larger than the client's attachment limit).
pub fn read_tag(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    kind: Attachment,
    want: impl Fn(&Descriptor) -> bool,
) -> Result<Vec<Attached>, RegistryError> {
    read_tag_at(registry, &attachment_ref(image, digest, kind)?, want)
}

/// The layers at the attachment tag `at` that `want` selects, with their bytes.
pub fn read_tag_at(
    registry: &Registry,
    at: &ImageRef,
    want: impl Fn(&Descriptor) -> bool,
) -> Result<Vec<Attached>, RegistryError> {
    let repo = Repo::from(at);
    let Some(fetched) = registry.get_manifest_cached(repo, at.reference())? else {
        return Ok(Vec::new());
    };
    let m = image_manifest(fetched, &at.to_string())?;
    let mut budget = Budget::new(registry, at.to_string());
    let mut out = Vec::new();
    for layer in m.layers.into_iter().filter(|l| want(l)) {
        if let Some(data) = budget.fetch(repo, &layer)? {
            out.push(Attached {
                source: Source::Tag(at.to_string()),
                layer,
                data,
            });
        }
    }
    Ok(out)
}

/// What one manifest's attachments may cost: each digest is fetched once, an exact repeat of a
/// layer (same digest, same annotations) is dropped, and the count and total bytes of what is
/// read are bounded ([`RegistryOptions`](crate::RegistryOptions)'s `max_attachments` and
/// `max_attachments_total`).
struct Budget<'r> {
    registry: &'r Registry,
    what: String,
    fetched: std::collections::HashMap<String, std::sync::Arc<Vec<u8>>>,
    seen: std::collections::HashSet<(String, Vec<(String, String)>)>,
    count: usize,
    bytes: u64,
}

impl<'r> Budget<'r> {
    fn new(registry: &'r Registry, what: String) -> Self {
        Self {
            registry,
            what,
            fetched: Default::default(),
            seen: Default::default(),
            count: 0,
            bytes: 0,
        }
    }

    /// The layer's bytes; `None` for an exact repeat of a layer already read.
    fn fetch(
        &mut self,
        repo: Repo<'_>,
        layer: &Descriptor,
    ) -> Result<Option<std::sync::Arc<Vec<u8>>>, RegistryError> {
        let annotations: Vec<(String, String)> = layer
            .annotations
            .as_ref()
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if !self.seen.insert((layer.digest.clone(), annotations)) {
            return Ok(None);
        }
        let opts = self.registry.options();
        self.count += 1;
        if self.count > opts.max_attachments {
            return Err(RegistryError::TooMany {
                what: self.what.clone(),
                count: self.count,
                limit: opts.max_attachments,
            });
        }
        if let Some(d) = self.fetched.get(&layer.digest) {
            return Ok(Some(d.clone()));
        }
        let announced = layer.size;
        if self.bytes + announced > opts.max_attachments_total {
            return Err(RegistryError::TooLarge {
                what: format!("the attachments of {} together", self.what),
                size: self.bytes + announced,
                limit: opts.max_attachments_total,
            });
        }
        let data = std::sync::Arc::new(self.registry.get_blob(
            repo,
            layer,
            opts.max_attachment_size,
        )?);
        self.bytes += data.len() as u64;
        self.fetched.insert(layer.digest.clone(), data.clone());
        Ok(Some(data))
    }
}

/// The referrers of `digest` in `image`'s repository whose artifact type is one of
/// `artifact_types` (all when empty): the referrers API, or the tag-schema fallback index when
/// the registry has none.
pub fn referrers(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    artifact_types: &[&str],
) -> Result<Vec<Descriptor>, RegistryError> {
    let repo = Repo::from(image);
    let listing = match registry.referrers(repo, digest)? {
        Some(i) => i,
        None => match registry.get_manifest(repo, &fallback_tag(digest)?)? {
            None => Index::empty(),
            Some(f) => match f.manifest {
                Manifest::Index(i) => i,
                Manifest::Image(_) => Index::empty(),
            },
        },
    };
    Ok(listing
        .manifests
        .into_iter()
        .filter(|d| {
            artifact_types.is_empty()
                || d.artifact_type
                    .as_deref()
                    .is_some_and(|t| artifact_types.contains(&t))
        })
        .collect())
}

/// The layers of the referrers of `digest` with one of `artifact_types`. A referrer whose
/// `subject` is not `digest` is skipped (a listing cannot make a manifest refer to an image).
pub fn read_referrers(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    artifact_types: &[&str],
) -> Result<Vec<Attached>, RegistryError> {
    let repo = Repo::from(image);
    let mut budget = Budget::new(
        registry,
        format!("the referrers of {}", image.with_digest(digest)),
    );
    let mut out = Vec::new();
    for d in referrers(registry, image, digest, artifact_types)? {
        let Some(f) = registry.get_manifest(repo, &d.digest)? else {
            continue;
        };
        let reference = image.with_digest(&d.digest);
        let m = image_manifest(f, &reference)?;
        if m.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest) {
            continue;
        }
        let artifact_type = m
            .artifact_type
            .clone()
            .unwrap_or_else(|| m.config.media_type.clone());
        let annotations = m.annotations.clone().unwrap_or_default();
        for layer in m.layers {
            let Some(data) = budget.fetch(repo, &layer)? else {
                continue;
            };
            out.push(Attached {
                source: Source::Referrer {
                    reference: reference.clone(),
                    artifact_type: artifact_type.clone(),
                    annotations: annotations.clone(),
                },
                layer,
                data,
            });
        }
    }
    Ok(out)
}

/// A layer to attach.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// The layer's bytes.
    pub data: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Added; the manifest now at the location has this digest.
    Added {
        /// Where.
        reference: String,
        /// The new manifest's digest.
        manifest: String,
    },
    /// An equivalent object was already there; nothing was written.
    AlreadyPresent {
        /// Where.
        reference: String,
    },
}

/// cosign's signature-image config: go-containerregistry's empty image with one diff id per
/// layer and the zero creation time.
fn signature_config(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    })
    .to_string()
    .into_bytes()
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("manifests serialise")
}

fn jitter(attempt: u32) -> Duration {
    // Spread retries of concurrent writers apart without a random-number generator.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(5 + u64::from(nanos % 40) + 10 * u64::from(attempt))
}

/// Appends `layer` to the manifest at `image`'s `kind` tag for `digest`, unless a layer there
/// is a duplicate by `is_duplicate` (for example the same payload signed by the same key).
pub fn append_to_tag(
    registry: &Registry,
    image: &ImageRef,
    digest: &str,
    kind: Attachment,
    layer: &NewLayer,
    is_duplicate: &dyn Fn(&Descriptor) -> Result<bool, RegistryError>,
) -> Result<Written, RegistryError> {
    let at = attachment_ref(image, digest, kind)?;
    let tag = at.reference().to_owned();
    let mut desc = Descriptor::of(&layer.media_type, &layer.data);
    desc.annotations = Some(layer.annotations.clone());
    let mut uploaded = false;
    for attempt in 0..MAX_ATTEMPTS {
        match append_once(
            registry,
            &at,
            &tag,
            layer,
            &desc,
            &mut uploaded,
            is_duplicate,
            attempt,
        ) {
            Ok(Some(w)) => return Ok(w),
            Ok(None) => {}
            Err(e) if e.is_transient() && attempt + 1 < MAX_ATTEMPTS => {
                std::thread::sleep(jitter(attempt));
            }
            Err(e) => return Err(e),
        }
    }
    Err(RegistryError::Registry {
        registry: at.registry().to_owned(),
        detail: format!(
            "{at}: the tag kept changing under concurrent writers; gave up after {MAX_ATTEMPTS} attempts"
        ),
    })
}

/// One read-modify-write: `Some` when done, `None` to start over.
#[allow(clippy::too_many_arguments)]
fn append_once(
    registry: &Registry,
    at: &ImageRef,
    tag: &str,
    layer: &NewLayer,
    desc: &Descriptor,
    uploaded: &mut bool,
    is_duplicate: &dyn Fn(&Descriptor) -> Result<bool, RegistryError>,
    attempt: u32,
) -> Result<Option<Written>, RegistryError> {
    let repo = Repo::from(at);
    {
        let current = registry.get_manifest(repo, tag)?;
        let before = current.as_ref().map(|f| f.digest.clone());
        let mut layers = match current {
            Some(f) => image_manifest(f, &at.to_string())?.layers,
            None => Vec::new(),
        };
        for l in &layers {
            if is_duplicate(l)? {
                return Ok(Some(Written::AlreadyPresent {
                    reference: at.to_string(),
                }));
            }
        }
        if !*uploaded {
            registry.put_blob(repo, &layer.media_type, &layer.data)?;
            *uploaded = true;
        }
        layers.push(desc.clone());
        let config = signature_config(&layers);
        let config = registry.put_blob(repo, OCI_CONFIG, &config)?;
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: None,
        };
        let bytes = to_json(&m);
        // Another writer may have moved the tag while we built ours.
        let now = registry.head_manifest(repo, tag)?.map(|h| h.digest);
        if now != before {
            std::thread::sleep(jitter(attempt));
            return Ok(None);
        }
        let written = match registry.put_manifest(repo, tag, &bytes, OCI_MANIFEST) {
            Ok(w) => w,
            Err(e) if e.is_blob_unknown() && attempt + 1 < MAX_ATTEMPTS => {
                // Upload our layer again if it is really gone (HEAD first), then start over.
                *uploaded = false;
                std::thread::sleep(jitter(attempt));
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if survived(registry, repo, tag, desc, attempt)? {
            return Ok(Some(Written::Added {
                reference: at.to_string(),
                manifest: written,
            }));
        }
        Ok(None)
    }
}

/// Whether the manifest at `tag` still lists `desc` (checked now and once more after
/// [`SURVIVAL_WAIT`], so that a writer that read before our PUT and wrote after it is noticed).
fn survived(
    registry: &Registry,
    repo: Repo<'_>,
    tag: &str,
    desc: &Descriptor,
    attempt: u32,
) -> Result<bool, RegistryError> {
    for round in 0..2 {
        if round == 1 {
            std::thread::sleep(jitter(attempt) + SURVIVAL_WAIT);
        }
        let present = match registry.get_manifest(repo, tag)? {
            Some(FetchedManifest {
                manifest: Manifest::Image(m),
                ..
            }) => m
                .layers
                .iter()
                .any(|l| l.digest == desc.digest && l.annotations == desc.annotations),
            Some(_) | None => false,
        };
        if !present {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Pushes a referrer manifest for `subject` (the empty config, one layer, these manifest
/// annotations) by digest, and records it in the tag-schema fallback index when the registry
/// has no referrers API. Returns the referrer's digest.
pub fn write_referrer(
    registry: &Registry,
    image: &ImageRef,
    subject: &Descriptor,
    artifact_type: &str,
    layer: &NewLayer,
    annotations: BTreeMap<String, String>,
) -> Result<String, RegistryError> {
    let repo = Repo::from(image);
    let config = registry.put_blob(repo, OCI_EMPTY, b"{}")?;
    let mut l = registry.put_blob(repo, &layer.media_type, &layer.data)?;
    l.annotations = (!layer.annotations.is_empty()).then(|| layer.annotations.clone());
    let subject = Descriptor {
        media_type: subject.media_type.clone(),
        size: subject.size,
        digest: subject.digest.clone(),
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        artifact_type: Some(artifact_type.to_owned()),
        config,
        layers: vec![l],
        subject: Some(subject.clone()),
        annotations: (!annotations.is_empty()).then(|| annotations.clone()),
    };
    let bytes = to_json(&m);
    let digest = manifest::sha256_digest(&bytes);
    for attempt in 0.. {
        match registry.put_manifest(repo, &digest, &bytes, OCI_MANIFEST) {
            Ok(_) => break,
            // Concurrent uploads of the shared empty config (or one payload) can hide a blob
            // for a moment; make sure both are there and try again.
            Err(e) if (e.is_blob_unknown() || e.is_transient()) && attempt + 1 < MAX_ATTEMPTS => {
                std::thread::sleep(jitter(attempt));
                registry.put_blob(repo, OCI_EMPTY, b"{}")?;
                registry.put_blob(repo, &layer.media_type, &layer.data)?;
            }
            Err(e) => return Err(e),
        }
    }
    if registry.referrers(repo, &subject.digest)?.is_none() {
        let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
        entry.artifact_type = Some(artifact_type.to_owned());
        entry.annotations = m.annotations.clone();
        add_to_fallback_index(registry, image, &subject.digest, &entry)?;
    }
    Ok(digest)
}

/// Lists the referrer `entry` in the tag-schema index of `subject` (once).
pub fn add_to_fallback_index(
    registry: &Registry,
    image: &ImageRef,
    subject: &str,
    entry: &Descriptor,
) -> Result<(), RegistryError> {
    update_fallback_index(registry, image, subject, |i| {
        if i.manifests.iter().any(|d| d.digest == entry.digest) {
            false
        } else {
            i.manifests.push(entry.clone());
            true
        }
    })
}

/// Changes the referrers tag-schema index of `subject` with `edit` (which says whether it
/// changed anything), retrying when another writer moved the tag. An index left empty is
/// deleted.
pub fn update_fallback_index(
    registry: &Registry,
    image: &ImageRef,
    subject: &str,
    edit: impl Fn(&mut Index) -> bool,
) -> Result<(), RegistryError> {
    let repo = Repo::from(image);
    let tag = fallback_tag(subject)?;
    let once = |attempt: u32| -> Result<bool, RegistryError> {
        let current = registry.get_manifest(repo, &tag)?;
        let before = current.as_ref().map(|f| f.digest.clone());
        let mut index = match current.map(|f| f.manifest) {
            Some(Manifest::Index(i)) => i,
            _ => Index::empty(),
        };
        if !edit(&mut index) {
            return Ok(true);
        }
        let now = registry.head_manifest(repo, &tag)?.map(|h| h.digest);
        if now != before {
            std::thread::sleep(jitter(attempt));
            return Ok(false);
        }
        if index.manifests.is_empty() {
            if let Some(d) = before {
                registry.delete_manifest(repo, &d)?;
            }
            return Ok(true);
        }
        registry.put_manifest(repo, &tag, &to_json(&index), OCI_INDEX)?;
        // Done when the edit no longer changes what the registry holds.
        let mut check = match registry.get_manifest(repo, &tag)?.map(|f| f.manifest) {
            Some(Manifest::Index(i)) => i,
            _ => Index::empty(),
        };
        Ok(!edit(&mut check))
    };
    for attempt in 0..MAX_ATTEMPTS {
        match once(attempt) {
            Ok(true) => return Ok(()),
            Ok(false) => std::thread::sleep(jitter(attempt)),
            Err(e) if e.is_transient() && attempt + 1 < MAX_ATTEMPTS => {
                std::thread::sleep(jitter(attempt))
            }
            Err(e) => return Err(e),
        }
    }
    Err(RegistryError::Registry {
        registry: image.registry().to_owned(),
        detail: format!("{image}: the referrers fallback tag {tag} kept changing; gave up"),
    })
}

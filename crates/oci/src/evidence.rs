//! Offline evidence: what a verification reads from registries (image manifests, signature and
//! attestation tags, referrers and their layers), saved to a directory ([`save`]) and served
//! back by a [`Registry`] made with [`Registry::offline`], so that the same verification code
//! decides with zero sockets (air-gapped review, `sigil policy test --evidence DIR`).
//!
//! The directory is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`):
//! every manifest and blob is content-addressed and checked against its digest when read. In
//! `index.json`, a tag is an entry whose `org.opencontainers.image.ref.name` is the full
//! reference (`registry/repository:tag`; `registry/repository@sha256:…` for a manifest read by
//! digest: saved bytes answer only for the repository they were saved from), and a referrer is
//! an entry whose
//! `dev.sigil.referrer-of` names its subject (`registry/repository@sha256:…`). The image's
//! own layers are not saved: verifying signatures does not read them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::attach;
use crate::client::{FetchedManifest, ManifestHead};
use crate::manifest::{self, Descriptor, Index, Manifest};
use crate::{Attachment, ImageRef, Registry, RegistryError, Repo};

/// The annotation naming a tag's full reference.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation naming a referrer's subject.
pub const REFERRER_OF: &str = "dev.sigil.referrer-of";
/// The largest `index.json` read.
pub const MAX_INDEX: u64 = 64 * 1024 * 1024;

/// A saved evidence directory, read.
#[derive(Debug, Clone)]
pub struct Evidence {
    dir: PathBuf,
    /// Full reference (`registry/repository:tag`) -> manifest descriptor.
    tags: BTreeMap<String, Descriptor>,
    /// Subject (`registry/repository@digest`) -> referrer descriptors.
    referrers: BTreeMap<String, Vec<Descriptor>>,
    /// Every manifest descriptor by digest (its media type).
    manifests: BTreeMap<String, Descriptor>,
}

fn io(dir: &Path, what: &str, e: std::io::Error) -> RegistryError {
    RegistryError::Runtime(format!("evidence {}: {what}: {e}", dir.display()))
}

fn bad(dir: &Path, detail: String) -> RegistryError {
    RegistryError::Registry {
        registry: format!("evidence {}", dir.display()),
        detail,
    }
}

impl Evidence {
    /// Opens a directory written by [`save`].
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        let index_path = dir.join("index.json");
        let bytes = read_capped(&index_path, MAX_INDEX).map_err(|e| io(dir, "index.json", e))?;
        let index: Index = serde_json::from_slice(&bytes)
            .map_err(|e| bad(dir, format!("index.json is not an OCI index: {e}")))?;
        let mut out = Self {
            dir: dir.to_owned(),
            tags: BTreeMap::new(),
            referrers: BTreeMap::new(),
            manifests: BTreeMap::new(),
        };
        for d in index.manifests {
            manifest::check_digest(&d.digest).map_err(|e| bad(dir, e.to_string()))?;
            if let Some(name) = d.annotation(REF_NAME) {
                out.tags.insert(name.to_owned(), d.clone());
            }
            if let Some(subject) = d.annotation(REFERRER_OF) {
                out.referrers
                    .entry(subject.to_owned())
                    .or_default()
                    .push(d.clone());
            }
            out.manifests.insert(d.digest.clone(), d);
        }
        Ok(out)
    }

    fn blob(&self, digest: &str, limit: u64) -> Result<Option<Vec<u8>>, RegistryError> {
        manifest::check_digest(digest).map_err(|e| bad(&self.dir, e.to_string()))?;
        let hex = digest.trim_start_matches("sha256:");
        let path = self.dir.join("blobs/sha256").join(hex);
        let bytes = match read_capped(&path, limit) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                return Err(RegistryError::TooLarge {
                    what: format!("evidence blob {digest}"),
                    size: limit + 1,
                    limit,
                });
            }
            Err(e) => return Err(io(&self.dir, digest, e)),
        };
        let actual = manifest::sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("evidence blob {}", path.display()),
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(Some(bytes))
    }

    /// The digest `reference` names in `repo`: a tag, or a digest saved for that repository
    /// (content-addressed bytes saved for one repository never answer for another).
    fn digest_of(&self, repo: Repo<'_>, reference: &str) -> Option<String> {
        let sep = if reference.contains(':') { '@' } else { ':' };
        let key = format!("{}/{}{sep}{reference}", repo.registry, repo.repository);
        self.tags.get(&key).map(|d| d.digest.clone())
    }

    pub(crate) fn get_manifest(
        &self,
        repo: Repo<'_>,
        reference: &str,
        limit: u64,
    ) -> Result<Option<FetchedManifest>, RegistryError> {
        let Some(digest) = self.digest_of(repo, reference) else {
            return Ok(None);
        };
        let Some(bytes) = self.blob(&digest, limit)? else {
            return Ok(None);
        };
        let content_type = self.manifests.get(&digest).map(|d| d.media_type.clone());
        let manifest = Manifest::parse(&bytes, content_type.as_deref()).map_err(|error| {
            RegistryError::Manifest {
                what: format!("evidence manifest {digest}"),
                error,
            }
        })?;
        Ok(Some(FetchedManifest {
            bytes,
            digest,
            content_type,
            manifest,
        }))
    }

    pub(crate) fn head_manifest(
        &self,
        repo: Repo<'_>,
        reference: &str,
        limit: u64,
    ) -> Result<Option<ManifestHead>, RegistryError> {
        Ok(self
            .get_manifest(repo, reference, limit)?
            .map(|m| ManifestHead {
                size: Some(m.bytes.len() as u64),
                digest: m.digest,
                media_type: m.content_type,
            }))
    }

    pub(crate) fn get_blob(
        &self,
        repo: Repo<'_>,
        desc: &Descriptor,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        if desc.size > limit {
            return Err(RegistryError::TooLarge {
                what: format!("evidence blob {}", desc.digest),
                size: desc.size,
                limit,
            });
        }
        self.blob(&desc.digest, desc.size)?
            .ok_or_else(|| RegistryError::Status {
                registry: repo.registry.to_owned(),
                status: 404,
                codes: vec!["BLOB_UNKNOWN".into()],
                detail: format!(
                    "blob {} of {} is not in the evidence {}",
                    desc.digest,
                    repo.repository,
                    self.dir.display()
                ),
            })
    }

    pub(crate) fn referrers(&self, repo: Repo<'_>, digest: &str) -> Index {
        let key = format!("{}/{}@{digest}", repo.registry, repo.repository);
        let mut manifests = self.referrers.get(&key).cloned().unwrap_or_default();
        for m in &mut manifests {
            if let Some(a) = &mut m.annotations {
                a.remove(REFERRER_OF);
                if a.is_empty() {
                    m.annotations = None;
                }
            }
        }
        Index {
            schema_version: 2,
            media_type: Some(manifest::OCI_INDEX.to_owned()),
            manifests,
            annotations: None,
        }
    }
}

fn read_capped(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("over the {limit}-byte limit"),
        ));
    }
    Ok(buf)
}

/// What [`save`] wrote for one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// The image as given.
    pub image: String,
    /// Its digest.
    pub digest: String,
    /// Manifests written (the image's, its platforms', attachment tags', referrers').
    pub manifests: usize,
    /// Attachment layers written.
    pub blobs: usize,
}

/// A directory being written: blobs by digest, index entries by key.
struct Writer {
    dir: PathBuf,
    entries: BTreeMap<(String, String), Descriptor>,
}

impl Writer {
    fn open(dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(|e| io(dir, "create", e))?;
        let mut entries = BTreeMap::new();
        // Saving into an existing directory adds to it.
        if dir.join("index.json").exists() {
            let e = Evidence::open(dir)?;
            for (name, d) in e.tags {
                entries.insert((name, d.digest.clone()), d);
            }
            for (subject, ds) in e.referrers {
                for d in ds {
                    entries.insert((subject.clone(), d.digest.clone()), d);
                }
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            entries,
        })
    }

    fn blob(&self, digest: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let hex = digest.trim_start_matches("sha256:");
        let path = self.dir.join("blobs/sha256").join(hex);
        if path.exists() {
            return Ok(());
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes).map_err(|e| io(&self.dir, digest, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&self.dir, digest, e))
    }

    fn manifest(&self, m: &FetchedManifest) -> Result<Descriptor, RegistryError> {
        self.blob(&m.digest, &m.bytes)?;
        Ok(Descriptor {
            media_type: m
                .content_type
                .clone()
                .unwrap_or_else(|| manifest::OCI_MANIFEST.to_owned()),
            size: m.bytes.len() as u64,
            digest: m.digest.clone(),
            annotations: None,
            platform: None,
            artifact_type: None,
        })
    }

    /// An index entry naming a manifest by its full reference.
    fn tag(&mut self, name: String, mut d: Descriptor) {
        d.annotations = Some(BTreeMap::from([(REF_NAME.to_owned(), name.clone())]));
        self.entries.insert((name, d.digest.clone()), d);
    }

    /// An index entry for a referrer of `subject`, with what its listing said of it.
    fn referrer(&mut self, subject: &str, mut d: Descriptor, listed: &Descriptor) {
        let mut a = listed.annotations.clone().unwrap_or_default();
        a.insert(REFERRER_OF.to_owned(), subject.to_owned());
        d.annotations = Some(a);
        d.artifact_type = listed.artifact_type.clone();
        self.entries
            .insert((subject.to_owned(), d.digest.clone()), d);
    }

    /// The manifest and (for an image manifest) its config and layers under the attachment
    /// limit: what verification reads.
    fn manifest_and_layers(
        &self,
        registry: &Registry,
        repo: Repo<'_>,
        m: &FetchedManifest,
        saved: &mut Saved,
    ) -> Result<Descriptor, RegistryError> {
        let limit = registry.options().max_attachment_size;
        let d = self.manifest(m)?;
        saved.manifests += 1;
        if let Manifest::Image(im) = &m.manifest {
            for l in im.layers.iter().chain(std::iter::once(&im.config)) {
                if l.size <= limit {
                    self.blob(&l.digest, &registry.get_blob(repo, l, limit)?)?;
                    saved.blobs += 1;
                }
            }
        }
        Ok(d)
    }

    fn finish(self) -> Result<(), RegistryError> {
        std::fs::write(
            self.dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .map_err(|e| io(&self.dir, "oci-layout", e))?;
        let index = Index {
            schema_version: 2,
            media_type: Some(manifest::OCI_INDEX.to_owned()),
            manifests: self.entries.into_values().collect(),
            annotations: None,
        };
        let tmp = self.dir.join("index.json.tmp");
        let json =
            serde_json::to_vec_pretty(&index).map_err(|e| RegistryError::Runtime(e.to_string()))?;
        std::fs::write(&tmp, json).map_err(|e| io(&self.dir, "index.json", e))?;
        std::fs::rename(&tmp, self.dir.join("index.json"))
            .map_err(|e| io(&self.dir, "index.json", e))
    }
}

/// Saves what verifying `images` reads into `dir` (created, or added to): each image's
/// manifest (and every platform's, for an index), the tag it was named by, and for every
/// manifest its `.sig`, `.att` and `.sbom` tags (in `locations` too: other repositories and tag
/// prefixes that policies read) and its referrers, with their layers.
pub fn save(
    registry: &Registry,
    images: &[ImageRef],
    locations: &[attach::Location],
    dir: &Path,
) -> Result<Vec<Saved>, RegistryError> {
    let mut w = Writer::open(dir)?;
    let mut out = Vec::new();
    for image in images {
        let mut saved = Saved {
            image: image.to_string(),
            ..Saved::default()
        };
        let targets = attach::targets(registry, image, true)?;
        saved.digest = targets
            .first()
            .map(|t| t.digest.clone())
            .unwrap_or_default();
        let place = |r: &ImageRef| format!("{}/{}", r.registry(), r.repository());
        for (i, t) in targets.iter().enumerate() {
            let Some(m) = registry.get_manifest(image.into(), &t.digest)? else {
                continue;
            };
            let d = w.manifest(&m)?;
            saved.manifests += 1;
            if i == 0
                && let Some(tag) = image.tag()
            {
                w.tag(format!("{}:{tag}", place(image)), d.clone());
            }
            w.tag(format!("{}@{}", place(image), t.digest), d);
            let default = [attach::Location::default()];
            for loc in default.iter().chain(locations) {
                for kind in [
                    Attachment::Signature,
                    Attachment::Attestation,
                    Attachment::Sbom,
                ] {
                    let at = loc.tag(image, &t.digest, kind)?;
                    let Some(m) = registry.get_manifest(Repo::from(&at), at.reference())? else {
                        continue;
                    };
                    let d = w.manifest_and_layers(registry, Repo::from(&at), &m, &mut saved)?;
                    w.tag(format!("{}:{}", place(&at), at.reference()), d);
                }
                let repo_image = loc.repository_of(image)?;
                let subject = format!("{}@{}", place(&repo_image), t.digest);
                for r in attach::referrers(registry, &repo_image, &t.digest, &[])? {
                    let repo = Repo::from(&repo_image);
                    let Some(m) = registry.get_manifest(repo, &r.digest)? else {
                        continue;
                    };
                    let d = w.manifest_and_layers(registry, repo, &m, &mut saved)?;
                    w.tag(format!("{}@{}", place(&repo_image), r.digest), d.clone());
                    w.referrer(&subject, d, &r);
                }
            }
        }
        out.push(saved);
    }
    w.finish()?;
    Ok(out)
}

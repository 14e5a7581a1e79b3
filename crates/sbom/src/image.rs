//! Container images: OCI layouts (directory or tar), `docker save` archives and registries.
//!
//! Layers are read in order as streams (gzip, zstd or plain tar). Only the files a cataloger
//! wants are kept in memory; whiteouts (`.wh.<name>`) and opaque directories (`.wh..wh..opq`)
//! of a layer remove what lower layers put there. Nothing is written to disk.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use sha2::Digest;
use sigil_formats::oci::{Descriptor, ImageManifest, Manifest};

use crate::catalog::{self, Kind, Tree};
use crate::{Inventory, Progress, SbomError, ScanOptions, SourceInfo, Warning};

/// Image manifests, indexes and configs over this size are refused.
const MAX_DOCUMENT: u64 = 4 << 20;

/// Why a layer could not be applied.
#[derive(Debug)]
enum ApplyError {
    /// The stream is not a readable tar.
    Malformed(String),
    /// Keeping this layer's files would hold more than the image's memory budget.
    Budget { limit: u64 },
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(m) => f.write_str(m),
            Self::Budget { limit } => write!(
                f,
                "the files kept from this image would exceed its {limit}-byte memory budget (--max-image-memory)"
            ),
        }
    }
}

/// The files kept from an image's layers. A hard link shares its target's bytes (one copy,
/// however many links), and everything held counts against one budget for the whole image.
pub(crate) struct LayerTree {
    files: BTreeMap<String, Arc<[u8]>>,
    /// Directory symlinks under `usr/share/doc/` (Debian points some packages' doc
    /// directories at another's), so copyright files are found through them.
    links: BTreeMap<String, String>,
    entries: Vec<(String, Kind)>,
    warnings: Vec<Warning>,
    /// Bytes of file data the tree may hold at once, across all layers.
    budget: u64,
    /// Bytes it holds now (each shared copy counted once).
    held: u64,
}

impl LayerTree {
    fn new(budget: u64) -> Self {
        Self {
            files: BTreeMap::new(),
            links: BTreeMap::new(),
            entries: Vec::new(),
            warnings: Vec::new(),
            budget,
            held: 0,
        }
    }

    /// The bytes held by `files`, each shared copy once.
    fn held_bytes(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        self.files
            .values()
            .filter(|d| seen.insert(d.as_ptr() as usize))
            .map(|d| d.len() as u64)
            .sum()
    }

    fn finish(mut self) -> Self {
        self.entries = self
            .files
            .keys()
            .filter_map(|p| catalog::classify(p).map(|k| (p.clone(), k)))
            .collect();
        self
    }

    /// Applies one layer from its tar stream.
    fn apply(&mut self, layer: &str, tar: impl Read, max_file_size: u64) -> Result<(), ApplyError> {
        let consumed = std::cell::Cell::new(0u64);
        let mut archive = tar::Archive::new(Counting {
            inner: tar,
            n: &consumed,
        });
        // Where the last entry's data ends in the stream.
        let mut data_end = 0u64;
        // This layer's files, in a map so a hard link finds its target in one lookup; with
        // the bytes they add to what the tree already holds.
        let mut added: HashMap<String, Arc<[u8]>> = HashMap::new();
        let mut adding = 0u64;
        let mut added_links: Vec<(String, String)> = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        let mut opaque: Vec<String> = Vec::new();
        let mut hardlinks: Vec<(String, String)> = Vec::new();
        let entries = archive
            .entries()
            .map_err(|e| ApplyError::Malformed(format!("not a tar stream: {e}")))?;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                // umoci 0.4 writes layers that stop right after the last file's data, without
                // its padding and the end-of-archive blocks (the diff_id covers exactly those
                // bytes). Nothing is lost then; a stream cut anywhere else is an error.
                Err(_) if consumed.get() == data_end && data_end > 0 => break,
                Err(e) => return Err(ApplyError::Malformed(format!("malformed tar: {e}"))),
            };
            data_end = entry.raw_file_position() + entry.size();
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(path) = normalise(&raw) else {
                self.warnings.push(Warning {
                    path: format!("{layer}: {raw}"),
                    line: None,
                    message: "skipped: a tar entry that would escape the root".into(),
                });
                continue;
            };
            let (dir, name) = match path.rsplit_once('/') {
                Some((d, n)) => (d.to_owned(), n),
                None => (String::new(), path.as_str()),
            };
            if name == ".wh..wh..opq" {
                opaque.push(dir);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                removed.push(if dir.is_empty() {
                    hidden.to_owned()
                } else {
                    format!("{dir}/{hidden}")
                });
                continue;
            }
            let kind = entry.header().entry_type();
            let wanted = catalog::classify(&path).is_some() || catalog::is_auxiliary(&path);
            if kind.is_symlink() {
                if path.starts_with("usr/share/doc/") && path.matches('/').count() == 3 {
                    if let Ok(Some(t)) = entry.link_name() {
                        added_links.push((path.clone(), t.to_string_lossy().into_owned()));
                    }
                }
                if self.files.contains_key(&path) {
                    removed.push(path);
                }
                continue;
            }
            if kind.is_hard_link() {
                if wanted {
                    if let Ok(Some(t)) = entry.link_name() {
                        if let Some(t) = normalise(&t.to_string_lossy()) {
                            hardlinks.push((path, t));
                        }
                    }
                }
                continue;
            }
            if !kind.is_file() {
                if self.files.contains_key(&path) {
                    removed.push(path);
                }
                continue;
            }
            if !wanted {
                if self.files.contains_key(&path) {
                    removed.push(path);
                }
                continue;
            }
            let size = entry.size();
            if size > max_file_size {
                self.warnings.push(Warning {
                    path: format!("{layer}: {path}"),
                    line: None,
                    message: format!("skipped: {size} bytes, over the {max_file_size}-byte limit"),
                });
                continue;
            }
            adding += size;
            if self.held.saturating_add(adding) > self.budget {
                return Err(ApplyError::Budget { limit: self.budget });
            }
            let mut data = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut data)
                .map_err(|e| ApplyError::Malformed(format!("{path}: {e}")))?;
            if data.len() as u64 != size {
                return Err(ApplyError::Malformed(format!(
                    "{path}: the layer ends inside this file ({} of {size} bytes)",
                    data.len()
                )));
            }
            added.insert(path, data.into());
        }
        // Whiteouts hide what lower layers had; this layer's own files stay.
        for dir in opaque {
            let prefix = format!("{dir}/");
            self.files.retain(|k, _| !k.starts_with(&prefix));
            self.links.retain(|k, _| !k.starts_with(&prefix));
        }
        for r in removed {
            let prefix = format!("{r}/");
            self.files.retain(|k, _| k != &r && !k.starts_with(&prefix));
            self.links.retain(|k, _| k != &r && !k.starts_with(&prefix));
        }
        for (path, target) in hardlinks {
            // The link shares its target's bytes: no copy, nothing added to the budget.
            let data = added
                .get(&target)
                .or_else(|| self.files.get(&target))
                .cloned();
            if let Some(d) = data {
                added.insert(path, d);
            }
        }
        self.files.extend(added);
        self.links.extend(added_links);
        self.held = self.held_bytes();
        Ok(())
    }
}

/// A tar path made relative and clean; `None` when it climbs out with `..`.
fn normalise(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

impl Tree for LayerTree {
    fn entries(&self) -> &[(String, Kind)] {
        &self.entries
    }

    fn walk_warnings(&self) -> &[Warning] {
        &self.warnings
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(d) = self.files.get(path) {
            return Ok(Some(d.to_vec()));
        }
        // Through a usr/share/doc directory symlink (one level, relative or absolute).
        for (link, target) in &self.links {
            if let Some(rest) = path
                .strip_prefix(link.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                let base = link.rsplit_once('/').map_or("", |(d, _)| d);
                let joined = if target.starts_with('/') {
                    format!("{target}/{rest}")
                } else {
                    format!("{base}/{target}/{rest}")
                };
                if let Some(p) = normalise(&joined) {
                    return Ok(self.files.get(&p).map(|d| d.to_vec()));
                }
            }
        }
        Ok(None)
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        let mut out: Vec<String> = self
            .files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| k[prefix.len()..].split('/').next().map(str::to_owned))
            .collect();
        out.dedup();
        out
    }
}

/// Decompresses a layer by its magic bytes: gzip, zstd, or a plain tar.
fn decompress<'a>(r: impl Read + 'a) -> Result<Box<dyn Read + 'a>, String> {
    let mut br = BufReader::with_capacity(256 << 10, r);
    let head = br.fill_buf().map_err(|e| e.to_string())?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(br))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(br).map_err(|e| e.to_string())?)
    } else {
        Box::new(br)
    })
}

/// Counts the bytes read through it.
struct Counting<'a, R> {
    inner: R,
    n: &'a std::cell::Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n.set(self.n.get() + n as u64);
        Ok(n)
    }
}

/// Hashes what passes through, to check a blob against its digest.
struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Where an image's blobs come from.
trait Blobs {
    /// A small document (index, manifest, config) by path or digest.
    fn document(&mut self, name: &str) -> Result<Vec<u8>, SbomError>;
    /// A layer stream by digest (or archive path).
    fn layer(&mut self, name: &str) -> Result<Box<dyn Read + '_>, SbomError>;
}

fn blob_path(digest: &str) -> Result<String, SbomError> {
    let (alg, hex) = digest
        .split_once(':')
        .filter(|(a, h)| {
            *a == "sha256" && h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .ok_or_else(|| SbomError::Image(format!("{digest}: not a sha256 digest")))?;
    Ok(format!("blobs/{alg}/{hex}"))
}

/// One layer to read: its name (path or digest), the digest of its stored (possibly
/// compressed) bytes, and the `diff_id` (digest of the uncompressed tar) the image config gives.
struct LayerSpec {
    name: String,
    digest: Option<String>,
    diff_id: Option<String>,
}

/// Reads `layers` in order into a tree, checking each against its digest and its `diff_id`
/// when it has them.
fn read_layers(
    blobs: &mut dyn Blobs,
    layers: &[LayerSpec],
    opts: &ScanOptions<'_>,
) -> Result<LayerTree, SbomError> {
    let mut tree = LayerTree::new(opts.max_image_memory);
    for (
        i,
        LayerSpec {
            name,
            digest,
            diff_id,
        },
    ) in layers.iter().enumerate()
    {
        if let Some(p) = opts.progress {
            p(Progress::Layer {
                done: i,
                total: layers.len(),
            });
        }
        let raw = blobs.layer(name)?;
        let mut hashing = Hashing {
            inner: raw,
            hasher: sha2::Sha256::new(),
        };
        let plain_digest = {
            let stream = decompress(&mut hashing)
                .map_err(|e| SbomError::Image(format!("layer {name}: {e}")))?;
            let mut plain = Hashing {
                inner: stream,
                hasher: sha2::Sha256::new(),
            };
            tree.apply(name, &mut plain, opts.max_file_size)
                .map_err(|e| match e {
                    ApplyError::Budget { limit } => SbomError::MemoryBudget { limit },
                    e => SbomError::Image(format!("layer {name}: {e}")),
                })?;
            // Drain what tar left (padding, compressed trailer) so the digests cover it all.
            std::io::copy(&mut plain, &mut std::io::sink())
                .map_err(|e| SbomError::Image(format!("layer {name}: {e}")))?;
            format!("sha256:{}", hex::encode(plain.hasher.finalize()))
        };

        std::io::copy(&mut hashing, &mut std::io::sink())
            .map_err(|e| SbomError::Image(format!("layer {name}: {e}")))?;
        if let Some(d) = digest {
            let got = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
            if &got != d {
                return Err(SbomError::Image(format!(
                    "layer {name}: content is {got}, the manifest says {d}"
                )));
            }
        }
        if let Some(want) = diff_id
            && &plain_digest != want
        {
            return Err(SbomError::Image(format!(
                "layer {name}: its uncompressed content is {plain_digest}, the image config's diff_id is {want} (a tampered layer?)"
            )));
        }
    }
    if let Some(p) = opts.progress {
        p(Progress::Layer {
            done: layers.len(),
            total: layers.len(),
        });
    }
    Ok(tree.finish())
}

fn parse_manifest(bytes: &[u8], what: &str) -> Result<Manifest, SbomError> {
    Manifest::parse(bytes, None).map_err(|e| SbomError::Image(format!("{what}: {e}")))
}

/// Picks the manifest for `platform` (`os/arch[/variant]`) from an index.
fn pick_platform<'a>(
    manifests: &'a [Descriptor],
    platform: &str,
) -> Result<&'a Descriptor, SbomError> {
    let mut want = platform.split('/');
    let (os, arch, variant) = (
        want.next().unwrap_or(""),
        want.next().unwrap_or(""),
        want.next(),
    );
    manifests
        .iter()
        .find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == os
                    && p.architecture == arch
                    && (variant.is_none() || p.variant.as_deref() == variant)
            })
        })
        .ok_or_else(|| {
            let have: Vec<String> = manifests
                .iter()
                .filter_map(|d| {
                    d.platform
                        .as_ref()
                        .map(|p| format!("{}/{}", p.os, p.architecture))
                })
                .collect();
            SbomError::Image(format!(
                "no manifest for platform {platform} (the index has: {})",
                have.join(", ")
            ))
        })
}

/// An OCI layout: from `index.json`, the manifest tagged `tag` (or the only one), through
/// nested indexes to the platform's image manifest, then its layers.
fn scan_layout(
    blobs: &mut dyn Blobs,
    tag: Option<&str>,
    opts: &ScanOptions<'_>,
) -> Result<Inventory, SbomError> {
    let index = blobs.document("index.json")?;
    let index = match parse_manifest(&index, "index.json")? {
        Manifest::Index(i) => i,
        Manifest::Image(_) => return Err(SbomError::Image("index.json is not an index".into())),
    };
    let chosen = match tag {
        Some(t) => index
            .manifests
            .iter()
            .find(|d| {
                d.annotations
                    .as_ref()
                    .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                    .is_some_and(|n| n == t)
            })
            .ok_or_else(|| SbomError::Image(format!("index.json has no manifest tagged {t:?}")))?,
        None => match index.manifests.as_slice() {
            [one] => one,
            [] => return Err(SbomError::Image("index.json lists no manifests".into())),
            many => {
                if many.iter().all(|d| d.platform.is_some()) {
                    pick_platform(many, &opts.platform)?
                } else {
                    return Err(SbomError::Image(format!(
                        "index.json lists {} manifests; name one with :TAG",
                        many.len()
                    )));
                }
            }
        },
    };
    let (digest, manifest) = resolve_manifest(
        |digest| {
            let bytes = blobs.document(&blob_path(digest)?)?;
            check_digest(&bytes, digest)?;
            Ok((digest.to_owned(), parse_manifest(&bytes, digest)?))
        },
        &chosen.digest,
        &opts.platform,
    )?;
    let config = blobs.document(&blob_path(&manifest.config.digest)?)?;
    check_digest(&config, &manifest.config.digest)?;
    let diff_ids = diff_ids(&config, manifest.layers.len())?;
    let layers: Vec<LayerSpec> = manifest
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| {
            Ok(LayerSpec {
                name: blob_path(&l.digest)?,
                digest: Some(l.digest.clone()),
                diff_id: Some(diff_id),
            })
        })
        .collect::<Result<_, SbomError>>()?;
    inventory(blobs, &layers, opts, digest)
}

/// The image config's `rootfs.diff_ids`, one per layer.
fn diff_ids(config: &[u8], layers: usize) -> Result<Vec<String>, SbomError> {
    #[derive(serde::Deserialize)]
    struct Config {
        rootfs: Option<RootFs>,
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        #[serde(default)]
        diff_ids: Vec<String>,
    }
    let c: Config = serde_json::from_slice(config)
        .map_err(|e| SbomError::Image(format!("the image config: {e}")))?;
    let ids = c.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if ids.len() != layers {
        return Err(SbomError::Image(format!(
            "the image config lists {} diff_ids for {layers} layers",
            ids.len()
        )));
    }
    Ok(ids)
}

/// Follows indexes (at most 4 deep, picking `platform`) from `first` to an image manifest;
/// `fetch` gives a reference's digest and parsed document.
fn resolve_manifest(
    mut fetch: impl FnMut(&str) -> Result<(String, Manifest), SbomError>,
    first: &str,
    platform: &str,
) -> Result<(String, ImageManifest), SbomError> {
    let mut at = first.to_owned();
    for _ in 0..=4 {
        match fetch(&at)? {
            (digest, Manifest::Image(m)) => return Ok((digest, m)),
            (_, Manifest::Index(i)) => at = pick_platform(&i.manifests, platform)?.digest.clone(),
        }
    }
    Err(SbomError::Image("indexes nested too deep".into()))
}

/// Reads the layers and catalogues what they hold; `digest` names the image.
fn inventory(
    blobs: &mut dyn Blobs,
    layers: &[LayerSpec],
    opts: &ScanOptions<'_>,
    digest: String,
) -> Result<Inventory, SbomError> {
    let tree = read_layers(blobs, layers, opts)?;
    Ok(catalog::run(
        &tree,
        opts,
        SourceInfo {
            name: String::new(),
            image: true,
            digest: Some(digest),
        },
    ))
}

fn check_digest(bytes: &[u8], digest: &str) -> Result<(), SbomError> {
    let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
    if got == digest {
        Ok(())
    } else {
        Err(SbomError::Image(format!("blob {digest} hashes to {got}")))
    }
}

struct DirBlobs<'a> {
    root: &'a Path,
}

impl Blobs for DirBlobs<'_> {
    fn document(&mut self, name: &str) -> Result<Vec<u8>, SbomError> {
        let path = self.root.join(name);
        let io = |e| SbomError::Io {
            path: path.display().to_string(),
            error: e,
        };
        let f = File::open(&path).map_err(io)?;
        let mut out = Vec::new();
        f.take(MAX_DOCUMENT + 1).read_to_end(&mut out).map_err(io)?;
        if out.len() as u64 > MAX_DOCUMENT {
            return Err(SbomError::Image(format!(
                "{name}: over the {MAX_DOCUMENT}-byte limit"
            )));
        }
        Ok(out)
    }

    fn layer(&mut self, name: &str) -> Result<Box<dyn Read + '_>, SbomError> {
        let path = self.root.join(name);
        File::open(&path)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| SbomError::Io {
                path: path.display().to_string(),
                error: e,
            })
    }
}

/// A tar archive read in place: one pass lists where each member's bytes are, then members
/// are read by seeking.
struct TarBlobs {
    file: File,
    name: String,
    members: HashMap<String, (u64, u64)>,
}

impl TarBlobs {
    fn open(path: &Path) -> Result<Self, SbomError> {
        let io = |e| SbomError::Io {
            path: path.display().to_string(),
            error: e,
        };
        let file = File::open(path).map_err(io)?;
        let mut members = HashMap::new();
        {
            let mut archive = tar::Archive::new(BufReader::new(&file));
            let entries = archive.entries_with_seek().map_err(io)?;
            for e in entries {
                let e = e.map_err(|e| {
                    SbomError::Image(format!("{}: malformed tar: {e}", path.display()))
                })?;
                if !e.header().entry_type().is_file() {
                    continue;
                }
                let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                if let Some(p) = normalise(&raw) {
                    members.insert(p, (e.raw_file_position(), e.size()));
                }
            }
        }
        Ok(Self {
            file,
            name: path.display().to_string(),
            members,
        })
    }

    fn member(&mut self, name: &str) -> Result<std::io::Take<&File>, SbomError> {
        let &(pos, size) = self
            .members
            .get(name)
            .ok_or_else(|| SbomError::Image(format!("{}: no member {name}", self.name)))?;
        (&self.file)
            .seek(SeekFrom::Start(pos))
            .map_err(|e| SbomError::Io {
                path: self.name.clone(),
                error: e,
            })?;
        Ok((&self.file).take(size))
    }
}

impl Blobs for TarBlobs {
    fn document(&mut self, name: &str) -> Result<Vec<u8>, SbomError> {
        let name_owned = name.to_owned();
        let archive = self.name.clone();
        let r = self.member(name)?;
        if r.limit() > MAX_DOCUMENT {
            return Err(SbomError::Image(format!(
                "{name_owned}: over the {MAX_DOCUMENT}-byte limit"
            )));
        }
        let mut out = Vec::new();
        let mut r = r;
        r.read_to_end(&mut out).map_err(|e| SbomError::Io {
            path: archive,
            error: e,
        })?;
        Ok(out)
    }

    fn layer(&mut self, name: &str) -> Result<Box<dyn Read + '_>, SbomError> {
        let r = self.member(name)?;
        Ok(Box::new(r))
    }
}

pub(crate) fn single_layer(data: &[u8]) -> Result<Inventory, SbomError> {
    let mut tree = LayerTree::new(crate::DEFAULT_MAX_IMAGE_MEMORY);
    let stream = decompress(data).map_err(|e| SbomError::Image(format!("layer: {e}")))?;
    tree.apply("layer", stream, crate::DEFAULT_MAX_FILE_SIZE)
        .map_err(|e| SbomError::Image(format!("layer: {e}")))?;
    let tree = tree.finish();
    Ok(catalog::run(
        &tree,
        &ScanOptions {
            threads: 1,
            ..ScanOptions::default()
        },
        SourceInfo {
            name: "layer".into(),
            image: true,
            digest: None,
        },
    ))
}

pub(crate) fn scan_oci_dir(
    path: &Path,
    tag: Option<&str>,
    opts: &ScanOptions<'_>,
) -> Result<Inventory, SbomError> {
    scan_layout(&mut DirBlobs { root: path }, tag, opts)
}

pub(crate) fn scan_oci_archive(
    path: &Path,
    tag: Option<&str>,
    opts: &ScanOptions<'_>,
) -> Result<Inventory, SbomError> {
    scan_layout(&mut TarBlobs::open(path)?, tag, opts)
}

pub(crate) fn scan_docker_archive(
    path: &Path,
    opts: &ScanOptions<'_>,
) -> Result<Inventory, SbomError> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "Layers")]
        layers: Vec<String>,
    }
    let mut blobs = TarBlobs::open(path)?;
    let manifest = blobs.document("manifest.json")?;
    let entries: Vec<Entry> = serde_json::from_slice(&manifest)
        .map_err(|e| SbomError::Image(format!("manifest.json: {e}")))?;
    let [entry] = entries.as_slice() else {
        return Err(SbomError::Image(format!(
            "manifest.json lists {} images; Sigil reads archives of one",
            entries.len()
        )));
    };
    let inside = |p: &str, what: &str| {
        normalise(p).ok_or_else(|| {
            SbomError::Image(format!(
                "manifest.json: the {what} path {p:?} leaves the archive (absolute or with ..)"
            ))
        })
    };
    let config = blobs.document(&inside(&entry.config, "Config")?)?;
    let image_id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&config)));
    // The image ID is the config's digest, and the config names each layer's uncompressed
    // digest: every layer is checked against it, so a tampered layer is not reported under the
    // genuine image's ID.
    let diff_ids = diff_ids(&config, entry.layers.len())?;
    let layers: Vec<LayerSpec> = entry
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| {
            let p = inside(l, "Layers")?;
            // Newer archives name layers by digest (blobs/sha256/<hex>); check those.
            let digest = p
                .strip_prefix("blobs/sha256/")
                .map(|h| format!("sha256:{h}"));
            Ok(LayerSpec {
                name: p,
                digest,
                diff_id: Some(diff_id),
            })
        })
        .collect::<Result<_, SbomError>>()?;
    inventory(&mut blobs, &layers, opts, image_id)
}

struct RegistryBlobs<'a> {
    registry: &'a dyn crate::ImageRegistry,
    image: &'a str,
}

impl Blobs for RegistryBlobs<'_> {
    fn document(&mut self, name: &str) -> Result<Vec<u8>, SbomError> {
        // Manifests come through `manifest`; nothing else is read whole.
        Err(SbomError::Image(format!(
            "{name}: not read from a registry"
        )))
    }

    fn layer(&mut self, name: &str) -> Result<Box<dyn Read + '_>, SbomError> {
        self.registry
            .blob(self.image, name)
            .map_err(SbomError::Registry)
    }
}

pub(crate) fn scan_registry(
    reference: &str,
    opts: &ScanOptions<'_>,
) -> Result<Inventory, SbomError> {
    let registry = opts
        .registry
        .ok_or_else(|| SbomError::Source("registry: sources need registry access".into()))?;
    let parsed = sigil_formats::reference::Reference::parse(reference)
        .map_err(|e| SbomError::Source(format!("{reference}: {e}")))?;
    let first = parsed
        .digest()
        .or(parsed.tag())
        .unwrap_or("latest")
        .to_owned();
    let (digest, manifest) = resolve_manifest(
        |at| {
            registry
                .manifest(reference, at)
                .map_err(SbomError::Registry)
        },
        &first,
        &opts.platform,
    )?;
    // Each layer is checked against the digest the manifest (itself named by digest) gives.
    let layers: Vec<LayerSpec> = manifest
        .layers
        .iter()
        .map(|l| LayerSpec {
            name: l.digest.clone(),
            digest: Some(l.digest.clone()),
            diff_id: None,
        })
        .collect();
    let mut blobs = RegistryBlobs {
        registry,
        image: reference,
    };
    inventory(&mut blobs, &layers, opts, digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_hide_lower_layers() {
        let mut t = LayerTree::new(1 << 30);
        let status = b"Package: a\nStatus: install ok installed\nVersion: 1\n\n" as &[u8];
        t.apply(
            "l1",
            &layer(&[
                ("var/lib/dpkg/status", status),
                ("app/Cargo.lock", b"x"),
                ("etc/passwd", b"root"),
            ])[..],
            1 << 20,
        )
        .unwrap();
        assert_eq!(t.files.len(), 2);
        t.apply(
            "l2",
            &layer(&[
                ("app/.wh.Cargo.lock", b""),
                ("var/lib/.wh..wh..opq", b""),
                ("var/lib/dpkg/status", b"Package: b\n"),
            ])[..],
            1 << 20,
        )
        .unwrap();
        assert_eq!(t.files.keys().collect::<Vec<_>>(), ["var/lib/dpkg/status"]);
        assert_eq!(&t.files["var/lib/dpkg/status"][..], b"Package: b\n");
        t.apply("l3", &layer(&[(".wh.var", b"")])[..], 1 << 20)
            .unwrap();
        assert!(t.files.is_empty());
    }

    #[test]
    fn a_layer_without_its_end_blocks_is_read_and_a_cut_one_refused() {
        let full = layer(&[
            ("app/Cargo.lock", b"version = 3\n"),
            ("x/Gemfile.lock", &[b'a'; 700]),
        ]);
        // What umoci 0.4 writes: the last file's data, then nothing.
        let data_end = 512 + 512 + 512 + 700;
        let mut t = LayerTree::new(1 << 30);
        t.apply("l", &full[..data_end], 1 << 20).unwrap();
        assert_eq!(t.files["x/Gemfile.lock"].len(), 700);
        let mut t = LayerTree::new(1 << 30);
        let e = t
            .apply("l", &full[..data_end - 1], 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x/Gemfile.lock") || e.contains("malformed tar"),
            "{e}"
        );
    }

    /// A layer with one file and `links` hard links to it.
    fn linked_layer(target: &str, data: &[u8], links: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, target, data).unwrap();
        for i in 0..links {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Link);
            b.append_link(&mut h, format!("l{i}/Cargo.lock"), target)
                .unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn hard_links_share_one_copy_and_cost_nothing_against_the_budget() {
        let data = vec![b'#'; 1 << 20];
        let mut t = LayerTree::new(2 << 20);
        t.apply(
            "l",
            &linked_layer("app/Cargo.lock", &data, 5000)[..],
            4 << 20,
        )
        .unwrap();
        assert_eq!(t.files.len(), 5001);
        // 5001 names, one megabyte held: each link points at the target's bytes.
        assert_eq!(t.held, 1 << 20);
        assert!(
            t.files
                .values()
                .all(|d| d.as_ptr() == t.files["app/Cargo.lock"].as_ptr())
        );
        assert_eq!(t.read("l4999/Cargo.lock").unwrap().unwrap(), data);
        // A link in a later layer to a file of an earlier one shares it too.
        t.apply("m", &linked_layer("app/Cargo.lock", &data, 0)[..], 4 << 20)
            .unwrap();
        assert_eq!(t.held, 2 << 20, "the replaced target keeps its links alive");
    }

    #[test]
    fn the_image_memory_budget_spans_layers() {
        let mut t = LayerTree::new(3 << 20 >> 1);
        let mb = vec![b'x'; 1 << 20];
        t.apply("l1", &layer(&[("a/Cargo.lock", &mb)])[..], 4 << 20)
            .unwrap();
        let e = t
            .apply("l2", &layer(&[("b/Cargo.lock", &mb)])[..], 4 << 20)
            .unwrap_err();
        assert!(
            matches!(e, ApplyError::Budget { limit } if limit == 3 << 20 >> 1),
            "{e}"
        );
        // Nothing of the refused layer was kept.
        assert_eq!(t.files.keys().collect::<Vec<_>>(), ["a/Cargo.lock"]);
        // A file that replaces one below frees its bytes for the next layer (while a layer is
        // read both are held, so the peak is two copies; three would not fit).
        let mut t = LayerTree::new(5 << 20 >> 1);
        for l in ["l1", "l2", "l3"] {
            t.apply(l, &layer(&[("a/Cargo.lock", &mb)])[..], 4 << 20)
                .unwrap();
        }
        assert_eq!(t.held, 1 << 20);
    }

    #[test]
    fn paths() {
        assert_eq!(normalise("./a//b/./c").as_deref(), Some("a/b/c"));
        assert_eq!(normalise("a/../b").as_deref(), Some("b"));
        assert_eq!(normalise("../etc/passwd"), None);
    }
}

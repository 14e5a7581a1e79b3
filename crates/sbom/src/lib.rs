//! Software bills of materials for Sigil: find the packages in a source tree, a root filesystem
//! or a container image, and write them as SPDX 2.3 or CycloneDX 1.5/1.6 JSON.
//!
//! Catalogers read lockfiles (Cargo, npm, yarn, pnpm, bun, Go, pip, Poetry, Pipenv, uv, Bundler,
//! Composer, Maven, Gradle, NuGet, SwiftPM, CocoaPods), installed packages (`node_modules`, Python `dist-info`) and
//! OS package databases (dpkg, apk, RPM). Packages are merged by purl: one package per purl, with
//! every location it was found at. Images are read layer by layer as streams; only the files a
//! cataloger needs are kept, whiteouts are applied, nothing is unpacked to disk.
//!
//! ```no_run
//! use sigil_sbom::{scan, ScanOptions, Source};
//!
//! let source = Source::parse("dir:.").unwrap();
//! let inventory = scan(&source, &ScanOptions::default()).unwrap();
//! let doc = sigil_sbom::spdx_json::write(&inventory, &sigil_sbom::DocumentInfo::now());
//! println!("{} packages, {} bytes of SPDX", inventory.packages.len(), doc.len());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod catalog;
pub mod cyclonedx;
mod image;
pub mod license;
pub mod purl;
pub mod spdx_json;
mod walk;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use catalog::Kind;
pub use license::License;

/// Files larger than this are skipped (and reported) rather than read.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;

/// The default for [`ScanOptions::max_image_memory`]: 2 GiB.
pub const DEFAULT_MAX_IMAGE_MEMORY: u64 = 2 << 30;

/// A package ecosystem (the purl type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// Rust crates.
    Cargo,
    /// npm packages (npm, yarn, pnpm, bun).
    Npm,
    /// Go modules.
    Go,
    /// Python packages.
    PyPi,
    /// Ruby gems.
    Gem,
    /// PHP Composer packages.
    Composer,
    /// Maven artifacts (Maven, Gradle).
    Maven,
    /// NuGet packages.
    NuGet,
    /// Swift packages (SwiftPM).
    Swift,
    /// CocoaPods.
    CocoaPods,
    /// Debian packages.
    Deb,
    /// Alpine packages.
    Apk,
    /// RPM packages.
    Rpm,
}

impl Ecosystem {
    /// The purl type.
    pub fn purl_type(self) -> &'static str {
        match self {
            Self::Cargo => "cargo",
            Self::Npm => "npm",
            Self::Go => "golang",
            Self::PyPi => "pypi",
            Self::Gem => "gem",
            Self::Composer => "composer",
            Self::Maven => "maven",
            Self::NuGet => "nuget",
            Self::Swift => "swift",
            Self::CocoaPods => "cocoapods",
            Self::Deb => "deb",
            Self::Apk => "apk",
            Self::Rpm => "rpm",
        }
    }

    /// Whether packages of this ecosystem are installed by the operating system.
    pub fn is_os(self) -> bool {
        matches!(self, Self::Deb | Self::Apk | Self::Rpm)
    }
}

/// How a package is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Scope {
    /// Needed at run time (or not recorded).
    #[default]
    Required,
    /// Optional (npm `optional`, Maven `optional`/`provided`).
    Optional,
    /// Only for development or tests (npm `dev`, Composer `packages-dev`, Pipfile `develop`,
    /// Maven `test`, Gradle test configurations).
    Dev,
}

/// A hash algorithm of a recorded digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HashAlg {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Hex digits of a digest.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha1 => 40,
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }
}

/// A digest of the package's distribution, from the lockfile.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hash {
    /// The algorithm.
    pub alg: HashAlg,
    /// Lower-case hex.
    pub hex: String,
}

impl Hash {
    /// A digest from lower- or upper-case hex, checked for length.
    pub fn from_hex(alg: HashAlg, hex: &str) -> Option<Self> {
        (hex.len() == alg.hex_len() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self {
            alg,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// A Subresource Integrity value (`sha512-<base64>`, as npm, yarn and pnpm record).
    pub fn from_sri(sri: &str) -> Option<Self> {
        use base64::Engine;
        let sri = sri.split_whitespace().next()?;
        let (alg, b64) = sri.split_once('-')?;
        let alg = match alg {
            "sha1" => HashAlg::Sha1,
            "sha256" => HashAlg::Sha256,
            "sha384" => HashAlg::Sha384,
            "sha512" => HashAlg::Sha512,
            _ => return None,
        };
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        Self::from_hex(alg, &hex::encode(bytes))
    }
}

/// One package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// Name as the ecosystem writes it (`@scope/name`, `group:artifact`, a Go module path).
    pub name: String,
    /// Version (may be empty when the source did not pin one).
    pub version: String,
    /// Package URL; packages are merged by it.
    pub purl: String,
    /// Declared license.
    pub license: Option<License>,
    /// Digests from lockfile integrity fields.
    pub hashes: Vec<Hash>,
    /// How it is needed.
    pub scope: Scope,
    /// purls of the packages it depends on (edges the source records).
    pub depends_on: Vec<String>,
    /// Files it was found in (relative to the source root, `/`-separated).
    pub locations: Vec<String>,
    /// Where it is downloaded from, when the source records a URL.
    pub download: Option<String>,
}

impl Package {
    /// A package with no license, hashes, edges or locations yet.
    pub fn new(ecosystem: Ecosystem, name: &str, version: &str, purl: String) -> Self {
        Self {
            ecosystem,
            name: name.to_owned(),
            version: version.to_owned(),
            purl,
            license: None,
            hashes: Vec::new(),
            scope: Scope::Required,
            depends_on: Vec::new(),
            locations: Vec::new(),
            download: None,
        }
    }
}

/// The operating system of a root filesystem or image, from `os-release`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distro {
    /// `ID` (`debian`, `alpine`, `fedora`).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.20.1`).
    pub version_id: String,
    /// `PRETTY_NAME`, else `NAME`.
    pub name: String,
}

impl Distro {
    /// The purl `distro` qualifier: `debian-12`.
    pub fn qualifier(&self) -> String {
        if self.version_id.is_empty() {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.version_id)
        }
    }
}

/// Something that could not be read; the scan went on without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The file (relative to the source root), or the layer.
    pub path: String,
    /// The line, when the parser knows it.
    pub line: Option<usize>,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// What was scanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// The source as given (`dir:.`, `oci-dir:layout`).
    pub name: String,
    /// Whether it is an image (then `digest` is the manifest digest).
    pub image: bool,
    /// The image manifest digest.
    pub digest: Option<String>,
}

/// The result of a scan.
#[derive(Clone, Debug)]
pub struct Inventory {
    /// What was scanned.
    pub source: SourceInfo,
    /// The operating system, when an `os-release` was found.
    pub distro: Option<Distro>,
    /// One per purl, sorted by purl.
    pub packages: Vec<Package>,
    /// Inputs that were skipped or could not be read. Non-empty means the inventory is partial.
    pub warnings: Vec<Warning>,
    /// How many files catalogers read.
    pub files_read: usize,
}

impl Inventory {
    /// Packages per ecosystem.
    pub fn counts(&self) -> BTreeMap<Ecosystem, usize> {
        let mut m = BTreeMap::new();
        for p in &self.packages {
            *m.entry(p.ecosystem).or_insert(0) += 1;
        }
        m
    }
}

/// What to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A source tree (lockfiles and manifests; installed packages too).
    Dir(PathBuf),
    /// A root filesystem (the same catalogers; named for clarity).
    Rootfs(PathBuf),
    /// An OCI image layout directory (`index.json`, `blobs/`); an optional `:tag`.
    OciDir(PathBuf, Option<String>),
    /// An OCI image layout in a tar file.
    OciArchive(PathBuf, Option<String>),
    /// `docker save` output.
    DockerArchive(PathBuf),
    /// An image in a registry.
    Registry(String),
}

impl Source {
    /// Reads `dir:PATH`, `rootfs:PATH`, `oci-dir:PATH[:TAG]`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE`, `registry:REF`, or a bare path (a directory).
    pub fn parse(s: &str) -> Result<Self, SbomError> {
        let split_tag = |rest: &str| -> (PathBuf, Option<String>) {
            // A tag suffix only when the whole string is not an existing path.
            if std::path::Path::new(rest).exists() {
                return (PathBuf::from(rest), None);
            }
            match rest.rsplit_once(':') {
                Some((p, t)) if !t.contains('/') && !t.is_empty() => {
                    (PathBuf::from(p), Some(t.to_owned()))
                }
                _ => (PathBuf::from(rest), None),
            }
        };
        let (scheme, rest) = match s.split_once(':') {
            Some((scheme, rest))
                if matches!(
                    scheme,
                    "dir" | "rootfs" | "oci-dir" | "oci-archive" | "docker-archive" | "registry"
                ) =>
            {
                (scheme, rest)
            }
            _ => ("dir", s),
        };
        if rest.is_empty() {
            return Err(SbomError::Source(format!("{s}: nothing after the scheme")));
        }
        Ok(match scheme {
            "dir" => Self::Dir(PathBuf::from(rest)),
            "rootfs" => Self::Rootfs(PathBuf::from(rest)),
            "oci-dir" => {
                let (p, t) = split_tag(rest);
                Self::OciDir(p, t)
            }
            "oci-archive" => {
                let (p, t) = split_tag(rest);
                Self::OciArchive(p, t)
            }
            "docker-archive" => Self::DockerArchive(PathBuf::from(rest)),
            _ => Self::Registry(rest.to_owned()),
        })
    }
}

/// How to scan.
pub struct ScanOptions<'a> {
    /// Leave out development (and test) packages.
    pub exclude_dev: bool,
    /// Files larger than this are skipped and reported.
    pub max_file_size: u64,
    /// The bytes of file data an image scan may hold at once, over all its layers (a hard
    /// link shares its target's bytes). Past it the scan stops with
    /// [`SbomError::MemoryBudget`].
    pub max_image_memory: u64,
    /// The platform to pick from a multi-platform image (`linux/amd64`).
    pub platform: String,
    /// Registry access for `registry:` sources (`sigil_image::sbom::RegistryImages` over
    /// `sigil-oci`'s client).
    pub registry: Option<&'a dyn ImageRegistry>,
    /// Called as work progresses (files or layers done, of how many when known).
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Worker threads for parsing (0: one per core).
    pub threads: usize,
}

impl Default for ScanOptions<'_> {
    fn default() -> Self {
        Self {
            exclude_dev: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_image_memory: DEFAULT_MAX_IMAGE_MEMORY,
            platform: "linux/amd64".to_owned(),
            registry: None,
            progress: None,
            threads: 0,
        }
    }
}

/// A progress report.
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// Image layers read so far, of `total`; `bytes` compressed bytes read in the current one.
    Layer {
        /// Layers finished.
        done: usize,
        /// Layers in the image.
        total: usize,
    },
    /// Files catalogued so far, of `total`.
    Files {
        /// Files finished.
        done: usize,
        /// Files to read.
        total: usize,
    },
}

/// Why a scan could not run at all (a malformed single file is a [`Warning`], not this).
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// The source string is not understood.
    #[error("source: {0}")]
    Source(String),
    /// The source could not be read.
    #[error("{path}: {error}")]
    Io {
        /// What.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The image is not a well-formed OCI layout, archive or manifest.
    #[error("image: {0}")]
    Image(String),
    /// The files an image scan keeps would exceed [`ScanOptions::max_image_memory`].
    #[error(
        "image: the files kept from its layers would exceed the {limit}-byte memory budget (raise it with --max-image-memory)"
    )]
    MemoryBudget {
        /// The budget, in bytes.
        limit: u64,
    },
    /// The registry failed (the error as the [`ImageRegistry`] gave it, for the caller to
    /// downcast).
    #[error(transparent)]
    Registry(RegistryFailure),
}

/// A registry's failure, as the [`ImageRegistry`] reports it.
pub type RegistryFailure = Box<dyn std::error::Error + Send + Sync>;

/// Access to images in a registry, for `registry:` sources: this crate reads no network itself.
/// The scan asks for manifests by tag or digest and for layers by digest, and checks every
/// layer against the digest its manifest gives while it reads it.
pub trait ImageRegistry: Sync {
    /// The manifest of `image` (a reference, `registry/repo[:tag][@digest]`) at `reference`
    /// (a tag or digest): its digest and the parsed manifest or index.
    fn manifest(
        &self,
        image: &str,
        reference: &str,
    ) -> Result<(String, sigil_formats::oci::Manifest), RegistryFailure>;
    /// A reader of the blob `digest` in `image`'s repository.
    fn blob(
        &self,
        image: &str,
        digest: &str,
    ) -> Result<Box<dyn std::io::Read + '_>, RegistryFailure>;
}

/// Scans `source`.
pub fn scan(source: &Source, opts: &ScanOptions<'_>) -> Result<Inventory, SbomError> {
    let (name, mut inv) = match source {
        Source::Dir(p) | Source::Rootfs(p) => {
            let tree =
                walk::DirTree::open(p, opts.max_file_size, matches!(source, Source::Rootfs(_)))?;
            let prefix = if matches!(source, Source::Dir(_)) {
                "dir"
            } else {
                "rootfs"
            };
            (
                format!("{prefix}:{}", p.display()),
                catalog::run(
                    &tree,
                    opts,
                    SourceInfo {
                        name: String::new(),
                        image: false,
                        digest: None,
                    },
                ),
            )
        }
        Source::OciDir(p, tag) => image::scan_oci_dir(p, tag.as_deref(), opts)
            .map(|i| (format!("oci-dir:{}", p.display()), i))?,
        Source::OciArchive(p, tag) => image::scan_oci_archive(p, tag.as_deref(), opts)
            .map(|i| (format!("oci-archive:{}", p.display()), i))?,
        Source::DockerArchive(p) => image::scan_docker_archive(p, opts)
            .map(|i| (format!("docker-archive:{}", p.display()), i))?,
        Source::Registry(r) => {
            image::scan_registry(r, opts).map(|i| (format!("registry:{r}"), i))?
        }
    };
    inv.source.name = name;
    Ok(inv)
}

/// Catalogues one file's bytes as the cataloger for `path` reads it (no sibling files, no
/// distribution). `None` when no cataloger reads such a file. For tests and fuzzing.
pub fn catalog_file(path: &str, data: &[u8]) -> Option<Result<Vec<Package>, Warning>> {
    catalog::one_file(path, data)
}

/// Reads one image layer (a tar stream, compressed or not) and catalogues the files it keeps.
/// For tests and fuzzing.
pub fn catalog_layer(data: &[u8]) -> Result<Inventory, SbomError> {
    image::single_layer(data)
}

/// Document metadata that is not derived from the scan: creation time and tool.
#[derive(Clone, Debug)]
pub struct DocumentInfo {
    /// Seconds since the epoch (from `SOURCE_DATE_EPOCH` for reproducible output).
    pub created: i64,
    /// The tool's version.
    pub tool_version: String,
}

impl DocumentInfo {
    /// `SOURCE_DATE_EPOCH` when set (and valid), else the current time.
    pub fn now() -> Self {
        let created = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
        Self {
            created,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// `YYYY-MM-DDThh:mm:ssZ`.
    pub fn timestamp(&self) -> String {
        rfc3339(self.created)
    }
}

/// Formats seconds since the epoch as `YYYY-MM-DDThh:mm:ssZ` (proleptic Gregorian, UTC).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A name-based (v5) UUID over the document's content, so that the same input and time give
/// the same serial number and namespace.
pub(crate) fn content_uuid(inv: &Inventory, info: &DocumentInfo, kind: &str) -> uuid::Uuid {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(inv.source.name.as_bytes());
    h.update([0]);
    h.update(info.created.to_be_bytes());
    for p in &inv.packages {
        h.update(p.purl.as_bytes());
        h.update([0]);
    }
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, &h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn sources() {
        assert_eq!(Source::parse("dir:.").unwrap(), Source::Dir(".".into()));
        assert_eq!(
            Source::parse("some/path").unwrap(),
            Source::Dir("some/path".into())
        );
        assert_eq!(
            Source::parse("oci-dir:/nonexistent/layout:v1").unwrap(),
            Source::OciDir("/nonexistent/layout".into(), Some("v1".into()))
        );
        assert_eq!(
            Source::parse("registry:localhost:5000/a/b:v1").unwrap(),
            Source::Registry("localhost:5000/a/b:v1".into())
        );
        assert!(Source::parse("dir:").is_err());
    }

    #[test]
    fn sri_hashes() {
        let h = Hash::from_sri("sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=").unwrap();
        assert_eq!(h.hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert!(Hash::from_sri("md5-xx").is_none());
    }
}

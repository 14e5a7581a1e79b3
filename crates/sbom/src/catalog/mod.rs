//! Catalogers: which files are read, and the dispatch from a file to its parser.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Distro, Inventory, Package, Progress, ScanOptions, Scope, SourceInfo, Warning};

mod apple;
mod dotnet;
mod golang;
mod java;
mod js;
mod os;
mod php;
mod python;
mod rpm;
mod ruby;
mod rust;

/// Which cataloger reads a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `Cargo.lock` (v1–v4).
    CargoLock,
    /// `package-lock.json` / `npm-shrinkwrap.json` (v1–v3).
    NpmLock,
    /// `yarn.lock` (v1 and berry).
    YarnLock,
    /// `pnpm-lock.yaml` (v6–v9).
    PnpmLock,
    /// `bun.lock`.
    BunLock,
    /// An installed `node_modules/<name>/package.json`.
    NodePackage,
    /// `go.mod`, with the `go.sum` beside it.
    GoMod,
    /// `*requirements*.txt` (pinned lines).
    Requirements,
    /// `poetry.lock`.
    PoetryLock,
    /// `Pipfile.lock`.
    PipfileLock,
    /// `uv.lock`.
    UvLock,
    /// An installed `*.dist-info/METADATA` or `*.egg-info/PKG-INFO`.
    PythonMetadata,
    /// `Gemfile.lock`.
    GemfileLock,
    /// `composer.lock`.
    ComposerLock,
    /// `pom.xml` (declared dependencies).
    Pom,
    /// `gradle.lockfile` and its `*-gradle.lockfile` variants.
    GradleLock,
    /// NuGet `packages.lock.json`.
    NugetLock,
    /// SwiftPM `Package.resolved` (v1–v3).
    PackageResolved,
    /// CocoaPods `Podfile.lock`.
    PodfileLock,
    /// dpkg `status`.
    DpkgStatus,
    /// One file of distroless `status.d/`.
    DpkgStatusD,
    /// apk `installed`.
    ApkInstalled,
    /// RPM `rpmdb.sqlite`.
    RpmDb,
    /// `os-release`.
    OsRelease,
}

/// The cataloger for `path` (relative, `/`-separated), if any reads it.
pub fn classify(path: &str) -> Option<Kind> {
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", path),
    };
    let parent = dir.rsplit('/').next().unwrap_or("");
    Some(match name {
        "Cargo.lock" => Kind::CargoLock,
        "package-lock.json" | "npm-shrinkwrap.json" => Kind::NpmLock,
        "yarn.lock" => Kind::YarnLock,
        "pnpm-lock.yaml" => Kind::PnpmLock,
        "bun.lock" => Kind::BunLock,
        "go.mod" => Kind::GoMod,
        "poetry.lock" => Kind::PoetryLock,
        "Pipfile.lock" => Kind::PipfileLock,
        "uv.lock" => Kind::UvLock,
        "Gemfile.lock" | "gems.locked" => Kind::GemfileLock,
        "composer.lock" => Kind::ComposerLock,
        "packages.lock.json" => Kind::NugetLock,
        "Package.resolved" => Kind::PackageResolved,
        "Podfile.lock" => Kind::PodfileLock,
        "rpmdb.sqlite" if dir.ends_with("rpm") => Kind::RpmDb,
        "os-release" if dir.ends_with("etc") || dir.ends_with("usr/lib") => Kind::OsRelease,
        "installed" if dir.ends_with("lib/apk/db") => Kind::ApkInstalled,
        "status" if dir.ends_with("lib/dpkg") => Kind::DpkgStatus,
        "METADATA" if parent.ends_with(".dist-info") => Kind::PythonMetadata,
        "PKG-INFO" if parent.ends_with(".egg-info") => Kind::PythonMetadata,
        "package.json" if is_installed_node_package(dir) => Kind::NodePackage,
        n if n.ends_with("pom.xml") => Kind::Pom,
        n if n.ends_with("gradle.lockfile") => Kind::GradleLock,
        n if n.ends_with(".txt") && n.contains("requirements") => Kind::Requirements,
        n if dir.ends_with("lib/dpkg/status.d") && !n.contains('.') => Kind::DpkgStatusD,
        _ => return None,
    })
}

fn is_installed_node_package(dir: &str) -> bool {
    let mut it = dir.rsplit('/');
    match (it.next(), it.next(), it.next()) {
        (Some(_), Some("node_modules"), _) => true,
        (Some(_), Some(scope), Some("node_modules")) => scope.starts_with('@'),
        _ => false,
    }
}

/// Files some cataloger reads beside the one it was given (kept when streaming images).
pub(crate) fn is_auxiliary(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "go.sum"
        || (name == "copyright" && path.contains("usr/share/doc/"))
        || (path.contains("lib/dpkg/status.d/") && name.ends_with(".md5sums"))
        || name == "rpmdb.sqlite-wal"
}

/// The files of a source.
pub(crate) trait Tree: Sync {
    /// The files catalogers read, with their kind, sorted by path.
    fn entries(&self) -> &[(String, Kind)];
    /// Problems met while listing the files.
    fn walk_warnings(&self) -> &[Warning];
    /// One file's bytes (`None` when it does not exist; `Err` when skipped).
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String>;
    /// The names in a directory (empty when unknown).
    fn list(&self, dir: &str) -> Vec<String>;
}

/// Deepest nesting accepted in a YAML lockfile (real ones nest fewer than ten levels).
pub const MAX_YAML_DEPTH: usize = 64;

/// A parse failure: where and why.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub line: Option<usize>,
    pub message: String,
}

impl ParseError {
    pub fn new(line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }

    pub fn json(e: &serde_json::Error) -> Self {
        Self::new(Some(e.line()), format!("malformed JSON: {e}"))
    }

    pub fn toml(data: &str, e: &toml::de::Error) -> Self {
        let line = e.span().map(|s| line_of(data, s.start));
        Self::new(line, format!("malformed TOML: {}", e.message()))
    }

    /// Parses YAML with a nesting limit of [`MAX_YAML_DEPTH`]: a lockfile nested thousands of
    /// levels deep is a warning, not a stack overflow.
    pub fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Self> {
        let options = serde_saphyr::Options {
            budget: Some(serde_saphyr::Budget {
                max_depth: MAX_YAML_DEPTH,
                ..Default::default()
            }),
            ..Default::default()
        };
        serde_saphyr::from_str_with_options(text, options).map_err(|e| Self::yaml(&e))
    }

    pub fn yaml(e: &serde_saphyr::Error) -> Self {
        let text = e.to_string();
        // saphyr's messages carry "line N column M"; keep the line when it is there.
        let line = text
            .split("line ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok());
        let first = text.lines().next().unwrap_or("").to_owned();
        Self::new(line, format!("malformed YAML: {first}"))
    }
}

/// The 1-based line of byte `offset`.
pub(crate) fn line_of(data: &str, offset: usize) -> usize {
    data.as_bytes()[..offset.min(data.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// What a cataloger is given.
pub(crate) struct Ctx<'a> {
    pub tree: &'a dyn Tree,
    pub distro: Option<&'a Distro>,
    pub path: &'a str,
}

impl Ctx<'_> {
    /// The directory of the file being read, with a trailing `/` (empty at the root).
    pub fn dir(&self) -> &str {
        match self.path.rfind('/') {
            Some(i) => &self.path[..=i],
            None => "",
        }
    }
}

type Parsed = Result<Vec<Package>, ParseError>;

/// One file's packages, or why it was skipped.
type FileResult = Result<Vec<Package>, Warning>;

fn parse(kind: Kind, ctx: &Ctx<'_>, data: &[u8]) -> Parsed {
    if kind == Kind::RpmDb {
        return rpm::parse(ctx, data);
    }
    let text = std::str::from_utf8(data).map_err(|e| {
        let line = line_of(
            &String::from_utf8_lossy(&data[..e.valid_up_to()]),
            e.valid_up_to(),
        );
        ParseError::new(Some(line), "not UTF-8 text")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match kind {
        Kind::CargoLock => rust::cargo_lock(ctx, text),
        Kind::NpmLock => js::npm_lock(ctx, text),
        Kind::YarnLock => js::yarn_lock(ctx, text),
        Kind::PnpmLock => js::pnpm_lock(ctx, text),
        Kind::BunLock => js::bun_lock(ctx, text),
        Kind::NodePackage => js::node_package(ctx, text),
        Kind::GoMod => golang::go_mod(ctx, text),
        Kind::Requirements => python::requirements(ctx, text),
        Kind::PoetryLock => python::poetry_lock(ctx, text),
        Kind::PipfileLock => python::pipfile_lock(ctx, text),
        Kind::UvLock => python::uv_lock(ctx, text),
        Kind::PythonMetadata => python::metadata(ctx, text),
        Kind::GemfileLock => ruby::gemfile_lock(ctx, text),
        Kind::ComposerLock => php::composer_lock(ctx, text),
        Kind::Pom => java::pom(ctx, text),
        Kind::GradleLock => java::gradle_lock(ctx, text),
        Kind::NugetLock => dotnet::packages_lock(ctx, text),
        Kind::PackageResolved => apple::package_resolved(ctx, text),
        Kind::PodfileLock => apple::podfile_lock(ctx, text),
        Kind::DpkgStatus | Kind::DpkgStatusD => os::dpkg(ctx, text),
        Kind::ApkInstalled => os::apk(ctx, text),
        Kind::OsRelease => Ok(Vec::new()),
        Kind::RpmDb => unreachable!("handled above"),
    }
}

/// One file with no tree around it.
pub(crate) fn one_file(path: &str, data: &[u8]) -> Option<Result<Vec<Package>, Warning>> {
    struct Nothing;
    impl Tree for Nothing {
        fn entries(&self) -> &[(String, Kind)] {
            &[]
        }
        fn walk_warnings(&self) -> &[Warning] {
            &[]
        }
        fn read(&self, _: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(None)
        }
        fn list(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
    }
    let kind = classify(path)?;
    let ctx = Ctx {
        tree: &Nothing,
        distro: None,
        path,
    };
    Some(parse(kind, &ctx, data).map_err(|e| Warning {
        path: path.to_owned(),
        line: e.line,
        message: e.message,
    }))
}

/// Catalogues every file of `tree` (in parallel), then merges by purl.
pub(crate) fn run(tree: &dyn Tree, opts: &ScanOptions<'_>, source: SourceInfo) -> Inventory {
    let mut warnings: Vec<Warning> = tree.walk_warnings().to_vec();
    let entries = tree.entries();
    // The distribution first: OS package purls carry it.
    // Only the source's own root says what distribution it is: an os-release deeper down (a
    // test fixture, a vendored root file system) describes something else.
    let distro = ["etc/os-release", "usr/lib/os-release"]
        .into_iter()
        .filter(|p| entries.iter().any(|(e, k)| e == p && *k == Kind::OsRelease))
        .find_map(|p| tree.read(p).ok().flatten())
        .and_then(|d| os::os_release(&String::from_utf8_lossy(&d)));
    let work: Vec<&(String, Kind)> = entries
        .iter()
        .filter(|(_, k)| *k != Kind::OsRelease)
        .collect();
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    }
    .min(work.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, FileResult)>> = Mutex::new(Vec::new());
    let files_read = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, kind)) = work.get(i) else {
                        break;
                    };
                    let ctx = Ctx {
                        tree,
                        distro: distro.as_ref(),
                        path,
                    };
                    let r = match tree.read(path) {
                        Ok(Some(data)) => {
                            files_read.fetch_add(1, Ordering::Relaxed);
                            parse(*kind, &ctx, &data).map_err(|e| Warning {
                                path: path.clone(),
                                line: e.line,
                                message: e.message,
                            })
                        }
                        Ok(None) => Ok(Vec::new()),
                        Err(message) => Err(Warning {
                            path: path.clone(),
                            line: None,
                            message,
                        }),
                    };
                    local.push((i, r));
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(p) = opts.progress {
                        p(Progress::Files {
                            done: d,
                            total: work.len(),
                        });
                    }
                }
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(local);
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    let mut merged: BTreeMap<String, Package> = BTreeMap::new();
    for (i, r) in results {
        match r {
            Ok(pkgs) => {
                let path = &work[i].0;
                for mut p in pkgs {
                    if p.locations.is_empty() {
                        p.locations.push(path.clone());
                    }
                    merge(&mut merged, p);
                }
            }
            Err(w) => warnings.push(w),
        }
    }
    if opts.exclude_dev {
        merged.retain(|_, p| p.scope != Scope::Dev);
    }
    let mut packages: Vec<Package> = merged.into_values().collect();
    for p in &mut packages {
        p.locations.sort();
        p.locations.dedup();
        p.depends_on.sort();
        p.depends_on.dedup();
        p.depends_on.retain(|d| d != &p.purl);
        p.hashes.sort();
        p.hashes.dedup();
    }
    Inventory {
        source,
        distro,
        packages,
        warnings,
        files_read: files_read.into_inner(),
    }
}

fn merge(all: &mut BTreeMap<String, Package>, p: Package) {
    match all.get_mut(&p.purl) {
        None => {
            all.insert(p.purl.clone(), p);
        }
        Some(q) => {
            q.scope = q.scope.min(p.scope);
            q.locations.extend(p.locations);
            q.depends_on.extend(p.depends_on);
            q.hashes.extend(p.hashes);
            if q.license.is_none() {
                q.license = p.license;
            }
            if q.download.is_none() {
                q.download = p.download;
            }
        }
    }
}

/// Keeps `url` only when it is an absolute http(s) or git URL (SPDX `downloadLocation` and
/// CycloneDX external references must be).
pub(crate) fn url(u: &str) -> Option<String> {
    let ok = (u.starts_with("https://") || u.starts_with("http://") || u.starts_with("git+"))
        && !u.contains(char::is_whitespace)
        && u.len() < 2048;
    ok.then(|| u.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_name_and_place() {
        assert_eq!(classify("a/Cargo.lock"), Some(Kind::CargoLock));
        assert_eq!(classify("var/lib/dpkg/status"), Some(Kind::DpkgStatus));
        assert_eq!(
            classify("var/lib/dpkg/status.d/base"),
            Some(Kind::DpkgStatusD)
        );
        assert_eq!(classify("var/lib/dpkg/status.d/base.md5sums"), None);
        assert_eq!(classify("status"), None);
        assert_eq!(
            classify("x/node_modules/a/package.json"),
            Some(Kind::NodePackage)
        );
        assert_eq!(
            classify("node_modules/@s/a/package.json"),
            Some(Kind::NodePackage)
        );
        assert_eq!(classify("package.json"), None);
        assert_eq!(classify("src/package.json"), None);
        assert_eq!(classify("dev-requirements.txt"), Some(Kind::Requirements));
        assert_eq!(classify("settings-gradle.lockfile"), Some(Kind::GradleLock));
        assert_eq!(
            classify("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"),
            Some(Kind::PythonMetadata)
        );
        assert_eq!(classify("etc/os-release"), Some(Kind::OsRelease));
        assert!(is_auxiliary("usr/share/doc/bash/copyright"));
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// A tree with no files, for parser unit tests.
    pub struct Empty;

    /// A context for parsing the file `path` of an empty tree, with no distribution.
    pub fn ctx(path: &str) -> super::Ctx<'_> {
        super::Ctx {
            tree: &Empty,
            distro: None,
            path,
        }
    }

    impl super::Tree for Empty {
        fn entries(&self) -> &[(String, super::Kind)] {
            &[]
        }
        fn walk_warnings(&self) -> &[crate::Warning] {
            &[]
        }
        fn read(&self, _: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(None)
        }
        fn list(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
    }
}

//! Python: pinned `requirements*.txt`, `poetry.lock`, `Pipfile.lock`, `uv.lock`, and installed
//! `*.dist-info/METADATA` / `*.egg-info/PKG-INFO`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, ParseError};
use crate::{Ecosystem, Hash, HashAlg, License, Package, Scope, purl};

fn py_purl(name: &str, version: &str) -> String {
    purl::build("pypi", None, &purl::pypi_name(name), version, &[])
}

fn py_package(name: &str, version: &str) -> Package {
    Package::new(Ecosystem::PyPi, name, version, py_purl(name, version))
}

/// `sha256:<hex>` → a digest.
fn prefixed_hash(h: &str) -> Option<Hash> {
    let (alg, hex) = h.split_once(':')?;
    match alg {
        "sha256" => Hash::from_hex(HashAlg::Sha256, hex),
        "sha512" => Hash::from_hex(HashAlg::Sha512, hex),
        _ => None,
    }
}

pub(super) fn requirements(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let mut out = Vec::new();
    // Join backslash continuations, remembering where each logical line started.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut cont = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let (body, more) = match line.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        if cont {
            if let Some(last) = logical.last_mut() {
                last.1.push(' ');
                last.1.push_str(body);
            }
        } else {
            logical.push((i + 1, body.to_owned()));
        }
        cont = more;
    }
    for (_line, l) in logical {
        let l = match l.find(" #").or_else(|| l.starts_with('#').then_some(0)) {
            Some(c) => &l[..c],
            None => &l[..],
        };
        let l = l.trim();
        if l.is_empty() || l.starts_with('-') {
            continue;
        }
        // Environment markers and per-requirement options.
        let spec = l.split(';').next().unwrap_or(l);
        let spec = spec.split(" --").next().unwrap_or(spec).trim();
        let Some(at) = spec.find("==") else { continue };
        let name = spec[..at].split('[').next().unwrap_or("").trim();
        let version = spec[at..].trim_start_matches('=').trim();
        if name.is_empty()
            || version.is_empty()
            || version.contains(['*', ',', ' '])
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            continue;
        }
        out.push(py_package(name, version));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    url: String,
}

pub(super) fn poetry_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let lock: PoetryLock = toml::from_str(text).map_err(|e| ParseError::toml(text, &e))?;
    let by_name: HashMap<String, &PoetryPackage> = lock
        .package
        .iter()
        .map(|p| (purl::pypi_name(&p.name), p))
        .collect();
    Ok(lock
        .package
        .iter()
        .map(|e| {
            let mut p = py_package(&e.name, &e.version);
            let dev = e.category.as_deref() == Some("dev")
                || e.groups
                    .as_ref()
                    .is_some_and(|g| !g.iter().any(|g| g == "main"));
            p.scope = if dev {
                Scope::Dev
            } else if e.optional {
                Scope::Optional
            } else {
                Scope::Required
            };
            if let Some(s) = &e.source {
                if s.kind == "git" || s.kind == "url" {
                    p.download = super::url(&s.url);
                }
            }
            for d in e.dependencies.keys() {
                if let Some(t) = by_name.get(&purl::pypi_name(d)) {
                    p.depends_on.push(py_purl(&t.name, &t.version));
                }
            }
            p
        })
        .collect())
}

pub(super) fn pipfile_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Lock {
        default: BTreeMap<String, Value>,
        develop: BTreeMap<String, Value>,
    }
    let lock: Lock = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
    let mut out = Vec::new();
    for (section, dev) in [(&lock.default, false), (&lock.develop, true)] {
        for (name, v) in section {
            if dev && lock.default.contains_key(name) {
                continue;
            }
            let version = v
                .get("version")
                .and_then(Value::as_str)
                .map(|s| s.trim_start_matches('='))
                .unwrap_or("");
            let mut p = py_package(name, version);
            if dev {
                p.scope = Scope::Dev;
            }
            if let Some(g) = v.get("git").and_then(Value::as_str) {
                p.download = super::url(g);
            }
            out.push(p);
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct UvLock {
    #[serde(default)]
    package: Vec<UvPackage>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    sdist: Option<UvFile>,
    #[serde(default)]
    dependencies: Vec<UvDep>,
    #[serde(default, rename = "optional-dependencies")]
    optional: BTreeMap<String, Vec<UvDep>>,
    #[serde(default, rename = "dev-dependencies")]
    dev: BTreeMap<String, Vec<UvDep>>,
}

#[derive(Deserialize)]
struct UvFile {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    hash: Option<String>,
}

#[derive(Deserialize)]
struct UvDep {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

pub(super) fn uv_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let lock: UvLock = toml::from_str(text).map_err(|e| ParseError::toml(text, &e))?;
    let mut by_name: HashMap<String, Vec<&UvPackage>> = HashMap::new();
    for p in &lock.package {
        by_name.entry(purl::pypi_name(&p.name)).or_default().push(p);
    }
    let target = |d: &UvDep| -> Option<String> {
        let c = by_name.get(&purl::pypi_name(&d.name))?;
        let t = match (c.as_slice(), &d.version) {
            ([one], _) => *one,
            (many, Some(v)) => *many.iter().find(|p| &p.version == v)?,
            _ => return None,
        };
        Some(py_purl(&t.name, &t.version))
    };
    // Dev-only: named in a dev group and never as a run-time dependency.
    let mut runtime: Vec<String> = Vec::new();
    let mut dev: Vec<String> = Vec::new();
    for p in &lock.package {
        runtime.extend(
            p.dependencies
                .iter()
                .chain(p.optional.values().flatten())
                .filter_map(target),
        );
        dev.extend(p.dev.values().flatten().filter_map(target));
    }
    Ok(lock
        .package
        .iter()
        .map(|e| {
            let mut p = py_package(&e.name, &e.version);
            if let Some(s) = &e.sdist {
                p.hashes.extend(s.hash.as_deref().and_then(prefixed_hash));
                p.download = s.url.as_deref().and_then(super::url);
            }
            p.depends_on = e
                .dependencies
                .iter()
                .chain(e.optional.values().flatten())
                .filter_map(target)
                .collect();
            if dev.contains(&p.purl) && !runtime.contains(&p.purl) {
                p.scope = Scope::Dev;
            }
            p
        })
        .collect())
}

/// Core-metadata headers (RFC 822 style; continuation lines start with whitespace; the body
/// after the first empty line is the description).
fn headers(text: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push('\n');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k, v.trim().to_owned()));
        }
    }
    out
}

pub(super) fn metadata(ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let h = headers(text);
    let get = |k: &str| {
        h.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let (Some(name), Some(version)) = (get("Name"), get("Version")) else {
        return Err(ParseError::new(None, "no Name or Version header"));
    };
    let mut p = py_package(name, version);
    p.license = get("License-Expression")
        .and_then(License::parse)
        .or_else(|| {
            get("License")
                .filter(|l| !l.contains('\n') && l.len() < 100)
                .and_then(License::parse)
        })
        .or_else(|| {
            let classifiers: Vec<License> = h
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("Classifier"))
                .filter_map(|(_, v)| v.strip_prefix("License :: "))
                .filter_map(|v| v.rsplit(" :: ").next())
                .filter_map(classifier_license)
                .collect();
            License::all(classifiers)
        });
    // Edges: Requires-Dist names resolved against the other distributions installed beside it.
    let site = ctx.dir().trim_end_matches('/');
    let site = site.rsplit_once('/').map_or("", |(s, _)| s);
    let installed: HashMap<String, String> = ctx
        .tree
        .list(site)
        .into_iter()
        .filter_map(|d| {
            let stem = d
                .strip_suffix(".dist-info")
                .or_else(|| d.strip_suffix(".egg-info"))?;
            let (n, v) = stem.split_once('-')?;
            let v = v.split('-').next().unwrap_or(v);
            Some((purl::pypi_name(n), v.to_owned()))
        })
        .collect();
    for (_, req) in h
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Requires-Dist"))
    {
        if req.contains("extra ==") {
            continue;
        }
        let dep: String = req
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        if let Some(v) = installed.get(&purl::pypi_name(&dep)) {
            p.depends_on.push(py_purl(&dep, v));
        }
    }
    Ok(vec![p])
}

/// Trove license classifiers that name one SPDX license.
fn classifier_license(c: &str) -> Option<License> {
    let id = match c {
        "MIT License" => "MIT",
        "BSD License" => return None,
        "Apache Software License" => "Apache-2.0",
        "ISC License (ISCL)" => "ISC",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "Python Software Foundation License" => "PSF-2.0",
        "GNU General Public License v2 (GPLv2)" => "GPL-2.0-only",
        "GNU General Public License v3 (GPLv3)" => "GPL-3.0-only",
        "GNU Lesser General Public License v3 (LGPLv3)" => "LGPL-3.0-only",
        "The Unlicense (Unlicense)" => "Unlicense",
        _ => return None,
    };
    License::parse(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_lines() {
        let ctx = crate::catalog::tests_support::ctx("requirements.txt");
        let r = requirements(
            &ctx,
            "# c\nDjango==4.2.1 ; python_version > '3'\nflask>=2\nrequests[socks]==2.31.0 \\\n    --hash=sha256:00\n-r other.txt\nx===1.0\n",
        )
        .unwrap();
        let purls: Vec<&str> = r.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:pypi/django@4.2.1",
                "pkg:pypi/requests@2.31.0",
                "pkg:pypi/x@1.0"
            ]
        );
    }
}

//! Operating-system packages: dpkg `status` (and distroless `status.d/`), apk `installed`,
//! and `os-release`.

use std::collections::HashMap;

use super::{Ctx, ParseError};
use crate::{Distro, Ecosystem, License, Package, purl};

/// Reads `os-release` (`KEY=value`, values optionally quoted).
pub(crate) fn os_release(text: &str) -> Option<Distro> {
    let mut d = Distro::default();
    let mut name = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
        match k.trim() {
            "ID" => d.id = v,
            "VERSION_ID" => d.version_id = v,
            "PRETTY_NAME" => d.name = v,
            "NAME" => name = v,
            _ => {}
        }
    }
    if d.name.is_empty() {
        d.name = name;
    }
    (!d.id.is_empty()).then_some(d)
}

/// Deb822 paragraphs: (first line number, fields), continuation lines folded in.
fn paragraphs(text: &str) -> Vec<(usize, Vec<(&str, String)>)> {
    let mut out: Vec<(usize, Vec<(&str, String)>)> = Vec::new();
    let mut cur: Option<(usize, Vec<(&str, String)>)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            out.extend(cur.take());
            continue;
        }
        let para = cur.get_or_insert_with(|| (i + 1, Vec::new()));
        if line.starts_with([' ', '\t']) {
            if let Some(last) = para.1.last_mut() {
                last.1.push('\n');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            para.1.push((k, v.trim().to_owned()));
        }
    }
    out.extend(cur);
    out
}

/// The root of the filesystem a database at `path` belongs to (`x/var/lib/dpkg/status` → `x/`).
fn root_of<'a>(path: &'a str, marker: &str) -> &'a str {
    match path.find(marker) {
        Some(i) => &path[..i],
        None => "",
    }
}

struct Deb {
    name: String,
    version: String,
    arch: String,
    source: String,
    depends: Vec<String>,
    provides: Vec<String>,
}

/// The installed packages of a dpkg status file (or one `status.d/` file).
fn parse_debs(text: &str) -> Result<Vec<Deb>, ParseError> {
    let mut debs: Vec<Deb> = Vec::new();
    for (line, fields) in paragraphs(text) {
        let get = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let Some(name) = get("Package") else {
            return Err(ParseError::new(
                Some(line),
                "a paragraph with no Package field",
            ));
        };
        // The status file also lists removed packages whose config files remain.
        if let Some(status) = get("Status") {
            if status.split_whitespace().nth(2) != Some("installed") {
                continue;
            }
        }
        let Some(version) = get("Version") else {
            return Err(ParseError::new(
                Some(line),
                format!("package {name} has no Version"),
            ));
        };
        let source = get("Source")
            .map(|s| s.split_whitespace().next().unwrap_or("").to_owned())
            .unwrap_or_default();
        let rel_names = |k: &str| -> Vec<String> {
            get(k)
                .map(|v| {
                    v.split(',')
                        .filter_map(|alt| {
                            // First alternative; drop version constraints and :any.
                            let first = alt.split('|').next()?.trim();
                            let n = first.split([' ', '(']).next()?.split(':').next()?;
                            (!n.is_empty()).then(|| n.to_owned())
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut depends = rel_names("Depends");
        depends.extend(rel_names("Pre-Depends"));
        debs.push(Deb {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: get("Architecture").unwrap_or("").to_owned(),
            source: if source == name {
                String::new()
            } else {
                source
            },
            depends,
            provides: rel_names("Provides"),
        });
    }
    Ok(debs)
}

pub(super) fn dpkg(ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let marker = if ctx.path.contains("var/lib/dpkg/") {
        "var/lib/dpkg/"
    } else {
        "lib/dpkg/"
    };
    let root = root_of(ctx.path, marker);
    let distro_id = ctx.distro.map_or("debian", |d| d.id.as_str());
    let distro_q = ctx.distro.map(Distro::qualifier).unwrap_or_default();
    let debs = parse_debs(text)?;
    // Distroless images keep one file per package in status.d/: dependencies resolve against
    // the packages of the sibling files too.
    let mut known: Vec<Deb> = Vec::new();
    if let Some(dir) = ctx
        .path
        .strip_suffix(ctx.path.rsplit('/').next().unwrap_or(""))
    {
        if dir.ends_with("status.d/") {
            let dir = dir.trim_end_matches('/');
            for name in ctx.tree.list(dir) {
                let sibling = format!("{dir}/{name}");
                if name.contains('.') || sibling == ctx.path {
                    continue;
                }
                if let Ok(Some(data)) = ctx.tree.read(&sibling) {
                    known.extend(parse_debs(&String::from_utf8_lossy(&data)).unwrap_or_default());
                }
            }
        }
    }
    let purl_of = |d: &Deb| {
        purl::build(
            "deb",
            Some(distro_id),
            &d.name,
            &d.version,
            &[
                ("arch", &d.arch),
                ("distro", &distro_q),
                ("upstream", &d.source),
            ],
        )
    };
    let all: Vec<&Deb> = debs.iter().chain(&known).collect();
    let mut provider: HashMap<&str, usize> = HashMap::new();
    for (i, d) in all.iter().enumerate() {
        for p in &d.provides {
            provider.entry(p.as_str()).or_insert(i);
        }
    }
    for (i, d) in all.iter().enumerate().rev() {
        provider.insert(d.name.as_str(), i);
    }
    Ok(debs
        .iter()
        .map(|d| {
            let mut p = Package::new(Ecosystem::Deb, &d.name, &d.version, purl_of(d));
            p.depends_on = d
                .depends
                .iter()
                .filter_map(|n| provider.get(n.as_str()))
                .map(|&i| purl_of(all[i]))
                .collect();
            let copyright = format!("{root}usr/share/doc/{}/copyright", d.name);
            if let Ok(Some(c)) = ctx.tree.read(&copyright) {
                p.license = copyright_license(&String::from_utf8_lossy(&c));
                if p.license.is_some() {
                    p.locations = vec![ctx.path.to_owned(), copyright];
                }
            }
            p
        })
        .collect())
}

/// Licenses named by a Debian copyright file: the DEP-5 `License:` fields, else references to
/// `/usr/share/common-licenses/<name>`. All apply, so they are joined with AND.
pub(crate) fn copyright_license(text: &str) -> Option<License> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            let v = v.trim();
            if !v.is_empty() {
                names.push(v.to_owned());
            }
        }
    }
    let from_common = names.is_empty();
    if from_common {
        // Older copyright files only point at the system's license texts.
        names = common_license_refs(text);
    }
    let parts: Vec<License> = names
        .iter()
        .filter_map(|n| {
            debian_license(n).or_else(|| {
                // A versionless reference ("common-licenses/GPL") names that text, not an
                // SPDX license; keep it by name rather than guess a version.
                from_common.then(|| License::Named(n.clone()))
            })
        })
        .collect();
    License::all(parts)
}

/// The license texts a copyright file points at: `/usr/share/common-licenses/<name>`.
fn common_license_refs(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for part in text.split("/usr/share/common-licenses/").skip(1) {
        let n: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-.+".contains(*c))
            .collect();
        let n = n.trim_end_matches('.');
        if !n.is_empty() && !names.iter().any(|x| x == n) {
            names.push(n.to_owned());
        }
    }
    names
}

/// A Debian short license name (`GPL-2+`, `LGPL-2.1`, `BSD-3-clause`, `Artistic`) as SPDX.
fn debian_license(name: &str) -> Option<License> {
    let n = name.trim();
    let (base, later) = match n.strip_suffix('+') {
        Some(b) => (b, true),
        None => (n, false),
    };
    let mapped = match base.to_ascii_lowercase().as_str() {
        "gpl-1" => Some("GPL-1.0"),
        "gpl-2" => Some("GPL-2.0"),
        "gpl-3" => Some("GPL-3.0"),
        "lgpl-2" => Some("LGPL-2.0"),
        "lgpl-2.1" => Some("LGPL-2.1"),
        "lgpl-3" => Some("LGPL-3.0"),
        "gfdl-1.2" => Some("GFDL-1.2"),
        "gfdl-1.3" => Some("GFDL-1.3"),
        "agpl-3" => Some("AGPL-3.0"),
        "artistic" => return License::parse("Artistic-1.0-Perl"),
        "bsd-2-clause" => return License::parse("BSD-2-Clause"),
        "bsd-3-clause" => return License::parse("BSD-3-Clause"),
        "bsd-4-clause" => return License::parse("BSD-4-Clause"),
        "expat" => return License::parse("MIT"),
        "zlib" => return License::parse("Zlib"),
        "public-domain" | "pd" => return Some(License::Named("public-domain".into())),
        _ => None,
    };
    match mapped {
        Some(m) if later => License::parse(&format!("{m}-or-later")),
        Some(m) => License::parse(&format!("{m}-only")),
        None => match License::parse(n) {
            Some(l @ License::Expression(_)) => Some(l),
            // Free-text names ("permissive", "other") are not licenses we can name.
            _ => None,
        },
    }
}

pub(super) fn apk(ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let distro_id = ctx.distro.map_or("alpine", |d| d.id.as_str());
    let distro_q = ctx.distro.map(Distro::qualifier).unwrap_or_default();
    struct Apk {
        name: String,
        version: String,
        arch: String,
        license: Option<License>,
        origin: String,
        depends: Vec<String>,
        provides: Vec<String>,
    }
    let mut pkgs: Vec<Apk> = Vec::new();
    let mut cur: Option<Apk> = None;
    let mut start = 0;
    for (i, line) in text.lines().chain(std::iter::once("")).enumerate() {
        if line.is_empty() {
            if let Some(p) = cur.take() {
                if p.name.is_empty() || p.version.is_empty() {
                    return Err(ParseError::new(
                        Some(start),
                        "a package with no P: or V: line",
                    ));
                }
                pkgs.push(p);
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(ParseError::new(
                Some(i + 1),
                format!("expected 'K:value', found {line:?}"),
            ));
        };
        let p = cur.get_or_insert_with(|| {
            start = i + 1;
            Apk {
                name: String::new(),
                version: String::new(),
                arch: String::new(),
                license: None,
                origin: String::new(),
                depends: Vec::new(),
                provides: Vec::new(),
            }
        });
        match k {
            "P" => p.name = v.to_owned(),
            "V" => p.version = v.to_owned(),
            "A" => p.arch = v.to_owned(),
            "L" => p.license = License::parse(v),
            "o" => p.origin = v.to_owned(),
            "D" => {
                p.depends = v
                    .split_whitespace()
                    .filter(|d| !d.starts_with('!'))
                    .map(|d| d.split(['=', '<', '>', '~']).next().unwrap_or(d).to_owned())
                    .collect()
            }
            "p" => {
                p.provides = v
                    .split_whitespace()
                    .map(|d| d.split('=').next().unwrap_or(d).to_owned())
                    .collect()
            }
            _ => {}
        }
    }
    let purl_of = |a: &Apk| {
        let upstream = if a.origin == a.name {
            ""
        } else {
            a.origin.as_str()
        };
        purl::build(
            "apk",
            Some(distro_id),
            &a.name,
            &a.version,
            &[
                ("arch", &a.arch),
                ("distro", &distro_q),
                ("upstream", upstream),
            ],
        )
    };
    let mut provider: HashMap<&str, usize> = HashMap::new();
    for (i, a) in pkgs.iter().enumerate() {
        provider.insert(a.name.as_str(), i);
        for p in &a.provides {
            provider.entry(p.as_str()).or_insert(i);
        }
    }
    Ok(pkgs
        .iter()
        .map(|a| {
            let mut p = Package::new(Ecosystem::Apk, &a.name, &a.version, purl_of(a));
            p.license = a.license.clone();
            p.depends_on = a
                .depends
                .iter()
                .filter_map(|d| provider.get(d.as_str()))
                .map(|&i| purl_of(&pkgs[i]))
                .collect();
            p
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_copyright() {
        let dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: x\nLicense: BSD-3-clause\n";
        assert_eq!(
            copyright_license(dep5),
            Some(License::Expression(
                "BSD-3-Clause AND GPL-2.0-or-later".into()
            ))
        );
        let old = "see /usr/share/common-licenses/GPL-3.\n";
        assert_eq!(
            copyright_license(old),
            Some(License::Expression("GPL-3.0-only".into()))
        );
        assert_eq!(
            os_release(
                "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
            )
            .unwrap()
            .qualifier(),
            "debian-12"
        );
    }
}

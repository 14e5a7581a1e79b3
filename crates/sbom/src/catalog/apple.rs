//! Apple platforms: SwiftPM `Package.resolved` (v1–v3) and CocoaPods `Podfile.lock`.

use std::collections::HashMap;

use serde::Deserialize;

use super::{Ctx, ParseError};
use crate::{Ecosystem, Hash, HashAlg, Package, purl};

#[derive(Deserialize)]
struct Resolved {
    #[serde(default)]
    pins: Vec<Pin>,
    #[serde(default)]
    object: Option<Object>,
}

#[derive(Deserialize)]
struct Object {
    #[serde(default)]
    pins: Vec<Pin>,
}

#[derive(Deserialize)]
struct Pin {
    // v2/v3
    identity: Option<String>,
    location: Option<String>,
    // v1
    package: Option<String>,
    #[serde(rename = "repositoryURL")]
    repository_url: Option<String>,
    #[serde(default)]
    state: State,
}

#[derive(Deserialize, Default)]
struct State {
    version: Option<String>,
    revision: Option<String>,
}

pub(super) fn package_resolved(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let r: Resolved = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
    let pins = r
        .object
        .map(|o| o.pins)
        .unwrap_or_default()
        .into_iter()
        .chain(r.pins);
    let mut out = Vec::new();
    for pin in pins {
        let Some(url) = pin.location.or(pin.repository_url) else {
            continue;
        };
        let name = pin.identity.or(pin.package).unwrap_or_default();
        let version = pin.state.version.or(pin.state.revision).unwrap_or_default();
        // pkg:swift/github.com/apple/swift-nio@2.0.0: host and owner are the namespace.
        let path = url
            .split("://")
            .nth(1)
            .unwrap_or(&url)
            .trim_end_matches('/')
            .trim_end_matches(".git");
        let (ns, repo) = purl::go_parts(path);
        let mut p = Package::new(
            Ecosystem::Swift,
            if name.is_empty() { repo } else { &name },
            &version,
            purl::build("swift", ns, repo, &version, &[]),
        );
        p.download = super::url(&url);
        out.push(p);
    }
    Ok(out)
}

/// `Name/Subspec (1.0)` → (`Name`, `1.0`).
fn pod(entry: &str) -> Option<(&str, &str)> {
    let (name, rest) = entry.split_once(" (")?;
    let version = rest.strip_suffix(')')?;
    Some((name.split('/').next().unwrap_or(name), version))
}

pub(super) fn podfile_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let mut section = "";
    let mut pods: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut checksums: HashMap<String, String> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        if !raw.starts_with(' ') {
            section = raw.trim_end_matches(':');
            continue;
        }
        let body = raw
            .trim()
            .trim_start_matches("- ")
            .trim_end_matches(':')
            .trim_matches('"');
        match section {
            "PODS" if raw.starts_with("  - ") => {
                let Some((name, version)) = pod(body) else {
                    return Err(ParseError::new(
                        Some(i + 1),
                        format!("expected 'Name (version)', found {body:?}"),
                    ));
                };
                if !pods.iter().any(|(n, v, _)| n == name && v == version) {
                    pods.push((name.to_owned(), version.to_owned(), Vec::new()));
                }
            }
            "PODS" => {
                let dep = body.split(" (").next().unwrap_or(body);
                let dep = dep.split('/').next().unwrap_or(dep).to_owned();
                if let Some(last) = pods.last_mut() {
                    if dep != last.0 && !last.2.contains(&dep) {
                        last.2.push(dep);
                    }
                }
            }
            "SPEC CHECKSUMS" => {
                if let Some((n, h)) = body.split_once(": ") {
                    checksums.insert(n.to_owned(), h.to_owned());
                }
            }
            _ => {}
        }
    }
    let versions: HashMap<&str, &str> = pods
        .iter()
        .map(|(n, v, _)| (n.as_str(), v.as_str()))
        .collect();
    Ok(pods
        .iter()
        .map(|(name, version, deps)| {
            let mut p = Package::new(
                Ecosystem::CocoaPods,
                name,
                version,
                purl::build("cocoapods", None, name, version, &[]),
            );
            p.hashes.extend(
                checksums
                    .get(name)
                    .and_then(|h| Hash::from_hex(HashAlg::Sha1, h)),
            );
            p.depends_on = deps
                .iter()
                .filter_map(|d| {
                    versions
                        .get(d.as_str())
                        .map(|v| purl::build("cocoapods", None, d, v, &[]))
                })
                .collect();
            p
        })
        .collect())
}

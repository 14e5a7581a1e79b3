//! `Cargo.lock`, versions 1 to 4.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::{Ctx, ParseError};
use crate::{Ecosystem, Hash, HashAlg, Package, purl};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Entry>,
    #[serde(default)]
    metadata: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

pub(super) fn cargo_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let lock: Lock = toml::from_str(text).map_err(|e| ParseError::toml(text, &e))?;
    let purl_of = |e: &Entry| purl::build("cargo", None, &e.name, &e.version, &[]);
    let mut by_name: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in &lock.package {
        by_name.entry(e.name.as_str()).or_default().push(e);
    }
    let mut out = Vec::with_capacity(lock.package.len());
    for e in &lock.package {
        let mut p = Package::new(Ecosystem::Cargo, &e.name, &e.version, purl_of(e));
        // v1 kept checksums in [metadata]: "checksum NAME VERSION (SOURCE)" = "hex".
        let v1 = e.source.as_ref().and_then(|s| {
            lock.metadata
                .get(&format!("checksum {} {} ({s})", e.name, e.version))
                .and_then(|v| v.as_str())
        });
        if let Some(h) = e
            .checksum
            .as_deref()
            .or(v1)
            .and_then(|c| Hash::from_hex(HashAlg::Sha256, c))
        {
            p.hashes.push(h);
        }
        p.download = match e.source.as_deref() {
            Some(CRATES_IO) | Some("sparse+https://index.crates.io/") => Some(format!(
                "https://crates.io/api/v1/crates/{}/{}/download",
                e.name, e.version
            )),
            Some(s) if s.starts_with("git+") => super::url(s.split('#').next().unwrap_or(s)),
            _ => None,
        };
        for d in &e.dependencies {
            // "name", "name version" or "name version (source)".
            let mut parts = d.split(' ');
            let name = parts.next().unwrap_or("");
            let version = parts.next();
            let target = match by_name.get(name).map(Vec::as_slice) {
                Some([only]) => Some(*only),
                Some(many) => version.and_then(|v| many.iter().copied().find(|c| c.version == v)),
                None => None,
            };
            if let Some(t) = target {
                p.depends_on.push(purl_of(t));
            }
        }
        out.push(p);
    }
    Ok(out)
}

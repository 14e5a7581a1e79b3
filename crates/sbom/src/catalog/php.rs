//! `composer.lock`: `packages` and `packages-dev`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, ParseError};
use crate::{Ecosystem, Hash, HashAlg, License, Package, Scope, purl};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Lock {
    packages: Vec<Entry>,
    #[serde(rename = "packages-dev")]
    packages_dev: Vec<Entry>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Entry {
    name: String,
    version: String,
    dist: Option<Dist>,
    license: Vec<String>,
    require: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Dist {
    url: Option<String>,
    shasum: Option<String>,
}

fn composer_purl(name: &str, version: &str) -> String {
    let (ns, n) = name
        .split_once('/')
        .map_or((None, name), |(a, b)| (Some(a), b));
    purl::build("composer", ns, n, version, &[])
}

pub(super) fn composer_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let lock: Lock = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
    let versions: HashMap<&str, &str> = lock
        .packages
        .iter()
        .chain(&lock.packages_dev)
        .map(|e| (e.name.as_str(), e.version.as_str()))
        .collect();
    let mut out = Vec::new();
    for (list, dev) in [(&lock.packages, false), (&lock.packages_dev, true)] {
        for e in list {
            let mut p = Package::new(
                Ecosystem::Composer,
                &e.name,
                &e.version,
                composer_purl(&e.name, &e.version),
            );
            if dev {
                p.scope = Scope::Dev;
            }
            p.license = License::all(e.license.iter().filter_map(|l| License::parse(l)).collect());
            if let Some(d) = &e.dist {
                p.download = d.url.as_deref().and_then(super::url);
                p.hashes.extend(
                    d.shasum
                        .as_deref()
                        .and_then(|h| Hash::from_hex(HashAlg::Sha1, h)),
                );
            }
            p.depends_on = e
                .require
                .keys()
                .filter_map(|n| versions.get(n.as_str()).map(|v| composer_purl(n, v)))
                .collect();
            out.push(p);
        }
    }
    Ok(out)
}

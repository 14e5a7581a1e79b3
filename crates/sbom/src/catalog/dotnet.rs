//! NuGet `packages.lock.json`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Ctx, ParseError};
use crate::{Ecosystem, Hash, HashAlg, Package, purl};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    dependencies: BTreeMap<String, BTreeMap<String, Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    resolved: String,
    #[serde(rename = "contentHash", default)]
    content_hash: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
}

pub(super) fn packages_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    use base64::Engine;
    let lock: Lock = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
    let mut out = Vec::new();
    for framework in lock.dependencies.values() {
        for (name, e) in framework {
            if e.kind == "Project" || e.resolved.is_empty() {
                continue;
            }
            let mut p = Package::new(
                Ecosystem::NuGet,
                name,
                &e.resolved,
                purl::build("nuget", None, name, &e.resolved, &[]),
            );
            if let Some(bytes) = e
                .content_hash
                .as_deref()
                .and_then(|h| base64::engine::general_purpose::STANDARD.decode(h).ok())
            {
                p.hashes
                    .extend(Hash::from_hex(HashAlg::Sha512, &hex::encode(bytes)));
            }
            p.download = Some(format!(
                "https://www.nuget.org/api/v2/package/{name}/{}",
                e.resolved
            ));
            p.depends_on = e
                .dependencies
                .keys()
                .filter_map(|d| {
                    framework
                        .get(d)
                        .filter(|t| t.kind != "Project" && !t.resolved.is_empty())
                        .map(|t| purl::build("nuget", None, d, &t.resolved, &[]))
                })
                .collect();
            out.push(p);
        }
    }
    Ok(out)
}

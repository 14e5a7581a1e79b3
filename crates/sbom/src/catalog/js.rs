//! JavaScript: package-lock.json (v1–v3), yarn.lock (v1 and berry), pnpm-lock.yaml (v5–v9),
//! bun.lock, and installed `node_modules/*/package.json`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::{Ctx, ParseError};
use crate::{Ecosystem, Hash, License, Package, Scope, purl};

fn npm_purl(name: &str, version: &str) -> String {
    let (ns, n) = purl::npm_parts(name);
    purl::build("npm", ns, n, version, &[])
}

fn npm_package(name: &str, version: &str) -> Package {
    Package::new(Ecosystem::Npm, name, version, npm_purl(name, version))
}

/// `npm:real@1.2.3` (an alias) → (`real`, `1.2.3`).
fn alias_target(version: &str) -> Option<(&str, &str)> {
    let rest = version.strip_prefix("npm:")?;
    split_name_version(rest)
}

/// `@scope/name@1.2.3` → (`@scope/name`, `1.2.3`): the last `@` that is not the first char.
pub(super) fn split_name_version(s: &str) -> Option<(&str, &str)> {
    let at = s.get(1..)?.rfind('@')? + 1;
    Some((&s[..at], &s[at + 1..]))
}

fn license_of(v: &Value) -> Option<License> {
    match v {
        Value::String(s) => License::parse(s),
        Value::Object(o) => o
            .get("type")
            .and_then(Value::as_str)
            .and_then(License::parse),
        Value::Array(a) => License::all(a.iter().filter_map(license_of).collect()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// package-lock.json

#[derive(Deserialize)]
struct NpmLock {
    #[serde(rename = "lockfileVersion", default)]
    version: u32,
    #[serde(default)]
    packages: BTreeMap<String, NpmEntry>,
    #[serde(default)]
    dependencies: BTreeMap<String, NpmV1Entry>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NpmEntry {
    name: Option<String>,
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    link: bool,
    dev: bool,
    optional: bool,
    #[serde(rename = "devOptional")]
    dev_optional: bool,
    license: Value,
    dependencies: BTreeMap<String, Value>,
    #[serde(rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, Value>,
    #[serde(rename = "peerDependencies")]
    peer_dependencies: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NpmV1Entry {
    version: String,
    resolved: Option<String>,
    integrity: Option<String>,
    dev: bool,
    optional: bool,
    requires: BTreeMap<String, Value>,
    dependencies: BTreeMap<String, NpmV1Entry>,
}

fn scope_of(dev: bool, optional: bool) -> Scope {
    if dev {
        Scope::Dev
    } else if optional {
        Scope::Optional
    } else {
        Scope::Required
    }
}

pub(super) fn npm_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let lock: NpmLock = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
    if lock.version >= 2 || !lock.packages.is_empty() {
        Ok(npm_v2(&lock.packages))
    } else {
        let mut out = Vec::new();
        npm_v1(&[&lock.dependencies], &mut out);
        Ok(out)
    }
}

/// The real name and version of a `packages` entry (an alias key keeps the real `name`).
fn npm_identity<'a>(key: &'a str, e: &'a NpmEntry) -> Option<(&'a str, &'a str)> {
    let from_key = key.rsplit("node_modules/").next().unwrap_or(key);
    let name = e.name.as_deref().unwrap_or(from_key);
    let version = e.version.as_deref()?;
    Some(match alias_target(version) {
        Some(t) => t,
        None => (name, version),
    })
}

/// Node's resolution: `dep` as seen from the folder `key`.
fn resolve_node<'a, T>(all: &'a BTreeMap<String, T>, key: &str, dep: &str) -> Option<&'a str> {
    let mut base = key;
    loop {
        let cand = if base.is_empty() {
            format!("node_modules/{dep}")
        } else {
            format!("{base}/node_modules/{dep}")
        };
        if let Some((k, _)) = all.get_key_value(&cand) {
            return Some(k.as_str());
        }
        if base.is_empty() {
            return None;
        }
        base = match base.rfind("/node_modules/") {
            Some(i) => &base[..i],
            None => "",
        };
    }
}

fn npm_v2(packages: &BTreeMap<String, NpmEntry>) -> Vec<Package> {
    let mut out = Vec::new();
    for (key, e) in packages {
        if !key.contains("node_modules/") || e.link {
            continue;
        }
        let Some((name, version)) = npm_identity(key, e) else {
            continue;
        };
        let mut p = npm_package(name, version);
        p.scope = if e.dev_optional {
            Scope::Optional
        } else {
            scope_of(e.dev, e.optional)
        };
        p.hashes
            .extend(e.integrity.as_deref().and_then(Hash::from_sri));
        p.download = e.resolved.as_deref().and_then(super::url);
        p.license = license_of(&e.license);
        let deps = e
            .dependencies
            .keys()
            .chain(e.optional_dependencies.keys())
            .chain(e.peer_dependencies.keys());
        for d in deps {
            let Some(target) = resolve_node(packages, key, d) else {
                continue;
            };
            let t = &packages[target];
            if t.link {
                continue;
            }
            if let Some((n, v)) = npm_identity(target, t) {
                p.depends_on.push(npm_purl(n, v));
            }
        }
        out.push(p);
    }
    out
}

/// The v1 `dependencies` tree; `scopes` is the chain of enclosing `dependencies` maps, innermost
/// last, for resolving `requires`.
fn npm_v1(scopes: &[&BTreeMap<String, NpmV1Entry>], out: &mut Vec<Package>) {
    let Some(here) = scopes.last() else { return };
    for (name, e) in *here {
        let (real, version) =
            alias_target(&e.version).unwrap_or((name.as_str(), e.version.as_str()));
        let mut p = npm_package(real, version);
        p.scope = scope_of(e.dev, e.optional);
        p.hashes
            .extend(e.integrity.as_deref().and_then(Hash::from_sri));
        p.download = e.resolved.as_deref().and_then(super::url);
        let mut chain: Vec<&BTreeMap<String, NpmV1Entry>> = scopes.to_vec();
        chain.push(&e.dependencies);
        for dep in e.requires.keys() {
            if let Some(t) = chain.iter().rev().find_map(|m| m.get(dep)) {
                let (n, v) = alias_target(&t.version).unwrap_or((dep.as_str(), t.version.as_str()));
                p.depends_on.push(npm_purl(n, v));
            }
        }
        out.push(p);
        if !e.dependencies.is_empty() {
            npm_v1(&chain, out);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// yarn.lock

pub(super) fn yarn_lock(ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    if text.contains("\n__metadata:") || text.starts_with("__metadata:") {
        return yarn_berry(ctx, text);
    }
    struct Block {
        specs: Vec<String>,
        version: Option<String>,
        resolved: Option<String>,
        integrity: Option<String>,
        deps: Vec<(String, String)>,
        line: usize,
    }
    let unquote = |s: &str| s.trim().trim_matches('"').to_owned();
    let mut blocks: Vec<Block> = Vec::new();
    let mut in_deps = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        match indent {
            0 => {
                let Some(head) = body.strip_suffix(':') else {
                    return Err(ParseError::new(
                        Some(i + 1),
                        format!("expected an entry header ending in ':', found {body:?}"),
                    ));
                };
                blocks.push(Block {
                    specs: head.split(", ").map(unquote).collect(),
                    version: None,
                    resolved: None,
                    integrity: None,
                    deps: Vec::new(),
                    line: i + 1,
                });
                in_deps = false;
            }
            2 => {
                let Some(b) = blocks.last_mut() else {
                    return Err(ParseError::new(Some(i + 1), "a field before any entry"));
                };
                in_deps = matches!(body, "dependencies:" | "optionalDependencies:");
                if let Some((k, v)) = body.split_once(' ') {
                    let v = unquote(v);
                    match k {
                        "version" => b.version = Some(v),
                        "resolved" => b.resolved = Some(v),
                        "integrity" => b.integrity = Some(v),
                        _ => {}
                    }
                }
            }
            _ if in_deps => {
                let Some(b) = blocks.last_mut() else { continue };
                if let Some((k, v)) = body.split_once(' ') {
                    b.deps.push((unquote(k), unquote(v)));
                }
            }
            _ => {}
        }
    }
    // Spec ("name@range") → identity.
    let mut ident: HashMap<&str, (String, String)> = HashMap::new();
    for b in &blocks {
        let Some(v) = b.version.as_deref() else {
            continue;
        };
        for s in &b.specs {
            // The name ends at the first '@' after a scope: "x-cjs@npm:x@^4" is an alias.
            let Some(at) = s.get(1..).and_then(|r| r.find('@')).map(|i| i + 1) else {
                continue;
            };
            let (name, range) = (&s[..at], &s[at + 1..]);
            let name = alias_target(range).map_or(name, |(real, _)| real);
            ident.insert(s.as_str(), (name.to_owned(), v.to_owned()));
        }
    }
    let mut out = Vec::with_capacity(blocks.len());
    for b in &blocks {
        let Some(first) = b.specs.first() else {
            continue;
        };
        let Some((name, version)) = ident.get(first.as_str()) else {
            return Err(ParseError::new(
                Some(b.line),
                format!("entry {first:?} has no version"),
            ));
        };
        let mut p = npm_package(name, version);
        p.hashes
            .extend(b.integrity.as_deref().and_then(Hash::from_sri));
        p.download = b
            .resolved
            .as_deref()
            .map(|r| r.split('#').next().unwrap_or(r))
            .and_then(super::url);
        for (dn, range) in &b.deps {
            if let Some((n, v)) = ident.get(format!("{dn}@{range}").as_str()) {
                p.depends_on.push(npm_purl(n, v));
            }
        }
        out.push(p);
    }
    Ok(out)
}

fn yarn_berry(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let doc: BTreeMap<String, Value> = ParseError::parse_yaml(text)?;
    let mut ident: HashMap<String, (String, String)> = HashMap::new();
    let mut entries = Vec::new();
    for (key, v) in &doc {
        if key == "__metadata" {
            continue;
        }
        let Some(resolution) = v.get("resolution").and_then(Value::as_str) else {
            continue;
        };
        let Some((name, rest)) = split_name_version(resolution) else {
            continue;
        };
        // Workspaces and links are the project itself.
        if rest.starts_with("workspace:")
            || rest.starts_with("link:")
            || rest.starts_with("portal:")
        {
            continue;
        }
        let version = v
            .get("version")
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        for spec in key.split(", ") {
            ident.insert(spec.trim().to_owned(), (name.to_owned(), version.clone()));
        }
        entries.push((name.to_owned(), version, v));
    }
    let mut out = Vec::new();
    for (name, version, v) in entries {
        let mut p = npm_package(&name, &version);
        for field in ["dependencies", "optionalDependencies", "peerDependencies"] {
            let Some(deps) = v.get(field).and_then(Value::as_object) else {
                continue;
            };
            for (dn, range) in deps {
                let range = range.as_str().unwrap_or("");
                let spec = if range.contains(':') {
                    format!("{dn}@{range}")
                } else {
                    format!("{dn}@npm:{range}")
                };
                if let Some((n, ver)) = ident.get(&spec) {
                    p.depends_on.push(npm_purl(n, ver));
                }
            }
        }
        out.push(p);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// pnpm-lock.yaml

#[derive(Deserialize, Default)]
#[serde(default)]
struct PnpmLock {
    #[serde(rename = "lockfileVersion")]
    version: Value,
    importers: BTreeMap<String, PnpmImporter>,
    packages: BTreeMap<String, PnpmPackage>,
    snapshots: BTreeMap<String, PnpmPackage>,
    /// Lockfiles without importers keep the root's dependencies at the top.
    #[serde(flatten)]
    root: PnpmImporter,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PnpmImporter {
    dependencies: BTreeMap<String, Value>,
    #[serde(rename = "devDependencies")]
    dev_dependencies: BTreeMap<String, Value>,
    #[serde(rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PnpmPackage {
    name: Option<String>,
    version: Option<String>,
    resolution: BTreeMap<String, Value>,
    dev: Option<bool>,
    optional: bool,
    dependencies: BTreeMap<String, Value>,
    #[serde(rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, Value>,
}

/// Strips pnpm's peer suffixes: `1.2.3(react@18.0.0)` and v5's `1.2.3_react@18.0.0`.
fn strip_peers(v: &str) -> &str {
    let v = v.split('(').next().unwrap_or(v);
    v.split('_').next().unwrap_or(v)
}

/// A `packages`/`snapshots` key → (name, version). `/name@1.0.0`, `name@1.0.0(peer)` (v6+),
/// `/name/1.0.0_peer` (v5).
fn pnpm_key(key: &str) -> Option<(String, String)> {
    let k = key.strip_prefix('/').unwrap_or(key);
    let k = k.split('(').next().unwrap_or(k);
    if let Some((n, v)) = split_name_version(k) {
        if !n.is_empty() && !v.contains('/') {
            return Some((n.to_owned(), strip_peers(v).to_owned()));
        }
    }
    // v5: the version is the last path segment.
    let (n, v) = k.rsplit_once('/')?;
    Some((n.to_owned(), strip_peers(v).to_owned()))
}

/// A dependency reference (`name: 1.2.3(peer)`, `name: /other/1.0.0`, `name: other@1.0.0`,
/// `name: link:../x`) → the package key it names, if a package.
fn pnpm_ref(name: &str, v: &Value) -> Option<(String, String)> {
    let v = match v {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("version")?.as_str()?,
        _ => return None,
    };
    if v.starts_with("link:") || v.starts_with("file:") || v.starts_with("workspace:") {
        return None;
    }
    let bare = v.split('(').next().unwrap_or(v);
    if bare.starts_with('/') || bare.contains('@') {
        return pnpm_key(bare);
    }
    Some((name.to_owned(), strip_peers(bare).to_owned()))
}

pub(super) fn pnpm_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    let lock: PnpmLock = ParseError::parse_yaml(text)?;
    let _ = &lock.version;
    // Identity per package; edges from snapshots (v9) or the packages themselves (v5–v8).
    let mut pkgs: BTreeMap<(String, String), Package> = BTreeMap::new();
    let mut explicit_dev: HashMap<(String, String), bool> = HashMap::new();
    for (key, p) in &lock.packages {
        let Some((kn, kv)) = pnpm_key(key) else {
            continue;
        };
        let name = p.name.clone().unwrap_or(kn);
        let version = p.version.clone().unwrap_or(kv);
        let mut pkg = npm_package(&name, &version);
        if let Some(i) = p.resolution.get("integrity").and_then(Value::as_str) {
            pkg.hashes.extend(Hash::from_sri(i));
        }
        if let Some(t) = p.resolution.get("tarball").and_then(Value::as_str) {
            pkg.download = super::url(t);
        }
        if p.optional {
            pkg.scope = Scope::Optional;
        }
        if let Some(d) = p.dev {
            explicit_dev.insert((name.clone(), version.clone()), d);
        }
        pkgs.insert((name, version), pkg);
    }
    let graph = if lock.snapshots.is_empty() {
        &lock.packages
    } else {
        &lock.snapshots
    };
    let mut edges: HashMap<(String, String), Vec<(String, String)>> = HashMap::new();
    for (key, p) in graph {
        let Some(id) = pnpm_key(key) else { continue };
        let targets = edges.entry(id).or_default();
        for (dn, dv) in p.dependencies.iter().chain(&p.optional_dependencies) {
            if let Some(t) = pnpm_ref(dn, dv) {
                targets.push(t);
            }
        }
    }
    for (id, targets) in &edges {
        let purls: Vec<String> = targets
            .iter()
            .filter(|t| pkgs.contains_key(*t))
            .map(|(n, v)| npm_purl(n, v))
            .collect();
        if let Some(p) = pkgs.get_mut(id) {
            p.depends_on.extend(purls);
        }
    }
    // Dev: v5–v8 say so per package; v9 does not, so walk from the importers.
    if explicit_dev.is_empty() {
        let mut prod: Vec<(String, String)> = Vec::new();
        let mut dev: Vec<(String, String)> = Vec::new();
        for i in lock.importers.values().chain(std::iter::once(&lock.root)) {
            prod.extend(
                i.dependencies
                    .iter()
                    .chain(&i.optional_dependencies)
                    .filter_map(|(n, v)| pnpm_ref(n, v)),
            );
            dev.extend(
                i.dev_dependencies
                    .iter()
                    .filter_map(|(n, v)| pnpm_ref(n, v)),
            );
        }
        let reach = |start: Vec<(String, String)>| {
            let mut seen: HashSet<(String, String)> = HashSet::new();
            let mut stack = start;
            while let Some(id) = stack.pop() {
                if seen.insert(id.clone()) {
                    if let Some(next) = edges.get(&id) {
                        stack.extend(next.iter().cloned());
                    }
                }
            }
            seen
        };
        let prod = reach(prod);
        let dev = reach(dev);
        for (id, p) in &mut pkgs {
            if dev.contains(id) && !prod.contains(id) {
                p.scope = Scope::Dev;
            }
        }
    } else {
        for (id, d) in explicit_dev {
            if d {
                if let Some(p) = pkgs.get_mut(&id) {
                    p.scope = Scope::Dev;
                }
            }
        }
    }
    Ok(pkgs.into_values().collect())
}

// ---------------------------------------------------------------------------------------------
// bun.lock

/// Removes the trailing commas JSONC allows (outside strings), so serde_json can read it.
fn strip_trailing_commas(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut in_str = false;
    let mut esc = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
            out.push(c);
        } else if c == b',' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && (b[j] == b'}' || b[j] == b']') {
                // Keep the newlines so that line numbers in errors stay right.
                out.push(b' ');
            } else {
                out.push(c);
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_default()
}

pub(super) fn bun_lock(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Bun {
        workspaces: BTreeMap<String, BunWorkspace>,
        packages: BTreeMap<String, Vec<Value>>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct BunWorkspace {
        #[serde(rename = "devDependencies")]
        dev_dependencies: BTreeMap<String, Value>,
        dependencies: BTreeMap<String, Value>,
    }
    let lock: Bun =
        serde_json::from_str(&strip_trailing_commas(text)).map_err(|e| ParseError::json(&e))?;
    let ident = |v: &Vec<Value>| -> Option<(String, String)> {
        let id = v.first()?.as_str()?;
        let (n, ver) = split_name_version(id)?;
        if ver.starts_with("workspace:") || ver.starts_with("link:") {
            return None;
        }
        let ver = ver.strip_prefix("npm:").unwrap_or(ver);
        Some((n.to_owned(), ver.to_owned()))
    };
    let dev_only: HashSet<&str> = lock
        .workspaces
        .values()
        .flat_map(|w| w.dev_dependencies.keys())
        .filter(|d| {
            !lock
                .workspaces
                .values()
                .any(|w| w.dependencies.contains_key(*d))
        })
        .map(String::as_str)
        .collect();
    let mut out = Vec::new();
    for (key, v) in &lock.packages {
        let Some((name, version)) = ident(v) else {
            continue;
        };
        let mut p = npm_package(&name, &version);
        if let Some(i) = v
            .iter()
            .skip(1)
            .filter_map(Value::as_str)
            .find(|s| s.starts_with("sha"))
        {
            p.hashes.extend(Hash::from_sri(i));
        }
        if dev_only.contains(key.as_str()) {
            p.scope = Scope::Dev;
        }
        if let Some(meta) = v.get(2).and_then(Value::as_object) {
            for field in ["dependencies", "optionalDependencies", "peerDependencies"] {
                let Some(deps) = meta.get(field).and_then(Value::as_object) else {
                    continue;
                };
                for dn in deps.keys() {
                    // Nested keys ("parent/dep") win over hoisted ones.
                    let nested = format!("{key}/{dn}");
                    let t = lock.packages.get(&nested).or_else(|| lock.packages.get(dn));
                    if let Some((n, ver)) = t.and_then(ident) {
                        p.depends_on.push(npm_purl(&n, &ver));
                    }
                }
            }
        }
        out.push(p);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// node_modules/*/package.json

pub(super) fn node_package(_ctx: &Ctx<'_>, text: &str) -> Result<Vec<Package>, ParseError> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct PackageJson {
        name: Option<String>,
        version: Option<String>,
        license: Value,
        licenses: Value,
        private: bool,
    }
    let pj: PackageJson = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
    let (Some(name), Some(version)) = (pj.name, pj.version) else {
        return Ok(Vec::new());
    };
    let _ = pj.private;
    let mut p = npm_package(&name, &version);
    p.license = license_of(&pj.license).or_else(|| license_of(&pj.licenses));
    Ok(vec![p])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert_eq!(split_name_version("@a/b@1.0.0"), Some(("@a/b", "1.0.0")));
        assert_eq!(split_name_version(""), None);
        assert_eq!(split_name_version("é@1"), None);
        assert_eq!(
            alias_target("npm:string-width@4.2.3"),
            Some(("string-width", "4.2.3"))
        );
        assert_eq!(
            pnpm_key("/@a/b@1.0.0(react@18.0.0)"),
            Some(("@a/b".into(), "1.0.0".into()))
        );
        assert_eq!(
            pnpm_key("/left-pad/1.3.0"),
            Some(("left-pad".into(), "1.3.0".into()))
        );
        assert_eq!(pnpm_key("ws@8.0.0"), Some(("ws".into(), "8.0.0".into())));
        assert_eq!(
            strip_trailing_commas("{\"a\": [1,],\n}"),
            "{\"a\": [1 ] \n}"
        );
        assert_eq!(strip_trailing_commas("{\"a,]\": 1}"), "{\"a,]\": 1}");
    }

    /// A single-project pnpm lockfile has no `importers`: the root's dependencies sit at the top,
    /// and with no per-package `dev` flags they decide what is dev-only.
    #[test]
    fn pnpm_root_dependencies_at_the_top() {
        let ctx = crate::catalog::tests_support::ctx("pnpm-lock.yaml");
        let lock = r#"lockfileVersion: '6.0'
dependencies:
  a:
    specifier: ^1.0.0
    version: 1.0.0
optionalDependencies:
  o:
    specifier: ^3.0.0
    version: 3.0.0
devDependencies:
  t:
    specifier: ^2.0.0
    version: 2.0.0
packages:
  /a@1.0.0:
    resolution: {integrity: sha512-AA==}
    dependencies:
      b: 1.1.0
  /b@1.1.0:
    resolution: {integrity: sha512-AA==}
  /o@3.0.0:
    resolution: {integrity: sha512-AA==}
  /t@2.0.0:
    resolution: {integrity: sha512-AA==}
    dependencies:
      b: 1.1.0
      u: 2.1.0
  /u@2.1.0:
    resolution: {integrity: sha512-AA==}
"#;
        let pkgs = pnpm_lock(&ctx, lock).unwrap();
        let scopes: Vec<(&str, Scope)> = pkgs.iter().map(|p| (p.purl.as_str(), p.scope)).collect();
        assert_eq!(
            scopes,
            [
                ("pkg:npm/a@1.0.0", Scope::Required),
                ("pkg:npm/b@1.1.0", Scope::Required),
                ("pkg:npm/o@3.0.0", Scope::Required),
                ("pkg:npm/t@2.0.0", Scope::Dev),
                ("pkg:npm/u@2.1.0", Scope::Dev),
            ]
        );
    }
}

//! CycloneDX 1.5 and 1.6 JSON.
//!
//! Components are `bom-ref`'d by purl (unique: one component per purl); `dependencies` has one
//! entry per component, listing only components that exist, plus the root's (the components
//! nothing else depends on). Development packages get scope `optional` and the property
//! `sigil:scope=dev`; every location is a `sigil:location` property.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::{DocumentInfo, Ecosystem, HashAlg, Inventory, License, Package, Scope};

/// The spec version to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecVersion {
    /// 1.5
    V1_5,
    /// 1.6
    V1_6,
}

impl SpecVersion {
    /// `"1.5"` or `"1.6"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_5 => "1.5",
            Self::V1_6 => "1.6",
        }
    }
}

const ROOT_REF: &str = "sigil:source";

fn alg(a: HashAlg) -> &'static str {
    match a {
        HashAlg::Sha1 => "SHA-1",
        HashAlg::Sha256 => "SHA-256",
        HashAlg::Sha384 => "SHA-384",
        HashAlg::Sha512 => "SHA-512",
    }
}

/// (group, name) as CycloneDX splits them.
fn group_name(p: &Package) -> (Option<&str>, &str) {
    match p.ecosystem {
        Ecosystem::Npm => crate::purl::npm_parts(&p.name),
        Ecosystem::Maven => p
            .name
            .split_once(':')
            .map_or((None, p.name.as_str()), |(g, a)| (Some(g), a)),
        Ecosystem::Composer => p
            .name
            .split_once('/')
            .map_or((None, p.name.as_str()), |(g, a)| (Some(g), a)),
        _ => (None, p.name.as_str()),
    }
}

fn component(p: &Package) -> Value {
    let (group, name) = group_name(p);
    let mut o = serde_json::Map::new();
    o.insert("bom-ref".into(), json!(p.purl));
    o.insert("type".into(), json!("library"));
    if let Some(g) = group {
        o.insert("group".into(), json!(g));
    }
    o.insert("name".into(), json!(name));
    if !p.version.is_empty() {
        o.insert("version".into(), json!(p.version));
    }
    o.insert(
        "scope".into(),
        json!(if p.scope == Scope::Required {
            "required"
        } else {
            "optional"
        }),
    );
    if !p.hashes.is_empty() {
        o.insert(
            "hashes".into(),
            Value::Array(
                p.hashes
                    .iter()
                    .map(|h| json!({"alg": alg(h.alg), "content": h.hex}))
                    .collect(),
            ),
        );
    }
    if let Some(l) = &p.license {
        let entry = match (l.single_id(), l) {
            (Some(id), _) => json!({"license": {"id": id}}),
            (None, License::Expression(e)) => json!({"expression": e}),
            (None, License::Named(n)) => json!({"license": {"name": n}}),
        };
        o.insert("licenses".into(), json!([entry]));
    }
    o.insert("purl".into(), json!(p.purl));
    if let Some(u) = &p.download {
        o.insert(
            "externalReferences".into(),
            json!([{"type": "distribution", "url": u}]),
        );
    }
    let mut props: Vec<Value> = p
        .locations
        .iter()
        .map(|l| json!({"name": "sigil:location", "value": l}))
        .collect();
    if p.scope == Scope::Dev {
        props.push(json!({"name": "sigil:scope", "value": "dev"}));
    }
    o.insert("properties".into(), Value::Array(props));
    Value::Object(o)
}

/// Writes the inventory as a CycloneDX JSON document of `version`.
pub fn write(inv: &Inventory, info: &DocumentInfo, version: SpecVersion) -> Vec<u8> {
    let uuid = crate::content_uuid(inv, info, version.as_str());
    let purls: BTreeSet<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
    let mut components: Vec<Value> = Vec::with_capacity(inv.packages.len() + 1);
    let mut dependencies: Vec<Value> = Vec::with_capacity(inv.packages.len() + 1);
    let mut depended: BTreeSet<&str> = BTreeSet::new();
    for p in &inv.packages {
        components.push(component(p));
        let on: Vec<&str> = p
            .depends_on
            .iter()
            .map(String::as_str)
            .filter(|d| purls.contains(d))
            .collect();
        depended.extend(on.iter().copied());
        dependencies.push(json!({"ref": p.purl, "dependsOn": on}));
    }
    let mut top: Vec<String> = inv
        .packages
        .iter()
        .map(|p| p.purl.as_str())
        .filter(|p| !depended.contains(p))
        .map(str::to_owned)
        .collect();
    if let Some(d) = &inv.distro {
        let r = format!("sigil:os:{}", d.qualifier());
        components.push(json!({
            "bom-ref": r,
            "type": "operating-system",
            "name": d.id,
            "version": d.version_id,
            "description": d.name,
        }));
        dependencies.push(json!({"ref": r, "dependsOn": []}));
        top.push(r);
    }
    let mut root = serde_json::Map::new();
    root.insert("bom-ref".into(), json!(ROOT_REF));
    root.insert(
        "type".into(),
        json!(if inv.source.image {
            "container"
        } else {
            "application"
        }),
    );
    root.insert("name".into(), json!(inv.source.name));
    if let Some(d) = &inv.source.digest {
        root.insert("version".into(), json!(d));
    }
    dependencies.push(json!({"ref": ROOT_REF, "dependsOn": top}));
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": version.as_str(),
        "serialNumber": format!("urn:uuid:{uuid}"),
        "version": 1,
        "metadata": {
            "timestamp": info.timestamp(),
            "tools": {"components": [{"type": "application", "name": "sigil", "version": info.tool_version}]},
            "component": Value::Object(root),
        },
        "components": components,
        "dependencies": dependencies,
    });
    let mut out = serde_json::to_vec_pretty(&doc).expect("JSON values serialise");
    out.push(b'\n');
    out
}

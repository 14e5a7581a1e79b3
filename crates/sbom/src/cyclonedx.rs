//! CycloneDX 1.5 and 1.6 JSON.
//!
//! Components are `bom-ref`'d by purl (unique: one component per purl); `dependencies` has one
//! entry per component, listing only components that exist, plus the root's (the components
//! nothing else depends on). Development packages get scope `optional` and the property
//! `sigil:scope=dev`; every location is a `sigil:location` property.
//!
//! The document is serialised straight from borrowed data (no intermediate JSON tree).

use std::collections::HashSet;

use serde::Serialize;

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

#[derive(Serialize)]
struct Bom<'a> {
    #[serde(rename = "bomFormat")]
    format: &'static str,
    #[serde(rename = "specVersion")]
    spec: &'static str,
    #[serde(rename = "serialNumber")]
    serial: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component<'a>>,
    dependencies: Vec<Dependency<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: String,
    tools: Tools<'a>,
    component: Component<'a>,
}

#[derive(Serialize)]
struct Tools<'a> {
    components: [Component<'a>; 1],
}

#[derive(Serialize, Default)]
struct Component<'a> {
    #[serde(rename = "bom-ref", skip_serializing_if = "str::is_empty")]
    bom_ref: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<CdxHash<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice<'a>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    purl: &'a str,
    #[serde(rename = "externalReferences", skip_serializing_if = "Vec::is_empty")]
    external: Vec<ExternalReference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property<'a>>,
}

#[derive(Serialize)]
struct CdxHash<'a> {
    alg: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice<'a> {
    License { license: NamedLicense<'a> },
    Expression { expression: &'a str },
}

#[derive(Serialize)]
#[serde(untagged)]
enum NamedLicense<'a> {
    Id { id: &'a str },
    Name { name: &'a str },
}

#[derive(Serialize)]
struct ExternalReference<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Property<'a> {
    name: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct Dependency<'a> {
    #[serde(rename = "ref")]
    reference: &'a str,
    #[serde(rename = "dependsOn")]
    depends_on: Vec<&'a str>,
}

fn component(p: &Package) -> Component<'_> {
    let (group, name) = group_name(p);
    let mut properties: Vec<Property<'_>> = p
        .locations
        .iter()
        .map(|l| Property {
            name: "sigil:location",
            value: l,
        })
        .collect();
    if p.scope == Scope::Dev {
        properties.push(Property {
            name: "sigil:scope",
            value: "dev",
        });
    }
    Component {
        bom_ref: &p.purl,
        kind: "library",
        group,
        name,
        version: &p.version,
        description: "",
        scope: Some(if p.scope == Scope::Required {
            "required"
        } else {
            "optional"
        }),
        hashes: p
            .hashes
            .iter()
            .map(|h| CdxHash {
                alg: alg(h.alg),
                content: &h.hex,
            })
            .collect(),
        licenses: p
            .license
            .as_ref()
            .map(|l| match (l.single_id(), l) {
                (Some(id), _) => LicenseChoice::License {
                    license: NamedLicense::Id { id },
                },
                (None, License::Expression(e)) => LicenseChoice::Expression { expression: e },
                (None, License::Named(n)) => LicenseChoice::License {
                    license: NamedLicense::Name { name: n },
                },
            })
            .into_iter()
            .collect(),
        purl: &p.purl,
        external: p
            .download
            .as_deref()
            .map(|url| ExternalReference {
                kind: "distribution",
                url,
            })
            .into_iter()
            .collect(),
        properties,
    }
}

/// Writes the inventory as a CycloneDX JSON document of `version`.
pub fn write(inv: &Inventory, info: &DocumentInfo, version: SpecVersion) -> Vec<u8> {
    let uuid = crate::content_uuid(inv, info, version.as_str());
    let purls: HashSet<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
    let mut components: Vec<Component<'_>> = Vec::with_capacity(inv.packages.len() + 1);
    let mut dependencies: Vec<Dependency<'_>> = Vec::with_capacity(inv.packages.len() + 2);
    let mut depended: HashSet<&str> = HashSet::new();
    for p in &inv.packages {
        components.push(component(p));
        let on: Vec<&str> = p
            .depends_on
            .iter()
            .map(String::as_str)
            .filter(|d| purls.contains(d))
            .collect();
        depended.extend(on.iter().copied());
        dependencies.push(Dependency {
            reference: &p.purl,
            depends_on: on,
        });
    }
    let mut top: Vec<&str> = inv
        .packages
        .iter()
        .map(|p| p.purl.as_str())
        .filter(|p| !depended.contains(p))
        .collect();
    let os_ref = inv
        .distro
        .as_ref()
        .map(|d| format!("sigil:os:{}", d.qualifier()));
    if let (Some(d), Some(r)) = (&inv.distro, &os_ref) {
        components.push(Component {
            bom_ref: r,
            kind: "operating-system",
            name: &d.id,
            version: &d.version_id,
            description: &d.name,
            ..Component::default()
        });
        dependencies.push(Dependency {
            reference: r,
            depends_on: Vec::new(),
        });
        top.push(r);
    }
    dependencies.push(Dependency {
        reference: ROOT_REF,
        depends_on: top,
    });
    let bom = Bom {
        format: "CycloneDX",
        spec: version.as_str(),
        serial: format!("urn:uuid:{uuid}"),
        version: 1,
        metadata: Metadata {
            timestamp: info.timestamp(),
            tools: Tools {
                components: [Component {
                    kind: "application",
                    name: "sigil",
                    version: &info.tool_version,
                    ..Component::default()
                }],
            },
            component: Component {
                bom_ref: ROOT_REF,
                kind: if inv.source.image {
                    "container"
                } else {
                    "application"
                },
                name: &inv.source.name,
                version: inv.source.digest.as_deref().unwrap_or(""),
                ..Component::default()
            },
        },
        components,
        dependencies,
    };
    let mut out = Vec::with_capacity(1024 + inv.packages.len() * 900);
    serde_json::to_writer_pretty(&mut out, &bom).expect("serialising to memory cannot fail");
    out.push(b'\n');
    out
}

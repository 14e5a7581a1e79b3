//! SPDX 2.3 JSON.
//!
//! One root package for the source (and one for the operating system when known), one package
//! per purl with `filesAnalyzed: false`, a purl external reference, `downloadLocation` a URL or
//! `NOASSERTION`, and relationships: the document DESCRIBES the root, the root CONTAINS every
//! package, packages DEPENDS_ON each other as the sources record, and development and optional
//! packages are DEV_/OPTIONAL_DEPENDENCY_OF the root. Declared licenses that are not SPDX
//! expressions become `LicenseRef-` identifiers defined in `hasExtractedLicensingInfos`.
//!
//! The document is serialised straight from borrowed data (no intermediate JSON tree).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use sha2::Digest;

use crate::{DocumentInfo, HashAlg, Inventory, License, Package, Scope};

/// `[A-Za-z0-9.-]` only, as SPDX identifiers require.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The SPDXID of a package: readable and stable for the same purl.
pub fn package_id(p: &Package) -> String {
    let h = sha2::Sha256::digest(p.purl.as_bytes());
    format!(
        "SPDXRef-Package-{}-{}-{}",
        p.ecosystem.purl_type(),
        sanitize(&p.name),
        hex::encode(&h[..8])
    )
}

fn algorithm(a: HashAlg) -> &'static str {
    match a {
        HashAlg::Sha1 => "SHA1",
        HashAlg::Sha256 => "SHA256",
        HashAlg::Sha384 => "SHA384",
        HashAlg::Sha512 => "SHA512",
    }
}

const NOASSERTION: &str = "NOASSERTION";
const ROOT_ID: &str = "SPDXRef-DocumentRoot";
const OS_ID: &str = "SPDXRef-OperatingSystem";

#[derive(Serialize)]
struct Doc<'a> {
    #[serde(rename = "spdxVersion")]
    spdx_version: &'static str,
    #[serde(rename = "dataLicense")]
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    id: &'static str,
    name: &'a str,
    #[serde(rename = "documentNamespace")]
    namespace: String,
    #[serde(rename = "creationInfo")]
    creation: Creation,
    packages: Vec<SpdxPackage<'a>>,
    relationships: Vec<Relationship<'a>>,
    #[serde(
        rename = "hasExtractedLicensingInfos",
        skip_serializing_if = "Vec::is_empty"
    )]
    extracted: Vec<Extracted<'a>>,
}

#[derive(Serialize)]
struct Creation {
    created: String,
    creators: [String; 1],
}

#[derive(Serialize)]
struct SpdxPackage<'a> {
    #[serde(rename = "SPDXID")]
    id: &'a str,
    name: &'a str,
    #[serde(rename = "versionInfo", skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(rename = "downloadLocation")]
    download: &'a str,
    #[serde(rename = "filesAnalyzed")]
    files_analyzed: bool,
    #[serde(rename = "licenseConcluded")]
    concluded: &'static str,
    #[serde(rename = "licenseDeclared")]
    declared: &'a str,
    #[serde(rename = "copyrightText")]
    copyright: &'static str,
    #[serde(rename = "primaryPackagePurpose")]
    purpose: &'static str,
    #[serde(rename = "sourceInfo", skip_serializing_if = "String::is_empty")]
    source_info: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum<'a>>,
    #[serde(rename = "externalRefs", skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef<'a>>,
}

#[derive(Serialize)]
struct Checksum<'a> {
    algorithm: &'static str,
    #[serde(rename = "checksumValue")]
    value: &'a str,
}

#[derive(Serialize)]
struct ExternalRef<'a> {
    #[serde(rename = "referenceCategory")]
    category: &'static str,
    #[serde(rename = "referenceType")]
    kind: &'static str,
    #[serde(rename = "referenceLocator")]
    locator: &'a str,
}

#[derive(Serialize)]
struct Relationship<'a> {
    #[serde(rename = "spdxElementId")]
    from: &'a str,
    #[serde(rename = "relationshipType")]
    kind: &'static str,
    #[serde(rename = "relatedSpdxElement")]
    to: &'a str,
}

#[derive(Serialize)]
struct Extracted<'a> {
    #[serde(rename = "licenseId")]
    id: &'a str,
    name: &'a str,
    #[serde(rename = "extractedText")]
    text: &'a str,
}

/// Writes the inventory as an SPDX 2.3 JSON document.
pub fn write(inv: &Inventory, info: &DocumentInfo) -> Vec<u8> {
    let uuid = crate::content_uuid(inv, info, "spdx");
    // Names of declared licenses that are not SPDX expressions → their LicenseRef ids.
    let mut refs: BTreeMap<&str, String> = BTreeMap::new();
    for p in &inv.packages {
        if let Some(License::Named(n)) = &p.license {
            let next = refs.len();
            refs.entry(n.as_str()).or_insert_with(|| {
                let short: String = sanitize(n).chars().take(48).collect();
                format!("LicenseRef-{short}-{next}")
            });
        }
    }
    let ids: Vec<String> = inv.packages.iter().map(package_id).collect();
    let by_purl: HashMap<&str, &str> = inv
        .packages
        .iter()
        .zip(&ids)
        .map(|(p, id)| (p.purl.as_str(), id.as_str()))
        .collect();
    let mut packages = Vec::with_capacity(inv.packages.len() + 2);
    let mut relationships = Vec::with_capacity(inv.packages.len() * 3 + 2);
    packages.push(SpdxPackage {
        id: ROOT_ID,
        name: &inv.source.name,
        version: inv.source.digest.as_deref().unwrap_or(""),
        description: "",
        download: NOASSERTION,
        files_analyzed: false,
        concluded: NOASSERTION,
        declared: NOASSERTION,
        copyright: NOASSERTION,
        purpose: if inv.source.image {
            "CONTAINER"
        } else {
            "SOURCE"
        },
        source_info: String::new(),
        checksums: Vec::new(),
        external_refs: Vec::new(),
    });
    relationships.push(Relationship {
        from: "SPDXRef-DOCUMENT",
        kind: "DESCRIBES",
        to: ROOT_ID,
    });
    if let Some(d) = &inv.distro {
        packages.push(SpdxPackage {
            id: OS_ID,
            name: &d.id,
            version: &d.version_id,
            description: &d.name,
            download: NOASSERTION,
            files_analyzed: false,
            concluded: NOASSERTION,
            declared: NOASSERTION,
            copyright: NOASSERTION,
            purpose: "OPERATING-SYSTEM",
            source_info: String::new(),
            checksums: Vec::new(),
            external_refs: Vec::new(),
        });
        relationships.push(Relationship {
            from: ROOT_ID,
            kind: "CONTAINS",
            to: OS_ID,
        });
    }
    for (p, id) in inv.packages.iter().zip(&ids) {
        let declared = match &p.license {
            None => NOASSERTION,
            Some(License::Expression(e)) => e.as_str(),
            Some(License::Named(n)) => refs[n.as_str()].as_str(),
        };
        packages.push(SpdxPackage {
            id,
            name: &p.name,
            version: &p.version,
            description: "",
            download: p.download.as_deref().unwrap_or(NOASSERTION),
            files_analyzed: false,
            concluded: NOASSERTION,
            declared,
            copyright: NOASSERTION,
            purpose: if p.ecosystem.is_os() {
                "INSTALL"
            } else {
                "LIBRARY"
            },
            source_info: format!("found in: {}", p.locations.join(", ")),
            checksums: p
                .hashes
                .iter()
                .map(|h| Checksum {
                    algorithm: algorithm(h.alg),
                    value: &h.hex,
                })
                .collect(),
            external_refs: vec![ExternalRef {
                category: "PACKAGE-MANAGER",
                kind: "purl",
                locator: &p.purl,
            }],
        });
        relationships.push(Relationship {
            from: ROOT_ID,
            kind: "CONTAINS",
            to: id,
        });
        match p.scope {
            Scope::Dev => relationships.push(Relationship {
                from: id,
                kind: "DEV_DEPENDENCY_OF",
                to: ROOT_ID,
            }),
            Scope::Optional => relationships.push(Relationship {
                from: id,
                kind: "OPTIONAL_DEPENDENCY_OF",
                to: ROOT_ID,
            }),
            Scope::Required => {}
        }
        let targets: BTreeSet<&str> = p
            .depends_on
            .iter()
            .filter_map(|d| by_purl.get(d.as_str()).copied())
            .collect();
        for t in targets {
            relationships.push(Relationship {
                from: id,
                kind: "DEPENDS_ON",
                to: t,
            });
        }
    }
    let doc = Doc {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        id: "SPDXRef-DOCUMENT",
        name: &inv.source.name,
        namespace: format!(
            "https://sigil.invalid/spdxdocs/{}-{uuid}",
            sanitize(&inv.source.name)
        ),
        creation: Creation {
            created: info.timestamp(),
            creators: [format!("Tool: sigil-{}", info.tool_version)],
        },
        packages,
        relationships,
        extracted: refs
            .iter()
            .map(|(name, id)| Extracted {
                id,
                name,
                text: name,
            })
            .collect(),
    };
    let mut out = Vec::with_capacity(1024 + inv.packages.len() * 1200);
    serde_json::to_writer_pretty(&mut out, &doc).expect("serialising to memory cannot fail");
    out.push(b'\n');
    out
}

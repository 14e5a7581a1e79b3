//! SPDX 2.3 JSON.
//!
//! One root package for the source (and one for the operating system when known), one package
//! per purl with `filesAnalyzed: false`, a purl external reference, `downloadLocation` a URL or
//! `NOASSERTION`, and relationships: the document DESCRIBES the root, the root CONTAINS every
//! package, packages DEPENDS_ON each other as the sources record, and development and optional
//! packages are DEV_/OPTIONAL_DEPENDENCY_OF the root. Declared licenses that are not SPDX
//! expressions become `LicenseRef-` identifiers defined in `hasExtractedLicensingInfos`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
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

/// Writes the inventory as an SPDX 2.3 JSON document.
pub fn write(inv: &Inventory, info: &DocumentInfo) -> Vec<u8> {
    let uuid = crate::content_uuid(inv, info, "spdx");
    let root_id = "SPDXRef-DocumentRoot";
    let mut extracted: BTreeMap<String, String> = BTreeMap::new(); // name -> LicenseRef id
    let mut license_ref = |l: &Option<License>| -> String {
        match l {
            None => "NOASSERTION".into(),
            Some(License::Expression(e)) => e.clone(),
            Some(License::Named(n)) => {
                let next = extracted.len();
                extracted
                    .entry(n.clone())
                    .or_insert_with(|| {
                        format!(
                            "LicenseRef-{}-{next}",
                            sanitize(n).chars().take(48).collect::<String>()
                        )
                    })
                    .clone()
            }
        }
    };
    let mut packages = Vec::with_capacity(inv.packages.len() + 2);
    let mut relationships = Vec::with_capacity(inv.packages.len() * 2 + 2);
    packages.push(json!({
        "SPDXID": root_id,
        "name": inv.source.name,
        "versionInfo": inv.source.digest.clone().unwrap_or_default(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": if inv.source.image { "CONTAINER" } else { "SOURCE" },
    }));
    if packages[0]["versionInfo"] == "" {
        if let Some(o) = packages[0].as_object_mut() {
            o.remove("versionInfo");
        }
    }
    relationships.push(json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": root_id,
    }));
    if let Some(d) = &inv.distro {
        let id = "SPDXRef-OperatingSystem";
        packages.push(json!({
            "SPDXID": id,
            "name": d.id,
            "versionInfo": d.version_id,
            "description": d.name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        }));
        relationships.push(json!({"spdxElementId": root_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
    }
    let ids: BTreeMap<&str, String> = inv
        .packages
        .iter()
        .map(|p| (p.purl.as_str(), package_id(p)))
        .collect();
    for p in &inv.packages {
        let id = &ids[p.purl.as_str()];
        let mut o = serde_json::Map::new();
        o.insert("SPDXID".into(), json!(id));
        o.insert("name".into(), json!(p.name));
        if !p.version.is_empty() {
            o.insert("versionInfo".into(), json!(p.version));
        }
        o.insert(
            "downloadLocation".into(),
            json!(p.download.clone().unwrap_or_else(|| "NOASSERTION".into())),
        );
        o.insert("filesAnalyzed".into(), json!(false));
        o.insert("licenseConcluded".into(), json!("NOASSERTION"));
        o.insert("licenseDeclared".into(), json!(license_ref(&p.license)));
        o.insert("copyrightText".into(), json!("NOASSERTION"));
        o.insert(
            "primaryPackagePurpose".into(),
            json!(if p.ecosystem.is_os() {
                "INSTALL"
            } else {
                "LIBRARY"
            }),
        );
        o.insert(
            "sourceInfo".into(),
            json!(format!("found in: {}", p.locations.join(", "))),
        );
        if !p.hashes.is_empty() {
            o.insert(
                "checksums".into(),
                Value::Array(
                    p.hashes
                        .iter()
                        .map(|h| json!({"algorithm": algorithm(h.alg), "checksumValue": h.hex}))
                        .collect(),
                ),
            );
        }
        o.insert(
            "externalRefs".into(),
            json!([{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl}]),
        );
        packages.push(Value::Object(o));
        relationships.push(json!({"spdxElementId": root_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
        match p.scope {
            Scope::Dev => relationships.push(json!({"spdxElementId": id, "relationshipType": "DEV_DEPENDENCY_OF", "relatedSpdxElement": root_id})),
            Scope::Optional => relationships.push(json!({"spdxElementId": id, "relationshipType": "OPTIONAL_DEPENDENCY_OF", "relatedSpdxElement": root_id})),
            Scope::Required => {}
        }
        let targets: BTreeSet<&String> = p
            .depends_on
            .iter()
            .filter_map(|d| ids.get(d.as_str()))
            .collect();
        for t in targets {
            relationships.push(json!({"spdxElementId": id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": t}));
        }
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": inv.source.name,
        "documentNamespace": format!("https://sigil.invalid/spdxdocs/{}-{uuid}", sanitize(&inv.source.name)),
        "creationInfo": {
            "created": info.timestamp(),
            "creators": [format!("Tool: sigil-{}", info.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !extracted.is_empty() {
        doc["hasExtractedLicensingInfos"] = Value::Array(
            extracted
                .iter()
                .map(|(name, id)| json!({"licenseId": id, "name": name, "extractedText": name}))
                .collect(),
        );
    }
    let mut out = serde_json::to_vec_pretty(&doc).expect("JSON values serialise");
    out.push(b'\n');
    out
}

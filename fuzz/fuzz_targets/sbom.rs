//! SBOM inputs: every cataloger's parser (the first byte picks the file name) and image layer
//! streams. Nothing may panic; whatever parses must serialise as SPDX and CycloneDX.
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "Cargo.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock",
    "node_modules/a/package.json", "go.mod", "requirements.txt", "poetry.lock", "Pipfile.lock",
    "uv.lock", "x.dist-info/METADATA", "Gemfile.lock", "composer.lock", "pom.xml",
    "gradle.lockfile", "packages.lock.json", "Package.resolved", "Podfile.lock",
    "var/lib/dpkg/status", "lib/apk/db/installed", "var/lib/rpm/rpmdb.sqlite",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    if pick as usize == NAMES.len() {
        if let Ok(inv) = sigil_sbom::catalog_layer(rest) {
            let info = sigil_sbom::DocumentInfo { created: 0, tool_version: "0".into() };
            let _ = sigil_sbom::spdx_json::write(&inv, &info);
        }
        return;
    }
    let name = NAMES[pick as usize % NAMES.len()];
    if let Some(Ok(pkgs)) = sigil_sbom::catalog_file(name, rest) {
        for p in &pkgs {
            assert!(p.purl.starts_with("pkg:"), "{}", p.purl);
        }
    }
});

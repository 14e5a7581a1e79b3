//! The lockfile corpus (`tests/data/sbom-corpus/`, 130 real lockfiles from public repositories)
//! against its independent counts: `COUNTS.txt` (per file) and `UNION_COUNTS.txt` (distinct
//! name@version per repository). Every difference is listed below with its reason, and the
//! same reasons are in docs/sbom.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sigil_sbom::{Ecosystem, ScanOptions, Source, scan};

fn corpus() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/sbom-corpus");
    assert!(
        p.join("COUNTS.txt").exists(),
        "the corpus is missing at {}",
        p.display()
    );
    p
}

/// Files where Sigil's count differs from the independent one, on purpose.
const FILE_DIFFERENCES: &[(&str, usize, &str)] = &[
    // npm `alias@npm:real@1.0.0` entries are the real package (as syft and cdxgen count them).
    (
        "npm+cli/package-lock.json",
        1020,
        "3 npm: aliases folded into their real packages",
    ),
    (
        "npm+cli/smoke-tests/test/fixtures/large-install/package-lock.json",
        1178,
        "3 npm: aliases",
    ),
    ("rails+rails/yarn.lock", 759, "3 npm: aliases"),
    (
        "webpack+webpack/yarn.lock",
        1393,
        "6 npm: aliases, resolving to 4 packages already listed",
    ),
    // PyPI names are case-insensitive: Django==1.11.29 and django==1.11.29 are one package.
    (
        "google+osv-scanner/cmd/osv-scanner/scan/image/testdata/python-fixture/requirements.txt",
        13,
        "Django/django, Flask/flask and requests twice",
    ),
    // <dependencyManagement> pins versions; it does not add dependencies.
    (
        "google+osv-scanner/cmd/osv-scanner/fix/testdata/override-maven/pom.xml",
        2,
        "2 dependencyManagement entries",
    ),
    (
        "google+osv-scanner/cmd/osv-scanner/update/testdata/pom.xml",
        2,
        "1 dependencyManagement entry",
    ),
];

/// Per-repository unions where Sigil differs, on purpose.
const UNION_DIFFERENCES: &[(&str, &str, usize)] = &[
    ("npm+cli", "npm", 2409),           // aliases (above)
    ("google+osv-scanner", "npm", 115), // + the 2 bun.lock packages the union count does not read
    ("rails+rails", "npm", 759),        // aliases
    ("webpack+webpack", "npm", 1393),   // aliases
];

fn expected_for(
    path: &str,
    counts: &serde_json::Value,
    all: &BTreeMap<String, serde_json::Value>,
) -> Option<usize> {
    let n = |k: &str| counts.get(k).and_then(|v| v.as_u64()).map(|v| v as usize);
    match counts["fmt"].as_str()? {
        // go.mod is read with the go.sum beside it: the modules it has content hashes for.
        "go.mod" => {
            let sum = format!("{}go.sum", path.strip_suffix("go.mod")?);
            Some(match all.get(&sum) {
                Some(s) => s["entries"].as_u64()? as usize,
                None => n("entries")?,
            })
        }
        "go.sum" => None,
        "requirements" => n("pinned"),
        _ => n("unique_name_version").or_else(|| n("entries")),
    }
}

#[test]
fn every_file_matches_its_independent_count() {
    let root = corpus();
    let text = std::fs::read_to_string(root.join("COUNTS.txt")).unwrap();
    let all: BTreeMap<String, serde_json::Value> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, j)| (p.to_owned(), serde_json::from_str(j).unwrap()))
        .collect();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, counts) in &all {
        if counts["fmt"] == "go.sum" {
            continue; // read with its go.mod
        }
        let inv = scan(&Source::Dir(root.join(path)), &ScanOptions::default()).unwrap();
        if counts.get("error").is_some() {
            // The deliberately broken lockfiles: a warning naming the line, no packages.
            assert_eq!(inv.warnings.len(), 1, "{path}");
            assert!(inv.warnings[0].line.is_some(), "{path}: {:?}", inv.warnings);
            assert!(inv.packages.is_empty(), "{path}");
            checked += 1;
            continue;
        }
        assert!(inv.warnings.is_empty(), "{path}: {:?}", inv.warnings);
        let Some(want) = expected_for(path, counts, &all) else {
            continue;
        };
        let want = FILE_DIFFERENCES
            .iter()
            .find(|(p, _, _)| p == path)
            .map_or(want, |(_, n, _)| *n);
        if inv.packages.len() != want {
            failures.push(format!(
                "{path}: {} packages, expected {want}",
                inv.packages.len()
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 115, "only {checked} files checked");
}

#[test]
fn repositories_match_the_union_counts() {
    let root = corpus();
    let text = std::fs::read_to_string(root.join("UNION_COUNTS.txt")).unwrap();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let repo = parts.next().unwrap();
        let inv = scan(&Source::Dir(root.join(repo)), &ScanOptions::default()).unwrap();
        let counts = inv.counts();
        for kv in parts {
            let (eco, n) = kv.split_once('=').unwrap();
            let (eco, label) = match eco.split('(').next().unwrap() {
                "npm" => (Ecosystem::Npm, "npm"),
                "cargo" => (Ecosystem::Cargo, "cargo"),
                "golang" => (Ecosystem::Go, "golang"),
                other => panic!("unknown ecosystem {other}"),
            };
            let want = UNION_DIFFERENCES
                .iter()
                .find(|(r, e, _)| *r == repo && *e == label)
                .map_or(n.parse::<usize>().unwrap(), |(_, _, n)| *n);
            assert_eq!(
                counts.get(&eco).copied().unwrap_or(0),
                want,
                "{repo} {label}"
            );
        }
    }
}

#[test]
fn broken_lockfiles_are_reported_and_the_rest_is_scanned() {
    let inv = scan(&Source::Dir(corpus()), &ScanOptions::default()).unwrap();
    let w: Vec<String> = inv.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("google+osv-scanner/cmd/osv-scanner/scan/source/testdata/locks-many-with-invalid/composer.lock:7: malformed JSON"), "{w:?}");
    assert!(
        w[1].starts_with(
            "python-poetry+poetry/tests/fixtures/invalid_lock/poetry.lock:1: malformed TOML"
        ),
        "{w:?}"
    );
    assert!(inv.packages.len() > 7000);
    // One package per purl, every one with a location.
    let mut purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
    purls.dedup();
    assert_eq!(purls.len(), inv.packages.len());
    assert!(inv.packages.iter().all(|p| !p.locations.is_empty()));
}

#[test]
fn dependency_edges_and_scopes_come_from_the_lockfiles() {
    let root = corpus();
    let one = |p: &str| scan(&Source::Dir(root.join(p)), &ScanOptions::default()).unwrap();
    let find = |inv: &sigil_sbom::Inventory, purl: &str| {
        inv.packages
            .iter()
            .find(|p| p.purl == purl)
            .cloned()
            .unwrap_or_else(|| panic!("{purl} missing"))
    };

    // Cargo: tauri's crates know their dependencies.
    let tauri = one("tauri-apps+tauri/Cargo.lock");
    assert!(
        tauri
            .packages
            .iter()
            .filter(|p| !p.depends_on.is_empty())
            .count()
            > 700
    );
    assert!(tauri.packages.iter().any(|p| {
        p.hashes
            .iter()
            .any(|h| h.alg == sigil_sbom::HashAlg::Sha256)
    }));

    // pnpm v9: edges from snapshots; dev-only packages found from the importers.
    let pnpm = one("prometheus+prometheus/web/ui/react-app/pnpm-lock.yaml");
    assert!(
        pnpm.packages
            .iter()
            .filter(|p| !p.depends_on.is_empty())
            .count()
            > 500
    );
    assert!(
        pnpm.packages
            .iter()
            .any(|p| p.scope == sigil_sbom::Scope::Dev)
    );

    // npm v3: dev flags, integrity hashes and node resolution of edges.
    let npm = one("npm+cli/package-lock.json");
    assert!(
        npm.packages
            .iter()
            .filter(|p| p.scope == sigil_sbom::Scope::Dev)
            .count()
            > 500
    );
    assert!(
        npm.packages
            .iter()
            .all(|p| p.depends_on.iter().all(|d| d.starts_with("pkg:npm/")))
    );

    // Pipfile.lock: default 10, develop 100, union 101; --exclude-dev keeps the 10.
    let pipenv = scan(
        &Source::Dir(root.join("pypa+pipenv/Pipfile.lock")),
        &ScanOptions {
            exclude_dev: true,
            ..ScanOptions::default()
        },
    )
    .unwrap();
    assert_eq!(pipenv.packages.len(), 10);

    // Gemfile.lock nested specs are edges.
    let rails = one("rails+rails/Gemfile.lock");
    let railties = rails
        .packages
        .iter()
        .find(|p| p.name == "railties")
        .unwrap();
    assert!(
        railties
            .depends_on
            .iter()
            .any(|d| d.starts_with("pkg:gem/actionpack@")),
        "{:?}",
        railties.depends_on
    );

    // SwiftPM and CocoaPods (not in the independent counts; syft finds the same 2 + 2).
    let swift = one("google+osv-scanner/cmd/osv-scanner/scan/source/testdata");
    let swift_purls: Vec<&str> = swift
        .packages
        .iter()
        .map(|p| p.purl.as_str())
        .filter(|p| p.starts_with("pkg:swift/") || p.starts_with("pkg:cocoapods/"))
        .collect();
    assert_eq!(
        swift_purls,
        [
            "pkg:cocoapods/GlossButtonNode@3.1.2",
            "pkg:cocoapods/PINCache@3.0.3",
            "pkg:swift/github.com/apple/swift-nio-http2@1.19.1",
            "pkg:swift/github.com/pytorch/executorch@0.6.0",
        ]
    );

    // Composer: packages-dev are dev.
    let composer = one("composer+composer/composer.lock");
    assert_eq!(
        composer
            .packages
            .iter()
            .filter(|p| p.scope == sigil_sbom::Scope::Dev)
            .count(),
        6
    );
    let _ = find(&composer, &composer.packages[0].purl);
}

//! `sigil sbom` end to end: the outputs pass the official validators (pyspdxtools, the
//! CycloneDX strict schema validator) and our own reference checks; a Debian rootfs gives its
//! 88 dpkg packages, and so do the OCI image umoci builds from it, its archives (skopeo) and
//! the same image in the real registry; whiteouts; RPM and apk databases; bad input.

mod common;
#[path = "../../../tests/support/registry.rs"]
mod registry;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/sbom-corpus")
        .join(rel)
}

fn sbom_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sbom")
        .join(rel)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Writes SPDX, CycloneDX 1.5 and 1.6 for `source` into `dir` (prefix `name`), returning the
/// three paths. Exit 0 is required.
fn generate_all(dir: &Path, source: &str, name: &str) -> [PathBuf; 3] {
    let spdx = dir.join(format!("{name}.spdx.json"));
    let cdx15 = dir.join(format!("{name}.cdx15.json"));
    let cdx16 = dir.join(format!("{name}.cdx16.json"));
    ok(sigil(dir).args([
        "sbom",
        "-q",
        source,
        "-o",
        &format!("spdx-json={}", spdx.display()),
        "-o",
        &format!("cyclonedx-json={}", cdx16.display()),
    ]));
    ok(sigil(dir).args([
        "sbom",
        "-q",
        "--cyclonedx-version",
        "1.5",
        source,
        "-o",
        &format!("cyclonedx-json={}", cdx15.display()),
    ]));
    [spdx, cdx15, cdx16]
}

/// pyspdxtools -i (parse and validate; exit 0 means valid).
fn pyspdxtools(file: &Path) {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys; from spdx_tools.spdx.clitools.pyspdxtools import main; sys.argv[0] = 'pyspdxtools'; main()",
            "-i",
        ])
        .arg(file)
        .output()
        .expect("python3 with spdx-tools (scripts/test installs it)");
    assert!(
        o.status.success(),
        "pyspdxtools refused {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// cyclonedx-python-lib's strict validator on every file.
fn cdx_validate(files: &[&Path]) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/python/cdx_validate.py");
    let o = Command::new("python3")
        .arg(script)
        .args(files)
        .output()
        .expect("python3 with cyclonedx-python-lib (scripts/test installs it)");
    assert!(
        o.status.success(),
        "CycloneDX validation failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches(" VALID").count(),
        files.len()
    );
}

/// The rules the schemas and validators do not check (see docs/sbom.md).
fn reference_checks_spdx(doc: &Value) {
    let id_ok = |s: &str| {
        s.strip_prefix("SPDXRef-").is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
    };
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    let created = doc["creationInfo"]["created"].as_str().unwrap();
    assert_eq!(created.len(), 20, "{created}");
    assert!(created.ends_with('Z'));
    let mut ids = HashSet::new();
    ids.insert("SPDXRef-DOCUMENT".to_owned());
    for p in doc["packages"].as_array().unwrap() {
        let id = p["SPDXID"].as_str().unwrap();
        assert!(id_ok(id), "{id}");
        assert!(ids.insert(id.to_owned()), "duplicate {id}");
        assert_eq!(p["filesAnalyzed"], false);
        let dl = p["downloadLocation"].as_str().unwrap();
        assert!(
            dl == "NOASSERTION"
                || dl.starts_with("https://")
                || dl.starts_with("http://")
                || dl.starts_with("git+"),
            "{dl}"
        );
        for r in p["externalRefs"].as_array().into_iter().flatten() {
            assert!(r["referenceLocator"].as_str().unwrap().starts_with("pkg:"));
        }
    }
    let defined: HashSet<&str> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| l["licenseId"].as_str().unwrap())
        .collect();
    for p in doc["packages"].as_array().unwrap() {
        let l = p["licenseDeclared"].as_str().unwrap();
        if l.starts_with("LicenseRef-") {
            assert!(defined.contains(l), "{l} undefined");
        }
    }
    let rels = doc["relationships"].as_array().unwrap();
    assert_eq!(
        rels.iter()
            .filter(|r| r["relationshipType"] == "DESCRIBES")
            .count(),
        1
    );
    for r in rels {
        assert!(ids.contains(r["spdxElementId"].as_str().unwrap()), "{r}");
        assert!(
            ids.contains(r["relatedSpdxElement"].as_str().unwrap()),
            "{r}"
        );
    }
}

fn reference_checks_cdx(doc: &Value) {
    let serial = doc["serialNumber"].as_str().unwrap();
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
    let mut refs = HashSet::new();
    refs.insert(
        doc["metadata"]["component"]["bom-ref"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    for c in doc["components"].as_array().unwrap() {
        assert!(
            refs.insert(c["bom-ref"].as_str().unwrap().to_owned()),
            "duplicate {c}"
        );
    }
    let mut seen = HashSet::new();
    for d in doc["dependencies"].as_array().unwrap() {
        let r = d["ref"].as_str().unwrap();
        assert!(refs.contains(r), "dependency entry for unknown {r}");
        assert!(seen.insert(r), "two entries for {r}");
        for t in d["dependsOn"].as_array().unwrap() {
            assert!(refs.contains(t.as_str().unwrap()), "dangling dependsOn {t}");
        }
    }
}

fn purls_cdx(doc: &Value) -> BTreeSet<String> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn corpus_outputs_pass_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cdx: Vec<PathBuf> = Vec::new();
    // Small and medium repositories of every lockfile family (pyspdxtools does not scale to
    // the whole corpus: 312 s for 8.8k packages).
    for repo in [
        "composer+composer",
        "pypa+pipenv",
        "python-poetry+poetry/poetry.lock",
        "spring-projects+spring-petclinic",
        "FabricMC+Mercury",
        "Electric-Coin-Company+kotlin-bip39",
        "google+osv-scanner/cmd/osv-scanner/scan/source/testdata",
        "rails+rails/tools/releaser",
        "tauri-apps+tauri/pnpm-lock.yaml",
    ] {
        let name = repo.replace(['/', '+'], "_");
        let source = corpus(repo).display().to_string();
        let out = d.join(format!("{name}.spdx.json"));
        let o = run(sigil(d).args([
            "sbom",
            "-q",
            &source,
            "-o",
            &format!("spdx-json={}", out.display()),
        ]));
        // The osv-scanner fixtures hold a deliberately broken composer.lock: exit 4 (partial).
        let code = o.status.code().unwrap();
        assert!(
            code == 0 || (code == 4 && repo.contains("osv-scanner")),
            "{repo}: {}",
            stderr(&o)
        );
        let doc = read_json(&out);
        reference_checks_spdx(&doc);
        pyspdxtools(&out);
        for v in ["1.5", "1.6"] {
            let out = d.join(format!("{name}.{v}.cdx.json"));
            run(sigil(d).args([
                "sbom",
                "-q",
                "--cyclonedx-version",
                v,
                &source,
                "-o",
                &format!("cyclonedx-json={}", out.display()),
            ]));
            let doc = read_json(&out);
            assert_eq!(doc["specVersion"], v);
            reference_checks_cdx(&doc);
            cdx.push(out);
        }
    }
    // The whole corpus through our own checks (the Python validators take minutes on it).
    let all = d.join("all.cdx.json");
    let o = run(sigil(d).args([
        "sbom",
        "-q",
        &corpus("").display().to_string(),
        "-o",
        &format!("cyclonedx-json={}", all.display()),
        "-o",
        &format!("spdx-json={}", d.join("all.spdx.json").display()),
    ]));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    reference_checks_cdx(&read_json(&all));
    reference_checks_spdx(&read_json(&d.join("all.spdx.json")));
    cdx_validate(&cdx.iter().map(PathBuf::as_path).collect::<Vec<_>>());
}

/// Unpacks the committed trim of a `debootstrap --variant=minbase bookworm` root filesystem
/// (its dpkg status, os-release and copyright files).
fn bookworm_rootfs(into: &Path) -> PathBuf {
    let root = into.join("rootfs");
    std::fs::create_dir_all(&root).unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(sbom_data("bookworm-minbase-dpkg.tar.gz"))
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success());
    root
}

fn umoci(args: &[&str]) {
    let o = Command::new("umoci")
        .args(args)
        .output()
        .expect("umoci (scripts/test installs it)");
    assert!(
        o.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn skopeo(args: &[&str]) {
    let o = Command::new("skopeo")
        .args(["--insecure-policy"])
        .args(args)
        .output()
        .expect("skopeo (scripts/test installs it)");
    assert!(
        o.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn cdx_of(d: &Path, args: &[&str]) -> Value {
    let out = ok(sigil(d)
        .args(["sbom", "-q", "-o", "cyclonedx-json"])
        .args(args));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn debian_rootfs_and_its_images_give_the_same_88_packages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = bookworm_rootfs(d);
    let rootfs = format!("rootfs:{}", root.display());

    let files = generate_all(d, &rootfs, "rootfs");
    let spdx = read_json(&files[0]);
    reference_checks_spdx(&spdx);
    pyspdxtools(&files[0]);
    for f in &files[1..] {
        reference_checks_cdx(&read_json(f));
    }
    cdx_validate(&[&files[1], &files[2]]);

    let doc = read_json(&files[2]);
    let debs: Vec<&Value> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:deb/debian/"))
        })
        .collect();
    assert_eq!(debs.len(), 88);
    assert!(
        debs.iter()
            .all(|c| c["purl"].as_str().unwrap().contains("distro=debian-12"))
    );
    let licensed = debs.iter().filter(|c| c.get("licenses").is_some()).count();
    assert_eq!(licensed, 87, "syft 1.18 reports 87 of 88 with licenses");
    let with_deps = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["ref"].as_str().unwrap().starts_with("pkg:deb/")
                && !e["dependsOn"].as_array().unwrap().is_empty()
        })
        .count();
    assert_eq!(
        with_deps, 80,
        "80 packages declare Depends/Pre-Depends on installed packages"
    );
    let bash = debs.iter().find(|c| c["name"] == "bash").unwrap();
    assert_eq!(
        bash["purl"],
        "pkg:deb/debian/bash@5.2.15-2%2Bb13?arch=amd64&distro=debian-12"
    );
    assert!(
        bash["licenses"][0]["expression"]
            .as_str()
            .unwrap()
            .contains("GPL-3.0-or-later")
    );
    // libgcc-s1's doc directory is a symlink to gcc-12-base's: its license is still found.
    let libgcc = debs.iter().find(|c| c["name"] == "libgcc-s1").unwrap();
    assert!(libgcc.get("licenses").is_some(), "{libgcc}");
    let os = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "operating-system")
        .unwrap();
    assert_eq!(
        (os["name"].as_str(), os["version"].as_str()),
        (Some("debian"), Some("12"))
    );
    let want = purls_cdx(&doc);

    // The OCI image umoci builds from the same tree.
    let layout = d.join("layout");
    let img = format!("{}:bookworm", layout.display());
    umoci(&["init", "--layout", &layout.display().to_string()]);
    umoci(&["new", "--image", &img]);
    umoci(&["insert", "--image", &img, &root.display().to_string(), "/"]);
    let oci = cdx_of(d, &[&format!("oci-dir:{img}")]);
    assert_eq!(purls_cdx(&oci), want);
    assert_eq!(oci["metadata"]["component"]["type"], "container");
    assert!(
        oci["metadata"]["component"]["version"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    // Licenses through the image too (the doc-directory symlink is followed inside layers).
    let licensed_in_image = oci["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("licenses").is_some())
        .count();
    assert_eq!(licensed_in_image, 87);
    let layout_files = generate_all(d, &format!("oci-dir:{img}"), "layout");
    pyspdxtools(&layout_files[0]);
    cdx_validate(&[&layout_files[1], &layout_files[2]]);

    // Its archives, written by skopeo.
    let oci_tar = d.join("image.oci.tar");
    let docker_tar = d.join("image.docker.tar");
    skopeo(&[
        "copy",
        &format!("oci:{img}"),
        &format!("oci-archive:{}:bookworm", oci_tar.display()),
    ]);
    skopeo(&[
        "copy",
        &format!("oci:{img}"),
        &format!(
            "docker-archive:{}:debian-minbase:bookworm",
            docker_tar.display()
        ),
    ]);
    assert_eq!(
        purls_cdx(&cdx_of(d, &[&format!("oci-archive:{}", oci_tar.display())])),
        want
    );
    assert_eq!(
        purls_cdx(&cdx_of(
            d,
            &[&format!("docker-archive:{}", docker_tar.display())]
        )),
        want
    );

    // And in the real registry.
    let reg = registry::TestRegistry::start();
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{img}"),
        &format!("docker://{}/debian/minbase:bookworm", reg.addr),
    ]);
    let from_registry = cdx_of(
        d,
        &[&format!("registry:{}/debian/minbase:bookworm", reg.addr)],
    );
    assert_eq!(purls_cdx(&from_registry), want);
    fails(
        sigil(d).args([
            "sbom",
            &format!("registry:{}/debian/minbase:nope", reg.addr),
        ]),
        11,
        "",
    );
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    fails(
        sigil(d).args(["sbom", &format!("registry:{gone}/debian/minbase:bookworm")]),
        14,
        "unreachable",
    );
    assert_eq!(
        from_registry["metadata"]["component"]["version"], oci["metadata"]["component"]["version"],
        "the same manifest digest"
    );
}

#[test]
fn whiteouts_and_opaque_directories_from_umoci_layers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let app = d.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::copy(
        corpus("tauri-apps+tauri/Cargo.lock"),
        app.join("Cargo.lock"),
    )
    .unwrap();
    std::fs::copy(
        corpus("composer+composer/composer.lock"),
        app.join("composer.lock"),
    )
    .unwrap();
    let layout = d.join("layout");
    let img = format!("{}:t", layout.display());
    umoci(&["init", "--layout", &layout.display().to_string()]);
    umoci(&["new", "--image", &img]);
    umoci(&[
        "insert",
        "--image",
        &img,
        &app.display().to_string(),
        "/srv/app",
    ]);
    let counts = |d: &Path| -> Value {
        let out = ok(sigil(d).args(["sbom", "-q", "-o", "json", &format!("oci-dir:{img}")]));
        serde_json::from_str::<Value>(&out).unwrap()["ecosystems"].clone()
    };
    assert_eq!(
        counts(d),
        serde_json::json!({"cargo": 1031, "composer": 36})
    );
    // A whiteout of one file in a later layer.
    umoci(&[
        "insert",
        "--image",
        &img,
        "--whiteout",
        "/srv/app/Cargo.lock",
    ]);
    assert_eq!(counts(d), serde_json::json!({"composer": 36}));
    // An opaque directory replaces everything below it from lower layers.
    let other = d.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(
        corpus("rails+rails/tools/releaser/Gemfile.lock"),
        other.join("Gemfile.lock"),
    )
    .unwrap();
    umoci(&[
        "insert",
        "--image",
        &img,
        "--opaque",
        &other.display().to_string(),
        "/srv/app",
    ]);
    assert_eq!(counts(d), serde_json::json!({"gem": 13}));
}

fn rpmbuild(top: &Path, name: &str, version: &str, release: &str, license: &str, extra: &str) {
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS").join(format!("{name}.spec"));
    std::fs::write(
        &spec,
        format!(
            "Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: test package\nLicense: {license}\nBuildArch: noarch\n{extra}\n%description\nA test package.\n%files\n"
        ),
    )
    .unwrap();
    let o = Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("-bb")
        .arg(&spec)
        .output()
        .expect("rpmbuild (scripts/test installs rpm)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn rpm_database_built_by_rpm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let top = d.join("build");
    rpmbuild(&top, "hello", "1.2", "3", "MIT", "Epoch: 2");
    rpmbuild(
        &top,
        "greeter",
        "0.9",
        "1",
        "MIT or Apache-2.0",
        "Requires: hello",
    );
    let root = d.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=fedora\nVERSION_ID=40\nNAME=\"Fedora Linux\"\n",
    )
    .unwrap();
    let dbpath = root.join("var/lib/rpm");
    std::fs::create_dir_all(&dbpath).unwrap();
    let rpm = |args: &[&str]| {
        let o = Command::new("rpm")
            .arg("--dbpath")
            .arg(&dbpath)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    rpm(&["--initdb"]);
    let mut install = vec!["-i", "--justdb", "--nodeps", "--noscripts"];
    let rpms: Vec<String> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    install.extend(rpms.iter().map(String::as_str));
    rpm(&install);
    assert!(
        dbpath.join("rpmdb.sqlite").exists(),
        "rpm 4.18 writes the SQLite backend"
    );

    let source = format!("rootfs:{}", root.display());
    let files = generate_all(d, &source, "rpm");
    pyspdxtools(&files[0]);
    cdx_validate(&[&files[1], &files[2]]);
    let doc = read_json(&files[2]);
    reference_checks_cdx(&doc);
    let hello = "pkg:rpm/fedora/hello@1.2-3?arch=noarch&distro=fedora-40&epoch=2";
    let greeter = "pkg:rpm/fedora/greeter@0.9-1?arch=noarch&distro=fedora-40";
    assert_eq!(
        purls_cdx(&doc),
        BTreeSet::from([greeter.to_owned(), hello.to_owned()])
    );
    let dep = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ref"] == greeter)
        .unwrap();
    assert_eq!(dep["dependsOn"], serde_json::json!([hello]));
    let g = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"] == greeter)
        .unwrap();
    assert_eq!(g["licenses"][0]["expression"], "MIT OR Apache-2.0");
}

#[test]
fn alpine_installed_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = generate_all(
        d,
        &format!("rootfs:{}", sbom_data("alpine").display()),
        "apk",
    );
    pyspdxtools(&files[0]);
    cdx_validate(&[&files[1], &files[2]]);
    let doc = read_json(&files[2]);
    reference_checks_cdx(&doc);
    let purls = purls_cdx(&doc);
    assert_eq!(purls.len(), 4);
    assert!(purls.contains(
        "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
    ));
    // "D:so:libc.musl-x86_64.so.1" resolves through musl's "p:so:..." provide.
    let busybox = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["ref"]
                .as_str()
                .unwrap()
                .starts_with("pkg:apk/alpine/busybox@")
        })
        .unwrap();
    assert_eq!(
        busybox["dependsOn"],
        serde_json::json!(["pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"])
    );
}

#[test]
fn output_is_deterministic_for_the_same_input_and_source_date_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = corpus("tauri-apps+tauri").display().to_string();
    let make = |epoch: &str| -> (String, String) {
        let s = ok(sigil(d).env("SOURCE_DATE_EPOCH", epoch).args([
            "sbom",
            "-q",
            &src,
            "-o",
            "spdx-json",
        ]));
        let c = ok(sigil(d).env("SOURCE_DATE_EPOCH", epoch).args([
            "sbom",
            "-q",
            &src,
            "-o",
            "cyclonedx-json",
        ]));
        (s, c)
    };
    let a = make("1700000000");
    let b = make("1700000000");
    assert_eq!(a, b);
    assert!(a.0.contains("\"created\": \"2023-11-14T22:13:20Z\""));
    let c = make("1700000001");
    assert_ne!(a.1, c.1);
    let serial = |s: &str| serde_json::from_str::<Value>(s).unwrap()["serialNumber"].clone();
    assert_ne!(
        serial(&a.1),
        serial(&c.1),
        "another document, another serial number"
    );
}

#[test]
fn outputs_go_to_files_and_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = corpus("FabricMC+Mercury").display().to_string();
    let out = ok(sigil(d).args([
        "sbom",
        &src,
        "-o",
        "cyclonedx-json",
        "-o",
        "spdx-json=m.spdx.json",
        "-o",
        "json=summary.json",
    ]));
    let cdx: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cdx["components"].as_array().unwrap().len(), 28);
    assert_eq!(
        read_json(&d.join("m.spdx.json"))["packages"]
            .as_array()
            .unwrap()
            .len(),
        29
    );
    let summary = read_json(&d.join("summary.json"));
    assert_eq!(summary["ecosystems"]["maven"], 28);
    assert_eq!(summary["partial"], false);
    // The summary table on standard error.
    let o = run(sigil(d).args(["sbom", &src, "-o", "json"]));
    assert!(
        stderr(&o).contains("maven              28"),
        "{}",
        stderr(&o)
    );
    // Two documents cannot share standard output.
    fails(
        sigil(d).args(["sbom", &src, "-o", "spdx-json", "-o", "cyclonedx-json"]),
        3,
        "only one output can go to standard output",
    );
    fails(
        sigil(d).args(["sbom", &src, "-o", "xml"]),
        3,
        "unknown output format",
    );
    fails(
        sigil(d).args(["sbom", "/nonexistent/dir"]),
        3,
        "/nonexistent/dir",
    );
}

/// An OCI layout written by hand, for inputs no tool would produce.
fn write_layout(dir: &Path, layers: &[Vec<u8>], tamper: bool) {
    use sigil_oci::manifest::sha256_digest;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> String {
        let digest = sha256_digest(data);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), data).unwrap();
        digest
    };
    let mut descs = Vec::new();
    for l in layers {
        let digest = put(l);
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": l.len()}));
    }
    if tamper {
        let digest = descs[0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let mut data = layers[0].clone();
        data.extend_from_slice(&[0u8; 512]);
        std::fs::write(blobs.join(digest), data).unwrap();
    }
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256_digest(l)).collect();
    let config = put(serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    .to_string()
    .as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 10},
        "layers": descs,
    })
    .to_string();
    let m = put(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "v1"}}],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// A tar with raw entry names (the tar crate refuses to write `..` through its API).
fn raw_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_old();
        let n = name.as_bytes();
        h.as_old_mut().name[..n.len()].copy_from_slice(n);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn bad_input_is_skipped_reported_and_marked_partial() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::create_dir_all(src.join("c")).unwrap();
    std::fs::write(src.join("a/Cargo.lock"), "version = 3\n\n[[package]]\nname = \"ok\"\nversion = \"1.0.0\"\n\n[[package]]\nname = broken\n").unwrap();
    std::fs::copy(
        corpus("FabricMC+Mercury/gradle.lockfile"),
        src.join("b/gradle.lockfile"),
    )
    .unwrap();
    // A symlink loop and a symlink out of the source, both named like lockfiles.
    std::os::unix::fs::symlink("poetry.lock", src.join("c/poetry.lock")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", src.join("c/Gemfile.lock")).unwrap();
    // An oversized file.
    std::fs::write(
        src.join("c/composer.lock"),
        format!("{{\"packages\": [], \"pad\": \"{}\"}}", "x".repeat(4096)),
    )
    .unwrap();
    let out = d.join("out.cdx.json");
    let o = run(sigil(d).args([
        "sbom",
        &src.display().to_string(),
        "--max-file-size",
        "3500",
        "-o",
        &format!("cyclonedx-json={}", out.display()),
    ]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("a/Cargo.lock:8: malformed TOML"), "{err}");
    assert!(
        err.contains("c/poetry.lock: skipped: a symlink loop"),
        "{err}"
    );
    assert!(
        err.contains("c/Gemfile.lock: skipped: a symlink out of the source"),
        "{err}"
    );
    assert!(
        err.contains("c/composer.lock: skipped: 4123 bytes, over the 3500-byte limit"),
        "{err}"
    );
    assert!(err.contains("the SBOM is partial: 4 input(s)"), "{err}");
    // The rest was scanned and written.
    let doc = read_json(&out);
    assert_eq!(doc["components"].as_array().unwrap().len(), 28);

    // An image layer whose entry would escape the root: skipped and reported.
    let layout = d.join("escape");
    write_layout(
        &layout,
        &[raw_tar(&[
            ("../../srv/Cargo.lock", b"version = 3\n"),
            (
                "app/Cargo.lock",
                b"version = 3\n\n[[package]]\nname = \"x\"\nversion = \"1.0.0\"\n",
            ),
        ])],
        false,
    );
    let o = run(sigil(d).args([
        "sbom",
        "-q",
        &format!("oci-dir:{}:v1", layout.display()),
        "-o",
        "json",
    ]));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("../../srv/Cargo.lock: skipped: a tar entry that would escape the root"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["packages"],
        1
    );

    // A layer that does not match its digest is refused outright.
    let layout = d.join("tampered");
    write_layout(
        &layout,
        &[raw_tar(&[("app/Cargo.lock", b"version = 3\n")])],
        true,
    );
    fails(
        sigil(d).args(["sbom", "-q", &format!("oci-dir:{}", layout.display())]),
        3,
        "the manifest says sha256:",
    );
    // A tag the layout does not have, and something that is not a layout.
    fails(
        sigil(d).args(["sbom", "-q", &format!("oci-dir:{}:v2", layout.display())]),
        3,
        "no manifest tagged \"v2\"",
    );
    fails(
        sigil(d).args([
            "sbom",
            "-q",
            &format!("oci-archive:{}", src.join("b/gradle.lockfile").display()),
        ]),
        3,
        "malformed tar",
    );
}

/// A closed standard output (`sigil … | head -c 100`) ends the command quietly with its own exit
/// code: no panic (101), no "Broken pipe" error; the same code as with the output kept.
#[test]
fn a_closed_pipe_ends_quietly_with_the_commands_exit_code() {
    let corpus = corpus("");
    let bin = env!("CARGO_BIN_EXE_sigil");
    let kept = Command::new(bin)
        .arg("sbom")
        .arg(&corpus)
        .args(["-o", "spdx-json", "-q"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    let o = Command::new("bash")
        .args([
            "-c",
            r#"set -o pipefail; "$0" sbom "$1" -o spdx-json -q 2>&1 | head -c 100 >/dev/null"#,
            bin,
        ])
        .arg(&corpus)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), kept.code(), "{}", stderr(&o));
}

/// Lockfiles nested thousands of levels deep (the hostile-input run's 503 KB pnpm-lock.yaml and
/// a berry yarn.lock) are skipped with a warning (exit 4), not a stack overflow (exit 134).
#[test]
fn deeply_nested_yaml_lockfiles_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("web")).unwrap();
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    std::fs::write(
        src.join("pnpm-lock.yaml"),
        format!(
            "lockfileVersion: '9.0'\npackages:\n  deep: {}\n",
            nest(1000)
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("web/yarn.lock"),
        format!(
            "__metadata:\n  version: 6\n\n\"a@npm:1.0.0\":\n  version: 1.0.0\n  deep: {}\n",
            nest(2000)
        ),
    )
    .unwrap();
    let o = run(sigil(d).args(["sbom", "-o", "json"]).arg(&src));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("pnpm-lock.yaml"), "{err}");
    assert!(err.contains("yarn.lock"), "{err}");
    assert!(err.contains("malformed YAML"), "{err}");
}

/// A `docker save` archive whose layer was swapped: every layer is checked against the config's
/// `diff_ids` (the config's digest is the image ID), so no SBOM comes out under the genuine ID.
/// A Layers path that leaves the archive is named.
#[test]
fn docker_archive_layers_are_checked_against_diff_ids() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let make_layer = |name: &str, text: &str| {
        let root = d.join(format!("{name}-root"));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/os-release"), text).unwrap();
        let st = Command::new("tar")
            .arg("-cf")
            .arg(d.join(name))
            .arg("-C")
            .arg(&root)
            .arg("etc")
            .status()
            .unwrap();
        assert!(st.success());
        let bytes = std::fs::read(d.join(name)).unwrap();
        sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, &bytes).to_hex()
    };
    let genuine = make_layer("genuine.tar", "ID=debian\nVERSION_ID=12\n");
    let _ = make_layer("evil.tar", "ID=alpine\nVERSION_ID=3.20.3\n");
    let archive = |layer_file: &str, layers_entry: &str, out: &str| {
        let a = d.join(format!("{out}-dir"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::copy(d.join(layer_file), a.join("layer.tar")).unwrap();
        let config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{genuine}")]}});
        std::fs::write(a.join("config.json"), config.to_string()).unwrap();
        let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": [layers_entry]}]);
        std::fs::write(a.join("manifest.json"), manifest.to_string()).unwrap();
        let st = Command::new("tar")
            .arg("-cf")
            .arg(d.join(out))
            .arg("-C")
            .arg(&a)
            .args(["manifest.json", "config.json", "layer.tar"])
            .status()
            .unwrap();
        assert!(st.success());
        format!("docker-archive:{}", d.join(out).display())
    };
    let good = archive("genuine.tar", "layer.tar", "good.tar");
    ok(sigil(d).args(["sbom", "-o", "json", "-q", &good]));
    let tampered = archive("evil.tar", "layer.tar", "tampered.tar");
    fails(
        sigil(d).args(["sbom", "-o", "json", "-q", &tampered]),
        3,
        "the image config's diff_id is",
    );
    let escaping = archive("genuine.tar", "../../etc/passwd", "escaping.tar");
    fails(
        sigil(d).args(["sbom", "-o", "json", "-q", &escaping]),
        3,
        "the Layers path \"../../etc/passwd\" leaves the archive",
    );
}

/// Thousands of hard links to one file hold one copy, and an image scan has one memory budget
/// (`--max-image-memory`) that ends it with a clear error when exceeded.
#[test]
fn hard_links_share_one_copy_under_the_image_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut lock =
        String::from("version = 3\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\n");
    while lock.len() < 40 << 10 {
        lock.push_str("# padding to make the file large enough to matter\n");
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(lock.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "app/Cargo.lock", lock.as_bytes())
        .unwrap();
    for i in 0..3000 {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Link);
        b.append_link(&mut h, format!("copy{i}/Cargo.lock"), "app/Cargo.lock")
            .unwrap();
    }
    let linked = b.into_inner().unwrap();
    let layout = d.join("linked");
    write_layout(&layout, &[linked], false);
    let source = format!("oci-dir:{}", layout.display());
    // 3001 names of a 40 KiB file fit in 64 KiB: the links cost nothing.
    let out = ok(sigil(d).args([
        "sbom",
        "-q",
        "--max-image-memory",
        "64KiB",
        "-o",
        "json",
        &source,
    ]));
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["packages"], 1, "{summary}");

    // Two different 40 KiB files do not.
    let two = raw_tar(&[
        ("a/Cargo.lock", lock.as_bytes()),
        ("b/Cargo.lock", lock.as_bytes()),
    ]);
    let layout = d.join("two");
    write_layout(&layout, &[two], false);
    fails(
        sigil(d).args([
            "sbom",
            "-q",
            "--max-image-memory",
            "64KiB",
            "-o",
            "json",
            &format!("oci-dir:{}", layout.display()),
        ]),
        3,
        "would exceed the 65536-byte memory budget (raise it with --max-image-memory)",
    );
}

/// A directory takes its distribution only from its own root: an os-release deeper down (a
/// test fixture, a vendored root file system) does not make the whole tree that distribution.
#[test]
fn a_directory_takes_its_distribution_only_from_its_own_root() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fixture = d.join("src/tests/fixture");
    std::fs::create_dir_all(fixture.join("etc")).unwrap();
    std::fs::write(
        fixture.join("etc/os-release"),
        "ID=alpine\nVERSION_ID=3.20.3\n",
    )
    .unwrap();
    std::fs::create_dir_all(fixture.join("lib/apk/db")).unwrap();
    std::fs::copy(
        sbom_data("alpine/lib/apk/db/installed"),
        fixture.join("lib/apk/db/installed"),
    )
    .unwrap();
    let purls = |source: &Path| {
        let doc = cdx_of(d, &[&format!("dir:{}", source.display())]);
        purls_cdx(&doc)
    };
    let nested = purls(&d.join("src"));
    assert!(nested.iter().all(|p| !p.contains("distro=")), "{nested:?}");
    let own = purls(&fixture);
    assert!(
        own.iter().any(|p| p.contains("distro=alpine-3.20.3")),
        "{own:?}"
    );
}

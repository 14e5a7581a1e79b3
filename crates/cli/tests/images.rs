//! `sign`, `verify`, `attest`, `verify-attestation`, `tree`, `download`, `clean` and `copy`
//! against the real registry (Debian's docker-registry), with the threat model's negative cases.

mod common;
#[path = "../../../tests/support/faults.rs"]
mod faults;
#[path = "../../../tests/support/registry.rs"]
mod registry;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use common::*;
use serde_json::{Value, json};
use sigil_oci::attach::{self, NewLayer};
use sigil_oci::manifest::{self as mf, Descriptor};
use sigil_oci::{Attachment, ImageRef, Layer, Registry, RegistryOptions, Repo};

fn client() -> Registry {
    Registry::new(&RegistryOptions::default()).unwrap()
}

/// Pushes a one-layer image (platform linux/`arch`) and returns its digest.
fn push(addr: &str, name: &str, content: &[u8], arch: &str) -> String {
    let image = ImageRef::parse(&format!("{addr}/{name}")).unwrap();
    let config = json!({"architecture": arch, "os": "linux",
                        "rootfs": {"type": "layers", "diff_ids": [mf::sha256_digest(content)]}});
    client()
        .push_image(
            &image,
            &[Layer {
                data: content.to_vec(),
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            }],
            config.to_string().as_bytes(),
            mf::OCI_CONFIG,
        )
        .unwrap()
}

/// A registry holding `team/app:v1`, and a directory with the key pair `k`.
fn image_and_key() -> (registry::TestRegistry, tempfile::TempDir) {
    let r = registry::TestRegistry::start();
    push(&r.addr, "team/app:v1", b"v1", "amd64");
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "ecdsa-p256", "k");
    (r, dir)
}

/// `sign` with the key `k` through a proxy that injects `rule` (once) succeeds, and the
/// signature verifies at the registry itself.
fn sign_survives_one_fault(r: &registry::TestRegistry, d: &Path, rule: faults::Rule) {
    let proxy = faults::FaultProxy::with_rule(&r.addr, rule);
    let via = format!("{}/team/app:v1", proxy.addr);
    ok(sg(d).args(["sign", "--key", "k.key", &via]));
    assert_eq!(proxy.faults.load(std::sync::atomic::Ordering::SeqCst), 1);
    let direct = format!("{}/team/app:v1", r.addr);
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        &direct,
    ]));
}

/// Pushes an index of two platform images and returns (index, amd64, arm64) digests.
fn push_index(addr: &str, repo: &str, tag: &str) -> (String, String, String) {
    let amd = push(addr, &format!("{repo}:amd64"), b"amd64 layer", "amd64");
    let arm = push(addr, &format!("{repo}:arm64"), b"arm64 layer", "arm64");
    let c = client();
    let image = ImageRef::parse(&format!("{addr}/{repo}:{tag}")).unwrap();
    let size = |d: &str| {
        c.get_manifest(Repo::from(&image), d)
            .unwrap()
            .unwrap()
            .bytes
            .len()
    };
    let index = json!({"schemaVersion": 2, "mediaType": mf::OCI_INDEX, "manifests": [
        {"mediaType": mf::OCI_MANIFEST, "size": size(&amd), "digest": amd,
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": mf::OCI_MANIFEST, "size": size(&arm), "digest": arm,
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}]});
    let d = c
        .put_manifest(
            Repo::from(&image),
            tag,
            index.to_string().as_bytes(),
            mf::OCI_INDEX,
        )
        .unwrap();
    (d, amd, arm)
}

/// `sigil` with its own cache directory.
fn sg(d: &Path) -> Command {
    let mut c = sigil(d);
    c.env("SIGIL_CACHE_DIR", d.join("cache"))
        .env_remove("COSIGN_REPOSITORY")
        .env_remove("COSIGN_MAX_ATTACHMENT_SIZE")
        .env_remove("SIGIL_NO_CACHE");
    c
}

fn tree(d: &Path, image: &str) -> Value {
    serde_json::from_str(&ok(sg(d).args(["tree", "-o", "json", image]))).unwrap()
}

fn sig_layers(d: &Path, image: &str) -> usize {
    tree(d, image)["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "Signatures")
        .map_or(0, |s| s["layers"].as_array().unwrap().len())
}

#[test]
fn sign_and_verify_in_cosigns_layout() {
    let r = registry::TestRegistry::start();
    let digest = push(&r.addr, "team/app:v1", b"v1", "amd64");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k1");
    generate(d, "ecdsa-p256", "k2");
    generate(d, "ecdsa-p256", "other");
    let image = format!("{}/team/app:v1", r.addr);

    ok(sg(d).args(["sign", "--key", "k1.key", "-a", "env=prod", &image]));

    // cosign's layout, byte for byte where cosign fixes the bytes.
    let c = client();
    let img = ImageRef::parse(&image).unwrap();
    let sig_ref = attach::attachment_ref(&img, &digest, Attachment::Signature).unwrap();
    assert_eq!(
        sig_ref.to_string(),
        format!(
            "{}/team/app:sha256-{}.sig",
            r.addr,
            digest.trim_start_matches("sha256:")
        )
    );
    let m = c
        .get_manifest(Repo::from(&sig_ref), sig_ref.reference())
        .unwrap()
        .unwrap();
    let mv: Value = serde_json::from_slice(&m.bytes).unwrap();
    assert_eq!(mv["mediaType"], mf::OCI_MANIFEST);
    assert_eq!(mv["config"]["mediaType"], mf::OCI_CONFIG);
    let layer = &mv["layers"][0];
    assert_eq!(layer["mediaType"], mf::SIMPLE_SIGNING);
    let payload = c
        .get_blob(
            Repo::from(&sig_ref),
            &serde_json::from_value::<Descriptor>(layer.clone()).unwrap(),
            1 << 20,
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(payload.clone()).unwrap(),
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{}/team/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"env":"prod"}}}}"#,
            r.addr
        )
    );
    // The signature annotation verifies with openssl over the exact payload.
    let sig = base64::engine::general_purpose::STANDARD
        .decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    std::fs::write(d.join("payload"), &payload).unwrap();
    std::fs::write(d.join("payload.sig"), &sig).unwrap();
    let o = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "k1.pub",
            "-signature",
            "payload.sig",
            "payload",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Verify prints the verified payloads, as cosign does.
    let out = ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k1.pub",
        &image,
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v[0]["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k1.pub",
        "-a",
        "env=prod",
        &image,
    ]));
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k1.pub",
            "-a",
            "env=dev",
            &image,
        ]),
        12,
        "annotation \"env\": required \"dev\"",
    );
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k1.pub",
            "-a",
            "team=a",
            &image,
        ]),
        12,
        "the signature does not carry it",
    );

    // Re-signing the same payload with the same key adds nothing; another key appends.
    let e = String::from_utf8(
        run(sg(d).args(["sign", "--key", "k1.key", "-a", "env=prod", &image])).stderr,
    )
    .unwrap();
    assert!(e.contains("nothing written"), "{e}");
    assert_eq!(sig_layers(d, &image), 1);
    ok(sg(d).args(["sign", "--key", "k2.key", &image]));
    assert_eq!(sig_layers(d, &image), 2);
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k2.pub",
        &image,
    ]));
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k1.pub",
        &image,
    ]));
    // A signature by another key.
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "other.pub",
            &image,
        ]),
        12,
        "no matching signatures",
    );

    // JSON report.
    let out = ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k2.pub",
        "-o",
        "json",
        &image,
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["images"][0]["verified"], true);
    assert_eq!(v["images"][0]["digest"], digest.as_str());
    assert_eq!(
        v["images"][0]["manifests"][0]["verified"][0]["source"],
        "tag"
    );
    assert_eq!(
        v["images"][0]["manifests"][0]["rejected"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // download signature: cosign's JSON lines.
    let out = ok(sg(d).args(["download", "signature", &image]));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(lines[0]["Payload"].as_str().unwrap())
            .unwrap(),
        payload
    );

    // A digest reference verifies too; sign by digest equally.
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k1.pub",
        &format!("{}/team/app@{digest}", r.addr),
    ]));
}

#[test]
fn threat_model_each_gets_its_error() {
    let r = registry::TestRegistry::start();
    let v1 = push(&r.addr, "team/app:v1", b"v1", "amd64");
    let other = push(&r.addr, "team/app:other", b"other", "amd64");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let image = format!("{}/team/app:v1", r.addr);

    // Unsigned: exit 10. No such tag: 11.
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &image,
        ]),
        10,
        "no signatures found",
    );
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &format!("{}/team/app:nope", r.addr),
        ]),
        11,
        "no such tag",
    );

    ok(sg(d).args(["sign", "--key", "k.key", &image]));
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        &image,
    ]));

    // Tag mutation: v1 now points to another manifest, which nobody signed.
    let moved = push(&r.addr, "team/app:v1", b"v1 rebuilt", "amd64");
    assert_ne!(moved, v1);
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &image,
        ]),
        10,
        &moved,
    );
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        &format!("{}/team/app@{v1}", r.addr),
    ]));

    // A payload naming another digest, correctly signed, placed at this image's tag.
    let c = client();
    let img = ImageRef::parse(&image).unwrap();
    let forged = sigil_formats::simple_signing::SimpleSigning {
        docker_reference: img.repository_name(),
        manifest_digest: v1.clone(),
        annotations: None,
    }
    .to_json();
    std::fs::write(d.join("forged"), &forged).unwrap();
    let sig = ok(sg(d).args(["sign-blob", "--key", "k.key", "forged"]));
    let put = |payload: &[u8], sig: &str| {
        attach::append_to_tag(
            &c,
            &img,
            &other,
            Attachment::Signature,
            &NewLayer {
                data: payload.to_vec(),
                media_type: mf::SIMPLE_SIGNING.into(),
                annotations: BTreeMap::from([(
                    mf::ANNOTATION_SIGNATURE.to_owned(),
                    sig.trim().to_owned(),
                )]),
            },
            &|_| Ok(false),
        )
        .unwrap();
    };
    put(&forged, &sig);
    let other_ref = format!("{}/team/app:other", r.addr);
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &other_ref,
        ]),
        12,
        &format!("the payload signs {v1}, not this image ({other})"),
    );

    // A tampered payload: right digest, signature over other bytes.
    let tampered = sigil_formats::simple_signing::SimpleSigning {
        docker_reference: img.repository_name(),
        manifest_digest: other.clone(),
        annotations: Some(BTreeMap::from([("env".into(), "prod".into())])),
    }
    .to_json();
    put(&tampered, &sig);
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &other_ref,
        ]),
        12,
        "signature: ",
    );

    // A repository that is not the image's: refused unless allowed.
    push(&r.addr, "team/copy:v1", b"v1", "amd64");
    let copy_ref = format!("{}/team/copy@{v1}", r.addr);
    let copy_img = ImageRef::parse(&copy_ref).unwrap();
    // Put the v1 signature manifest under the copy's repository by hand.
    let src_sig = attach::attachment_ref(&img, &v1, Attachment::Signature).unwrap();
    let m = c
        .get_manifest(Repo::from(&src_sig), src_sig.reference())
        .unwrap()
        .unwrap();
    let dst_sig = attach::attachment_ref(&copy_img, &v1, Attachment::Signature).unwrap();
    if let sigil_oci::manifest::Manifest::Image(im) = &m.manifest {
        for b in std::iter::once(&im.config).chain(&im.layers) {
            let bytes = c.get_blob(Repo::from(&src_sig), b, 1 << 20).unwrap();
            c.put_blob(Repo::from(&dst_sig), &b.media_type, &bytes)
                .unwrap();
        }
    }
    c.put_manifest(
        Repo::from(&dst_sig),
        dst_sig.reference(),
        &m.bytes,
        mf::OCI_MANIFEST,
    )
    .unwrap();
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &copy_ref,
        ]),
        12,
        "allow it with --allow-reference",
    );
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--allow-reference",
        "team/app",
        &copy_ref,
    ]));

    // A deleted signature.
    let pinned = format!("{}/team/app@{v1}", r.addr);
    let out = ok(sg(d).args(["clean", "--type", "signature", "-o", "json", &pinned]));
    assert!(out.contains(".sig"), "{out}");
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &pinned,
        ]),
        10,
        "no signatures found",
    );

    // An oversized attachment is refused before download; an oversized manifest too.
    ok(sg(d).args(["sign", "--key", "k.key", &pinned]));
    fails(
        sg(d).env("COSIGN_MAX_ATTACHMENT_SIZE", "100").args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--no-cache",
            &pinned,
        ]),
        3,
        "over the 100-byte limit",
    );
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--no-cache",
            "--max-manifest-size",
            "64",
            &pinned,
        ]),
        3,
        "over the 64-byte limit",
    );

    // A malformed signature manifest: an index where the image manifest belongs.
    let idx = json!({"schemaVersion": 2, "mediaType": mf::OCI_INDEX, "manifests": []});
    let sig_of_other = attach::attachment_ref(&img, &other, Attachment::Signature).unwrap();
    c.put_manifest(
        Repo::from(&sig_of_other),
        sig_of_other.reference(),
        idx.to_string().as_bytes(),
        mf::OCI_INDEX,
    )
    .unwrap();
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &other_ref,
        ]),
        3,
        "an index where an image manifest belongs",
    );

    // The registry down: exit 14, never "no signatures".
    drop(r);
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &pinned,
        ]),
        14,
        "unreachable",
    );
}

#[test]
fn referrers_mode_attestations_and_the_referrers_500() {
    let r = registry::TestRegistry::start();
    let digest = push(&r.addr, "team/app:v1", b"v1", "amd64");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    generate(d, "ecdsa-p256", "other");
    let image = format!("{}/team/app:v1", r.addr);
    let hex = digest.trim_start_matches("sha256:");

    // OCI 1.1: a Sigstore-bundle referrer, recorded in the tag-schema fallback index because
    // this registry has no referrers API.
    ok(sg(d).args([
        "sign",
        "--key",
        "k.key",
        "--registry-referrers-mode",
        "oci-1-1",
        "-a",
        "env=prod",
        &image,
    ]));
    let c = client();
    let img = ImageRef::parse(&image).unwrap();
    let fallback = c
        .get_manifest(Repo::from(&img), &format!("sha256-{hex}"))
        .unwrap()
        .expect("fallback index");
    let fv: Value = serde_json::from_slice(&fallback.bytes).unwrap();
    assert_eq!(fv["manifests"][0]["artifactType"], mf::SIGSTORE_BUNDLE_V03);
    let t = tree(d, &image);
    assert_eq!(t["referrers"].as_array().unwrap().len(), 1);
    assert!(t["attachments"].as_array().unwrap().is_empty());
    let out = ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "-a",
        "env=prod",
        "-o",
        "json",
        &image,
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let found = &v["images"][0]["manifests"][0]["verified"][0];
    assert_eq!(found["source"], "referrer");
    assert_eq!(
        found["payload"]["predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "other.pub",
            &image,
        ]),
        12,
        "no matching",
    );
    // Signing the same statement again adds no referrer.
    // (The statement is deterministic: same image, same annotations, empty predicate.)
    ok(sg(d).args([
        "sign",
        "--key",
        "k.key",
        "--registry-referrers-mode",
        "oci-1-1",
        "-a",
        "env=prod",
        &image,
    ]));
    assert_eq!(tree(d, &image)["referrers"].as_array().unwrap().len(), 1);

    // Attestations in both layouts.
    std::fs::write(
        d.join("prov.json"),
        br#"{"builder":{"id":"https://ci.example/b"}}"#,
    )
    .unwrap();
    ok(sg(d).args([
        "attest",
        "--key",
        "k.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "prov.json",
        &image,
    ]));
    ok(sg(d).args([
        "attest",
        "--key",
        "k.key",
        "--type",
        "spdxjson",
        "--predicate",
        "prov.json",
        "--registry-referrers-mode",
        "oci-1-1",
        &image,
    ]));
    let out = ok(sg(d).args([
        "verify-attestation",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--type",
        "slsaprovenance",
        &image,
    ]));
    let env: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let out = ok(sg(d).args([
        "verify-attestation",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--type",
        "spdxjson",
        "-o",
        "json",
        &image,
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["images"][0]["manifests"][0]["verified"][0]["source"],
        "referrer"
    );
    assert_eq!(
        v["images"][0]["manifests"][0]["verified"][0]["payload"]["predicateType"],
        "https://spdx.dev/Document"
    );
    fails(
        sg(d).args([
            "verify-attestation",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--type",
            "vuln",
            &image,
        ]),
        10,
        "no attestations of type https://cosign.sigstore.dev/attestation/vuln/v1 found",
    );
    // The default type (custom) names what it looked for and what is there.
    let err = fails(
        sg(d).args([
            "verify-attestation",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &image,
        ]),
        10,
        "no attestations of type https://cosign.sigstore.dev/attestation/v1 found",
    );
    assert!(err.contains("https://spdx.dev/Document"), "{err}");
    assert!(err.contains("pass --type"), "{err}");
    fails(
        sg(d).args([
            "verify-attestation",
            "--private-infrastructure",
            "--key",
            "other.pub",
            "--type",
            "slsaprovenance",
            &image,
        ]),
        12,
        "no matching attestations",
    );
    let out = ok(sg(d).args([
        "download",
        "attestation",
        "--predicate-type",
        "slsaprovenance",
        &image,
    ]));
    assert_eq!(out.lines().count(), 1);
    let out = ok(sg(d).args(["download", "attestation", &image]));
    assert_eq!(out.lines().count(), 2);

    // Referrers answering 500 through a proxy: a registry error (exit 3), never "unsigned".
    let proxy = faults::FaultProxy::start(&r.addr, "/referrers/", 500);
    let via = format!("{}/team/app:v1", proxy.addr);
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--allow-reference",
            "*",
            "--no-cache",
            &via,
        ]),
        3,
        "500",
    );
    assert!(proxy.faults.load(std::sync::atomic::Ordering::Relaxed) > 0);

    // clean removes referrers and the fallback entries too.
    ok(sg(d).args(["clean", &image]));
    assert!(tree(d, &image)["referrers"].as_array().unwrap().is_empty());
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &image,
        ]),
        10,
        "no signatures",
    );
}

#[test]
fn multi_arch_recursive_sign_and_verify() {
    let r = registry::TestRegistry::start();
    let (index, amd, arm) = push_index(&r.addr, "team/multi", "v1");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let image = format!("{}/team/multi:v1", r.addr);

    // Only the index signed: --recursive verification names the unsigned platform.
    ok(sg(d).args(["sign", "--key", "k.key", &image]));
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        &image,
    ]));
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--recursive",
            &image,
        ]),
        10,
        &format!("{amd} (linux/amd64)"),
    );
    let out = ok(sg(d).args([
        "sign",
        "--key",
        "k.key",
        "--recursive",
        "-o",
        "json",
        &image,
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["written"], false, "the index was signed already");
    assert_eq!(results[2]["platform"], "linux/arm64/v8");
    let out = ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--recursive",
        "-o",
        "json",
        &image,
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let ms = v["images"][0]["manifests"].as_array().unwrap();
    assert_eq!(
        ms.iter()
            .map(|m| m["digest"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [index.as_str(), amd.as_str(), arm.as_str()]
    );
    assert!(
        ms.iter()
            .all(|m| m["verified"].as_array().unwrap().len() == 1)
    );
}

#[test]
fn concurrent_signers_keep_every_signature() {
    let r = registry::TestRegistry::start();
    push(&r.addr, "team/app:v1", b"v1", "amd64");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 8;
    for i in 0..n {
        generate(d, "ecdsa-p256", &format!("k{i}"));
    }
    let image = format!("{}/team/app:v1", r.addr);
    let children: Vec<_> = (0..n)
        .map(|i| {
            sg(d)
                .args(["sign", "--key", &format!("k{i}.key"), &image])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(sig_layers(d, &image), n);
    for i in 0..n {
        ok(sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            &format!("k{i}.pub"),
            &image,
        ]));
    }
}

/// distribution's filesystem driver rewrites a blob's repository link in place, so a manifest
/// PUT racing another upload of the same payload can be refused with MANIFEST_BLOB_UNKNOWN
/// while the blob is there (seen in CI with eight signers). `sign` re-checks and tries again;
/// a registry that keeps refusing is reported, not retried forever.
#[test]
fn transient_blob_unknown_on_manifest_put_is_retried() {
    let (r, dir) = image_and_key();
    let d = dir.path();
    let rule = |times| faults::Rule {
        method: Some("PUT"),
        needle: "/manifests/sha256-",
        status: 400,
        body: r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
        times,
    };
    sign_survives_one_fault(&r, d, rule(1));

    generate(d, "ecdsa-p256", "k2");
    let proxy = faults::FaultProxy::with_rule(&r.addr, rule(usize::MAX));
    let via = format!("{}/team/app:v1", proxy.addr);
    fails(
        sg(d).args(["sign", "--key", "k2.key", &via]),
        3,
        "MANIFEST_BLOB_UNKNOWN",
    );
    assert_eq!(sig_layers(d, &format!("{}/team/app:v1", r.addr)), 1);
}

/// A registry that drops a connection under a request (a kept-alive connection closed as it is
/// reused): an idempotent request is sent once more on a new connection, and only once.
#[test]
fn a_dropped_connection_is_retried_once() {
    let (r, dir) = image_and_key();
    let d = dir.path();
    let rule = |times| faults::Rule {
        method: Some("HEAD"),
        needle: "/blobs/sha256:",
        status: 0,
        body: "",
        times,
    };
    sign_survives_one_fault(&r, d, rule(1));

    let proxy = faults::FaultProxy::with_rule(&r.addr, rule(usize::MAX));
    fails(
        sg(d).args([
            "sign",
            "--key",
            "k.key",
            &format!("{}/team/app:v1", proxy.addr),
        ]),
        3,
        "connection closed before message completed",
    );
    assert_eq!(proxy.faults.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn cached_verification_costs_two_heads() {
    let (r, dir) = image_and_key();
    let d = dir.path();
    let image = format!("{}/team/app:v1", r.addr);
    ok(sg(d).args(["sign", "--key", "k.key", &image]));
    let requests = |extra: &[&str]| -> Value {
        let out = ok(sg(d)
            .args([
                "verify",
                "--private-infrastructure",
                "--key",
                "k.pub",
                "-o",
                "json",
            ])
            .args(extra)
            .arg(&image));
        serde_json::from_str::<Value>(&out).unwrap()["registryRequests"].clone()
    };
    let cold = requests(&[]);
    assert_eq!(cold, json!({"head": 1, "get": 2, "write": 0}), "cold");
    let warm = requests(&[]);
    assert_eq!(warm, json!({"head": 2, "get": 0, "write": 0}), "warm");
    // A new signature moves the tag: the HEAD notices and one GET fetches the new manifest.
    generate(d, "ecdsa-p256", "k2");
    ok(sg(d).args(["sign", "--key", "k2.key", &image]));
    let moved = requests(&[]);
    assert_eq!(moved["head"], 2);
    // The new manifest; both keys signed the same payload bytes, so its layer blob is cached.
    assert_eq!(moved["get"], 1, "the new manifest");
    // A corrupted cache entry is a miss, not a verdict.
    for e in std::fs::read_dir(d.join("cache/blobs/sha256")).unwrap() {
        std::fs::write(e.unwrap().path(), b"garbage").unwrap();
    }
    ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        &image,
    ]));
    let nocache = requests(&["--no-cache"]);
    assert_eq!(nocache["head"], 1);
}

#[test]
fn copy_carries_signatures_and_attestations_to_another_registry() {
    let a = registry::TestRegistry::start();
    let b = registry::TestRegistry::start();
    let (index, _, arm) = push_index(&a.addr, "team/multi", "v1");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let src = format!("{}/team/multi:v1", a.addr);
    ok(sg(d).args(["sign", "--key", "k.key", "--recursive", &src]));
    std::fs::write(d.join("p.json"), b"{}").unwrap();
    ok(sg(d).args([
        "attest",
        "--key",
        "k.key",
        "--type",
        "vuln",
        "--predicate",
        "p.json",
        &src,
    ]));
    ok(sg(d).args([
        "sign",
        "--key",
        "k.key",
        "--registry-referrers-mode",
        "oci-1-1",
        &src,
    ]));

    let dst = format!("{}/team/multi", b.addr);
    let out = ok(sg(d).args(["copy", "-o", "json", &src, &dst]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["report"]["digest"], index.as_str());
    assert_eq!(v["destination"], format!("{dst}:v1"));
    assert_eq!(v["report"]["referrers"].as_array().unwrap().len(), 1);
    let at_dst = format!("{dst}:v1");
    let out = ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--recursive",
        "-o",
        "json",
        &at_dst,
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["images"][0]["digest"], index.as_str());
    assert_eq!(v["images"][0]["manifests"][2]["digest"], arm.as_str());
    ok(sg(d).args([
        "verify-attestation",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--type",
        "vuln",
        &at_dst,
    ]));
    assert_eq!(tree(d, &at_dst)["referrers"].as_array().unwrap().len(), 1);
    // Copying again moves no blob; an existing different tag needs --force.
    let out = ok(sg(d).args(["copy", "-o", "json", &src, &dst]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["report"]["blobsCopied"].as_u64(), Some(0));
    push(&b.addr, "team/multi:v2", b"different", "amd64");
    fails(
        sg(d).args(["copy", &src, &format!("{dst}:v2")]),
        3,
        "pass --force",
    );
    ok(sg(d).args(["copy", "--force", &src, &format!("{dst}:v2")]));
}

#[test]
fn skopeo_copies_sigils_signatures_and_they_still_verify() {
    if Command::new("skopeo").arg("--version").output().is_err() {
        panic!("skopeo is missing: scripts/test installs it (apt-get install skopeo)");
    }
    let a = registry::TestRegistry::start();
    let b = registry::TestRegistry::start();
    push(&a.addr, "team/app:v1", b"v1", "amd64");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let src = format!("{}/team/app:v1", a.addr);
    ok(sg(d).args(["sign", "--key", "k.key", "-a", "build=42", &src]));
    // skopeo copies sigstore attachments when registries.d says so.
    let regd = d.join("registries.d");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("default.yaml"),
        "default-docker:\n  use-sigstore-attachments: true\n",
    )
    .unwrap();
    let o = Command::new("skopeo")
        .args(["--registries.d"])
        .arg(&regd)
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{src}"),
            &format!("docker://{}/team/app:v1", b.addr),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dst = format!("{}/team/app:v1", b.addr);
    let out = ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "-a",
        "build=42",
        &dst,
    ]));
    assert!(out.contains("\"build\":\"42\""), "{out}");
}

#[path = "../../../tests/support/token.rs"]
mod token;

#[test]
fn token_auth_basic_credentials_and_identity_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keys = d.join("tokens");
    std::fs::create_dir_all(&keys).unwrap();
    let ts = token::TokenServer::start(&keys, &["team/app"]);
    let r = registry::TestRegistry::start_with(&ts.registry_auth_config());
    generate(d, "ecdsa-p256", "k");
    let image = format!("{}/team/app:v1", r.addr);
    let creds = [
        "--registry-username",
        token::USER,
        "--registry-password",
        token::PASSWORD,
    ];

    // Anonymous: the token service refuses, and Sigil says access was refused (exit 3).
    fails(sg(d).args(["resolve", &image]), 3, "refused access");
    // Push and sign with basic credentials exchanged for a bearer token.
    let pusher = Registry::new(&RegistryOptions {
        username: Some(token::USER.into()),
        password: Some(token::PASSWORD.into()),
        ..Default::default()
    })
    .unwrap()
    .writing();
    let img = ImageRef::parse(&image).unwrap();
    let digest = pusher
        .push_image(
            &img,
            &[Layer {
                data: b"v1".to_vec(),
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            }],
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
            mf::OCI_CONFIG,
        )
        .unwrap();
    // One token for the repository served the whole push.
    assert_eq!(
        ts.gets.load(std::sync::atomic::Ordering::Relaxed),
        2,
        "one refused, one granted"
    );
    ok(sg(d)
        .args(["sign", "--key", "k.key"])
        .args(creds)
        .arg(&image));

    // Cold verification on a registry never seen: 401, token, then the three reads.
    let verify = |extra: &[&str]| -> Value {
        let out = ok(sg(d)
            .args([
                "verify",
                "--private-infrastructure",
                "--key",
                "k.pub",
                "-o",
                "json",
            ])
            .args(creds)
            .args(extra)
            .arg(&image));
        serde_json::from_str::<Value>(&out).unwrap()["registryRequests"].clone()
    };
    let first = verify(&["--no-cache"]);
    assert_eq!(
        first,
        json!({"head": 2, "get": 3, "write": 0}),
        "first contact"
    );
    // Once the registry's realm is known (cached), a cold image costs the token and three reads.
    let fresh_cache = d.join("cache2");
    let out = ok(sg(d)
        .env("SIGIL_CACHE_DIR", &fresh_cache)
        .args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "-o",
            "json",
        ])
        .args(creds)
        .arg(&image));
    let _ = out;
    std::fs::remove_dir_all(fresh_cache.join("blobs")).unwrap();
    std::fs::remove_dir_all(fresh_cache.join("refs")).unwrap();
    let out = ok(sg(d)
        .env("SIGIL_CACHE_DIR", &fresh_cache)
        .args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "-o",
            "json",
        ])
        .args(creds)
        .arg(&image));
    let v: Value = serde_json::from_str(&out).unwrap();
    // Credentials go only to the realm of a live challenge: with them, the remembered realm
    // is not used, and the first request learns it again (one more HEAD).
    assert_eq!(
        v["registryRequests"],
        json!({"head": 2, "get": 3, "write": 0}),
        "known realm, cold image, credentials"
    );
    assert_eq!(v["images"][0]["digest"], digest.as_str());

    // A realm planted in the cache directory never receives the credentials.
    let evil_keys = d.join("evil-tokens");
    std::fs::create_dir_all(&evil_keys).unwrap();
    let evil = token::TokenServer::start(&evil_keys, &["team/app"]);
    let poisoned = d.join("cache3");
    let note = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, r.addr.as_bytes());
    std::fs::create_dir_all(poisoned.join("challenges")).unwrap();
    std::fs::write(
        poisoned.join("challenges").join(note.to_hex()),
        format!("{}\n{}", evil.realm, token::SERVICE),
    )
    .unwrap();
    ok(sg(d)
        .env("SIGIL_CACHE_DIR", &poisoned)
        .args(["verify", "--private-infrastructure", "--key", "k.pub"])
        .args(creds)
        .arg(&image));
    assert_eq!(
        evil.gets.load(std::sync::atomic::Ordering::Relaxed)
            + evil.posts.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the cached realm was asked for a token"
    );

    // An identity token in the Docker config is exchanged with the refresh-token grant.
    std::fs::write(
        d.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"{}"}}}}}}"#,
            r.addr,
            token::REFRESH_TOKEN
        ),
    )
    .unwrap();
    let posts = ts.posts.load(std::sync::atomic::Ordering::Relaxed);
    ok(sg(d).env("DOCKER_CONFIG", d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--no-cache",
        &image,
    ]));
    assert_eq!(
        ts.posts.load(std::sync::atomic::Ordering::Relaxed),
        posts + 1
    );
    // The same config given with --docker-config (a mounted imagePullSecret), no DOCKER_CONFIG.
    std::fs::create_dir_all(d.join("pull-secret")).unwrap();
    std::fs::copy(
        d.join("config.json"),
        d.join("pull-secret/.dockerconfigjson"),
    )
    .unwrap();
    ok(sg(d)
        .env_remove("DOCKER_CONFIG")
        .env("HOME", d.join("nohome"))
        .args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--no-cache",
            "--docker-config",
            "pull-secret/.dockerconfigjson",
            &image,
        ]));
    assert_eq!(
        ts.posts.load(std::sync::atomic::Ordering::Relaxed),
        posts + 2
    );
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--no-cache",
            "--docker-config",
            "missing.json",
            &image,
        ]),
        3,
        "the Docker config missing.json does not exist",
    );
    // A wrong refresh token is refused by the token service, reported as such.
    std::fs::write(
        d.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"stale"}}}}}}"#,
            r.addr
        ),
    )
    .unwrap();
    fails(
        sg(d).env("DOCKER_CONFIG", d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--no-cache",
            &image,
        ]),
        3,
        "refused access",
    );
}

/// A `.sig` manifest that lists one layer 2,000 times costs one fetch of it, not 2,000; distinct
/// attachments beyond `--max-attachments` are refused with the limit named.
#[test]
fn repeated_and_excess_attachments_are_bounded() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let digest = push(&r.addr, "team/app:v1", b"v1", "amd64");
    let image = format!("{}/team/app:v1", r.addr);
    ok(sg(d).args(["sign", "--key", "k.key", &image]));
    let c = client();
    let img = ImageRef::parse(&image).unwrap();
    let at = attach::attachment_ref(&img, &digest, Attachment::Signature).unwrap();
    let m = c
        .get_manifest(Repo::from(&at), at.reference())
        .unwrap()
        .unwrap();
    let mut v: Value = serde_json::from_slice(&m.bytes).unwrap();
    let layer = v["layers"][0].clone();
    v["layers"] = Value::Array(vec![layer.clone(); 2000]);
    c.put_manifest(
        Repo::from(&at),
        at.reference(),
        v.to_string().as_bytes(),
        mf::OCI_MANIFEST,
    )
    .unwrap();
    let out = ok(sg(d).args([
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--no-cache",
        "-o",
        "json",
        &image,
    ]));
    let v2: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v2["registryRequests"]["get"].as_u64().unwrap() <= 3,
        "{}",
        v2["registryRequests"]
    );
    // Six distinct layers (same blob, different annotations) against a limit of five.
    let mut layers = Vec::new();
    for i in 0..6 {
        let mut l = layer.clone();
        l["annotations"]["n"] = json!(i.to_string());
        layers.push(l);
    }
    v["layers"] = Value::Array(layers);
    c.put_manifest(
        Repo::from(&at),
        at.reference(),
        v.to_string().as_bytes(),
        mf::OCI_MANIFEST,
    )
    .unwrap();
    fails(
        sg(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--no-cache",
            "--max-attachments",
            "5",
            &image,
        ]),
        3,
        "more than the 5 read (--max-attachments)",
    );
}

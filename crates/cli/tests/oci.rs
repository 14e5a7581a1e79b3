//! `resolve` and `triangulate` against a real registry (Debian's docker-registry).

mod common;
#[path = "../../../tests/support/registry.rs"]
mod registry;

use common::*;
use sigil_oci::{ImageRef, Layer, Registry, RegistryOptions};

fn push(addr: &str, name: &str, content: &[u8]) -> String {
    let reg = Registry::new(&RegistryOptions {
        allow_http: true,
        ..Default::default()
    })
    .unwrap();
    let image = ImageRef::parse(&format!("{addr}/{name}")).unwrap();
    let layer = Layer {
        data: content.to_vec(),
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
    };
    reg.push_image(
        &image,
        &[layer],
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        "application/vnd.oci.image.config.v1+json",
    )
    .unwrap()
}

#[test]
fn resolve_and_triangulate() {
    let r = registry::TestRegistry::start();
    let digest = push(&r.addr, "team/app:v1", b"one");
    let hex = digest.strip_prefix("sha256:").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = format!("{}/team/app:v1", r.addr);

    let out = ok(sigil(d).args(["resolve", "--allow-http-registry", &image]));
    assert_eq!(out.trim(), format!("{}/team/app@{digest}", r.addr));
    let out = ok(sigil(d).args([
        "resolve",
        "--allow-http-registry",
        "--output",
        "json",
        &image,
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["digest"], digest.as_str());

    for (t, want) in [
        ("signature", format!("{}/team/app:sha256-{hex}.sig", r.addr)),
        (
            "attestation",
            format!("{}/team/app:sha256-{hex}.att", r.addr),
        ),
        ("sbom", format!("{}/team/app:sha256-{hex}.sbom", r.addr)),
        ("digest", format!("{}/team/app@{digest}", r.addr)),
    ] {
        let out = ok(sigil(d).args(["triangulate", "--allow-http-registry", "--type", t, &image]));
        assert_eq!(out.trim(), want, "{t}");
    }
    // COSIGN_REPOSITORY moves attachments, as in cosign.
    let out = ok(sigil(d)
        .env("COSIGN_REPOSITORY", "mirror.example/sigs")
        .args(["triangulate", "--allow-http-registry", &image]));
    assert_eq!(out.trim(), format!("mirror.example/sigs:sha256-{hex}.sig"));
    // A digest reference needs no registry round trip.
    let out = ok(sigil(d).args(["triangulate", &format!("127.0.0.1:1/team/app@{digest}")]));
    assert_eq!(out.trim(), format!("127.0.0.1:1/team/app:sha256-{hex}.sig"));
}

#[test]
fn exit_codes_keep_missing_and_unreachable_apart() {
    let r = registry::TestRegistry::start();
    push(&r.addr, "team/app:v1", b"one");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails(
        sigil(d).args([
            "resolve",
            "--allow-http-registry",
            &format!("{}/team/app:nope", r.addr),
        ]),
        11,
        "no such tag or digest",
    );
    fails(
        sigil(d).args([
            "resolve",
            "--allow-http-registry",
            &format!("{}/other/repo:v1", r.addr),
        ]),
        11,
        "no such tag or digest",
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fails(
        sigil(d).args([
            "resolve",
            "--allow-http-registry",
            &format!("127.0.0.1:{closed}/team/app:v1"),
        ]),
        14,
        "is unreachable",
    );
    // A registry that accepts connections and never answers: --timeout ends it, naming it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let start = std::time::Instant::now();
    let err = fails(
        sigil(d).args([
            "resolve",
            "--timeout",
            "1s",
            &format!("{silent_addr}/team/app:v1"),
        ]),
        14,
        "no answer within the timeout",
    );
    assert!(err.contains(&silent_addr), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    drop(silent);
    // `verify` of a missing repository names the reference once.
    std::fs::write(
        d.join("k.pub"),
        sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)
            .unwrap()
            .public_key()
            .to_pem(),
    )
    .unwrap();
    let missing = format!("{}/other/repo:v1", r.addr);
    let err = fails(
        sigil(d).args([
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &missing,
        ]),
        11,
        "no such tag or digest",
    );
    assert_eq!(err.matches(&missing).count(), 1, "{err}");
    // Loopback registries speak plain HTTP without the flag, as with cosign (ggcr).
    ok(sigil(d).args(["resolve", &format!("{}/team/app:v1", r.addr)]));
    fails(
        sigil(d).args(["resolve", "app:bad tag"]),
        3,
        "invalid image reference",
    );
}

#[test]
fn docker_config_credentials_are_consulted() {
    let r = registry::TestRegistry::start();
    push(&r.addr, "team/app:v1", b"one");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = format!("{}/team/app:v1", r.addr);
    // A helper that does not exist is an error naming it, not a silent anonymous attempt.
    std::fs::write(
        d.join("config.json"),
        r#"{"credsStore":"sigil-missing-helper"}"#,
    )
    .unwrap();
    fails(
        sigil(d)
            .env("DOCKER_CONFIG", d)
            .args(["resolve", "--allow-http-registry", &image]),
        3,
        "credential helper docker-credential-sigil-missing-helper failed",
    );
    // Explicit credentials on the command line win over the config file.
    ok(sigil(d).env("DOCKER_CONFIG", d).args([
        "resolve",
        "--allow-http-registry",
        "--registry-username",
        "u",
        "--registry-password",
        "p",
        &image,
    ]));
    // Basic credentials from auths are sent (this registry has no auth and accepts them).
    std::fs::write(
        d.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"dTpw"}}}}}}"#, r.addr),
    )
    .unwrap();
    ok(sigil(d)
        .env("DOCKER_CONFIG", d)
        .args(["resolve", "--allow-http-registry", &image]));
}

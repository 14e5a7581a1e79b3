//! `sigil serve`: the log, its CT log, the keyless CA and the timestamp authority in one
//! process. Keyless `sign-blob` and `sign-bundle` with a Kubernetes service-account token from
//! the test OIDC issuer, verified offline by Sigil against the trusted root `sigil serve`
//! wrote; sigstore-python 4.5.1 (nobody here wrote it) signs against the same services with
//! the trust config `sigil serve` wrote and verifies offline, and Sigil verifies its bundle.

mod common;

#[path = "../../../tests/support/oidc.rs"]
mod oidc;
#[path = "../../../tests/support/registry.rs"]
mod registry;
#[path = "../../../tests/support/tsa_server.rs"]
mod tsa_server;

use std::process::Command;

use common::*;
use serde_json::json;

const SAN: &str = "https://kubernetes.io/namespaces/ci/serviceaccounts/builder";

/// Runs `sigil ARGS` (no cache) until it succeeds, for up to 60 s: its standard output.
#[track_caller]
fn eventually_ok(d: &std::path::Path, args: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let o = run(sigil(d).env("SIGIL_NO_CACHE", "1").args(args));
        if o.status.success() {
            return stdout(&o);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sigil {args:?} still fails after 60 s: {}",
            stderr(&o)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A signing-on-push public key, once it exists (made with the repository's first signed push).
fn served_key(url: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let resp = reqwest::blocking::get(url).unwrap();
        if resp.status() == 200 {
            return resp.text().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no key at {url}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn keyless_signing_against_sigil_serve_verifies_in_sigil_and_sigstore_python() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let issuer = oidc::TestIssuer::start();
    std::fs::write(
        d.join("oidc.json"),
        json!({"OIDCIssuers": {issuer.url.clone(): {"IssuerURL": issuer.url, "ClientID": "sigstore", "Type": "kubernetes"}}})
            .to_string(),
    )
    .unwrap();
    let server = tsa_server::Service::launch(
        env!("CARGO_BIN_EXE_sigil"),
        d,
        "serve",
        &["serve", "--data", "data", "--oidc-config", "oidc.json"],
        PASSWORD,
    );
    let claims = json!({"kubernetes.io": {"namespace": "ci", "pod": {"name": "p", "uid": "1"},
                         "serviceaccount": {"name": "builder", "uid": "2"}}});
    let token = || issuer.token_with(&claims, "sub=system:serviceaccount:ci:builder");
    let trust = d.join("data/trust-config.json");
    let root = d.join("data/trusted_root.json");
    let tc: serde_json::Value = serde_json::from_slice(&std::fs::read(&trust).unwrap()).unwrap();
    assert_eq!(tc["signingConfig"]["caUrls"][0]["url"], server.url.as_str());

    // sign-blob, keyless: the token in the environment, as cosign reads SIGSTORE_ID_TOKEN.
    std::fs::write(d.join("a.txt"), b"artefact\n").unwrap();
    let o = run(sigil(d)
        .env("SIGSTORE_ID_TOKEN", token())
        .args(["sign-blob", "--trust-config"])
        .arg(&trust)
        .args(["--bundle", "a.sigstore.json", "a.txt"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("Certificate for {SAN}")),
        "{}",
        stderr(&o)
    );
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("a.sigstore.json")).unwrap()).unwrap();
    assert!(
        bundle["verificationMaterial"]["certificate"]["rawBytes"].is_string(),
        "{bundle}"
    );
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(
        bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
            ["signedTimestamp"]
            .is_string(),
        "{bundle}"
    );
    let verify = |bundle: &str, file: &str, identity: &str| {
        let mut c = sigil(d);
        c.args([
            "verify-blob",
            "--bundle",
            bundle,
            "--certificate-identity",
            identity,
        ])
        .args(["--certificate-oidc-issuer", &issuer.url, "--trusted-root"])
        .arg(&root)
        .args(["--use-signed-timestamps", file]);
        c
    };
    ok(&mut verify("a.sigstore.json", "a.txt", SAN));
    fails(
        &mut verify(
            "a.sigstore.json",
            "a.txt",
            "https://kubernetes.io/namespaces/ci/serviceaccounts/other",
        ),
        1,
        "",
    );

    // sign-bundle, the conformance protocol's command.
    std::fs::write(d.join("c.txt"), b"conformance\n").unwrap();
    ok(sigil(d)
        .args([
            "sign-bundle",
            "--identity-token",
            &token(),
            "--bundle",
            "c.json",
        ])
        .arg("--signing-config")
        .arg(&trust)
        .arg("--trusted-root")
        .arg(&root)
        .arg("c.txt"));
    ok(sigil(d)
        .args([
            "verify-bundle",
            "--bundle",
            "c.json",
            "--certificate-identity",
            SAN,
        ])
        .args(["--certificate-oidc-issuer", &issuer.url, "--trusted-root"])
        .arg(&root)
        .arg("c.txt"));

    // sigstore-python signs against Sigil's CA, log and TSA, then verifies offline.
    std::fs::write(d.join("b.txt"), b"signed by sigstore-python\n").unwrap();
    let py = |args: &[&str]| {
        let o = Command::new("python3")
            .args(["-m", "sigstore", "--trust-config"])
            .arg(&trust)
            .args(args)
            .current_dir(d)
            .output()
            .expect("sigstore-python (scripts/test installs it)");
        assert!(
            o.status.success(),
            "sigstore {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let t = token();
    py(&[
        "sign",
        "--identity-token",
        &t,
        "--bundle",
        "b.sigstore.json",
        "b.txt",
    ]);
    py(&[
        "verify",
        "identity",
        "--bundle",
        "b.sigstore.json",
        "--cert-identity",
        SAN,
        "--cert-oidc-issuer",
        &issuer.url,
        "b.txt",
    ]);
    // And Sigil verifies sigstore-python's bundle.
    ok(&mut verify("b.sigstore.json", "b.txt", SAN));
    // sigstore-python verifies Sigil's.
    py(&[
        "verify",
        "identity",
        "--bundle",
        "a.sigstore.json",
        "--cert-identity",
        SAN,
        "--cert-oidc-issuer",
        &issuer.url,
        "a.txt",
    ]);

    // A refused token: the CA's reason reaches the user.
    let bad = issuer.token_with(&claims, "aud=elsewhere");
    fails(
        sigil(d)
            .env("SIGSTORE_ID_TOKEN", bad)
            .args(["sign-blob", "--trust-config"])
            .arg(&trust)
            .args(["--bundle", "x.json", "a.txt"]),
        3,
        "audience_mismatch",
    );
}

/// The seed workflow: a build cluster's service account signs and attests an image keylessly
/// (cosign's keyless layout: certificate, chain and bundle annotations), and a verifier checks
/// the signature and the SLSA provenance and CycloneDX attestations by that identity, offline
/// against the pinned trusted root; a GitHub Actions identity is checked with cosign's
/// `--certificate-github-workflow-*` flags.
#[test]
fn keyless_images_and_attestations_verify_by_identity_against_a_pinned_root() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let issuer = oidc::TestIssuer::start();
    let gh = format!("{}/github", issuer.url);
    std::fs::write(
        d.join("oidc.json"),
        json!({"OIDCIssuers": {
            issuer.url.clone(): {"IssuerURL": issuer.url, "ClientID": "sigstore", "Type": "kubernetes"},
            gh.clone(): {"IssuerURL": gh, "ClientID": "sigstore", "Type": "github-workflow"}}})
        .to_string(),
    )
    .unwrap();
    let _server = tsa_server::Service::launch(
        env!("CARGO_BIN_EXE_sigil"),
        d,
        "serve",
        &["serve", "--data", "data", "--oidc-config", "oidc.json"],
        PASSWORD,
    );
    let k8s = issuer.token_with(
        &json!({"kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "builder"}}}),
        "sub=system:serviceaccount:ci:builder",
    );
    let image = format!(
        "{}/team/app@{}",
        r.addr,
        push_image(&r.addr, "team/app:v1", b"v1")
    );
    let with_trust = |args: &[&str]| {
        let mut c = sigil(d);
        c.env("SIGIL_CACHE_DIR", d.join("cache"))
            .env_remove("COSIGN_REPOSITORY")
            .env("SIGSTORE_ID_TOKEN", &k8s)
            .args(args)
            .args(["--trust-config", "data/trust-config.json"]);
        c
    };
    ok(&mut with_trust(&["sign", &image]));
    std::fs::write(
        d.join("prov.json"),
        json!({"buildDefinition": {"buildType": "https://example.com/build"}, "runDetails": {"builder": {"id": "https://ci.example"}}})
            .to_string(),
    )
    .unwrap();
    ok(&mut with_trust(&[
        "attest",
        "--type",
        "slsaprovenance",
        "--predicate",
        "prov.json",
        &image,
    ]));
    std::fs::write(
        d.join("bom.json"),
        json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}).to_string(),
    )
    .unwrap();
    ok(&mut with_trust(&[
        "attest",
        "--type",
        "cyclonedx",
        "--predicate",
        "bom.json",
        &image,
    ]));
    // Offline against the pinned root (the entries come with the signatures).
    let verify = |cmd: &str, extra: &[&str], identity: &str| {
        let mut c = sigil(d);
        c.env("SIGIL_CACHE_DIR", d.join("cache"))
            .env_remove("COSIGN_REPOSITORY")
            .args([cmd, "--certificate-identity", identity])
            .args([
                "--certificate-oidc-issuer",
                &issuer.url,
                "--trusted-root",
                "data/trusted_root.json",
            ])
            .args(extra)
            .arg(&image);
        c
    };
    ok(&mut verify("verify", &[], SAN));
    ok(&mut verify(
        "verify-attestation",
        &["--type", "slsaprovenance"],
        SAN,
    ));
    ok(&mut verify(
        "verify-attestation",
        &["--type", "cyclonedx"],
        SAN,
    ));
    // As an OCI 1.1 referrer holding a Sigstore bundle (cosign v3's form).
    let other = format!(
        "{}/team/other@{}",
        r.addr,
        push_image(&r.addr, "team/other:v1", b"v2")
    );
    ok(&mut with_trust(&[
        "sign",
        "--registry-referrers-mode",
        "oci-1-1",
        &other,
    ]));
    ok(sigil(d)
        .env("SIGIL_CACHE_DIR", d.join("cache"))
        .env_remove("COSIGN_REPOSITORY")
        .args(["verify", "--certificate-identity", SAN])
        .args([
            "--certificate-oidc-issuer",
            &issuer.url,
            "--trusted-root",
            "data/trusted_root.json",
        ])
        .arg(&other));
    fails(
        &mut verify(
            "verify",
            &[],
            "https://kubernetes.io/namespaces/ci/serviceaccounts/intruder",
        ),
        12,
        "does not match",
    );

    // GitHub Actions: keyless sign-blob, checked by workflow repository and ref.
    let claims = json!({"sub": "repo:acme/widget:ref:refs/heads/main", "repository": "acme/widget",
        "repository_owner": "acme", "repository_id": "1", "repository_owner_id": "2",
        "ref": "refs/heads/main", "sha": "abc123", "workflow": "release", "event_name": "push",
        "job_workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
        "job_workflow_sha": "abc123", "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
        "workflow_sha": "abc123", "runner_environment": "github-hosted", "run_id": "7", "run_attempt": "1",
        "repository_visibility": "public"});
    let t = issuer.token_with(&claims, &format!("iss={}", oidc::urlencode(&gh)));
    std::fs::write(d.join("w.txt"), b"workflow output\n").unwrap();
    ok(sigil(d).env("SIGSTORE_ID_TOKEN", &t).args([
        "sign-blob",
        "--trust-config",
        "data/trust-config.json",
        "--bundle",
        "w.json",
        "w.txt",
    ]));
    let wf = |extra: &[&str]| {
        let mut c = sigil(d);
        c.args([
            "verify-blob",
            "--bundle",
            "w.json",
            "--certificate-identity",
        ])
        .arg("https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main")
        .args([
            "--certificate-oidc-issuer",
            &gh,
            "--trusted-root",
            "data/trusted_root.json",
        ])
        .args(extra)
        .arg("w.txt");
        c
    };
    ok(&mut wf(&[
        "--certificate-github-workflow-repository",
        "acme/widget",
        "--certificate-github-workflow-ref",
        "refs/heads/main",
        "--certificate-github-workflow-trigger",
        "push",
        "--certificate-github-workflow-sha",
        "abc123",
        "--certificate-github-workflow-name",
        "release",
    ]));
    fails(
        &mut wf(&["--certificate-github-workflow-ref", "refs/heads/other"]),
        1,
        "1.3.6.1.4.1.57264.1.6 is \"refs/heads/main\" (expected \"refs/heads/other\")",
    );
}

/// Signing on push: the real registry's notifications reach `sigil serve`, which signs each
/// pushed manifest with its repository's key (served for auditors without authentication);
/// `sigil verify` accepts the signature with that key; the same digest pushed again is not
/// signed twice; a notification without the token is refused and a pull is ignored.
#[test]
fn pushes_to_the_real_registry_are_signed_with_the_repositorys_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "events-s3cret";
    let r = registry::TestRegistry::start_with(&format!(
        "notifications:\n  endpoints:\n    - name: sigil\n      url: http://127.0.0.1:{port}/api/v1/registry/events\n      headers:\n        Authorization: [\"Bearer {token}\"]\n      timeout: 2s\n      threshold: 5\n      backoff: 200ms\n"
    ));
    let server = tsa_server::Service::launch_on(
        env!("CARGO_BIN_EXE_sigil"),
        d,
        "serve",
        &[
            "serve",
            "--data",
            "data",
            "--registry-events-token",
            token,
            "--sign-on-push-registry",
            &r.addr,
        ],
        PASSWORD,
        &format!("127.0.0.1:{port}"),
    );
    let http = reqwest::blocking::Client::new();
    // No key before the first push: the unauthenticated route never makes one.
    let key_url = format!("{}/api/v1/repositories/team/app/cosign.pub", server.url);
    assert_eq!(http.get(&key_url).send().unwrap().status(), 404);
    let digest = push_image(&r.addr, "team/app:v1", b"pushed");
    let image = format!("{}/team/app@{digest}", r.addr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let pem = loop {
        let resp = http.get(&key_url).send().unwrap();
        if resp.status() == 200 {
            break resp.text().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no key made for the push"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(pem.contains("BEGIN PUBLIC KEY"), "{pem}");
    std::fs::write(d.join("app.pub"), &pem).unwrap();
    let verify = || {
        run(sigil(d)
            .env("SIGIL_CACHE_DIR", d.join("cache"))
            .env("SIGIL_NO_CACHE", "1")
            .args([
                "verify",
                "--key",
                "app.pub",
                "--private-infrastructure",
                &image,
            ]))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let o = verify();
        if o.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not signed within 30 s: {}\n{}",
            stderr(&o),
            tsa_server::Service::stderr(d, "serve")
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Another repository's key does not verify it; the platform's default key is served too.
    let other = http
        .get(format!("{}/api/v1/cosign.pub", server.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(other.contains("BEGIN PUBLIC KEY") && other != pem);
    std::fs::write(d.join("default.pub"), &other).unwrap();
    fails(
        sigil(d).env("SIGIL_NO_CACHE", "1").args([
            "verify",
            "--key",
            "default.pub",
            "--private-infrastructure",
            &image,
        ]),
        12,
        "",
    );
    // The same digest pushed again under another tag: still one signature.
    assert_eq!(push_image(&r.addr, "team/app:v1-again", b"pushed"), digest);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let sigs = ok(sigil(d)
        .env("SIGIL_NO_CACHE", "1")
        .args(["download", "signature", &image]));
    assert_eq!(sigs.lines().count(), 1, "{sigs}");
    // The signature's own push (a manifest under a .sig tag) is not signed in turn.
    let tags: serde_json::Value = http
        .get(format!("http://{}/v2/team/app/tags/list", r.addr))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut tags: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        vec![
            format!("{}.sig", digest.replace(':', "-")).as_str(),
            "v1",
            "v1-again"
        ],
        "only the image's signature tag"
    );
    // Without the token: 401; a pull: accepted, nothing queued; a hostile digest: 400.
    let post = |auth: Option<&str>, body: serde_json::Value| {
        let mut r = http
            .post(format!("{}/api/v1/registry/events", server.url))
            .header(
                "content-type",
                "application/vnd.docker.distribution.events.v1+json",
            )
            .body(body.to_string());
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        let resp = r.send().unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    };
    let push = json!({"events": [{"id": "x", "action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "repository": "team/app"}}]});
    assert_eq!(post(None, push.clone()).0, 401);
    assert_eq!(post(Some("wrong"), push.clone()).0, 401);
    let (status, body) = post(Some(token), push);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"accepted":0}"#),
        "already done"
    );
    let pull = json!({"events": [{"id": "y", "action": "pull", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "repository": "team/app"}}]});
    assert_eq!(
        post(Some(token), pull),
        (200, r#"{"accepted":0}"#.to_owned())
    );
    let hostile = json!({"events": [{"action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:../../x", "repository": "team/app"}}]});
    assert_eq!(post(Some(token), hostile).0, 400);
    // Where a push stands, for operators (with the events token).
    let status = |auth: &str, key: &str| {
        let resp = http
            .get(format!("{}/api/v1/registry/pushes/{key}", server.url))
            .bearer_auth(auth)
            .send()
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json::<serde_json::Value>().unwrap_or_default(),
        )
    };
    let (code, v) = status(token, &format!("team/app@{digest}"));
    assert_eq!(code, 200);
    assert_eq!(v["state"], "signed", "{v}");
    assert_eq!(status("wrong", &format!("team/app@{digest}")).0, 401);
    assert_eq!(status(token, "team/app@sha256:0000").0, 404);
    assert_eq!(
        http.get(format!(
            "{}/api/v1/repositories/Bad..Name/cosign.pub",
            server.url
        ))
        .send()
        .unwrap()
        .status(),
        404
    );
}

/// An acknowledged push is on disk: recorded while the registry cannot be reached (the
/// attempts fail and are retried), it is signed after `sigil serve` is killed and started again
/// with the registry back.
#[test]
fn a_recorded_push_survives_a_crash_and_is_signed_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = registry::TestRegistry::start();
    let digest = push_image(&r.addr, "team/svc:v1", b"svc");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let token = "t";
    let start = |host: &str| {
        tsa_server::Service::launch(
            env!("CARGO_BIN_EXE_sigil"),
            d,
            "serve",
            &[
                "serve",
                "--data",
                "data",
                "--registry-events-token",
                token,
                "--sign-on-push-registry",
                host,
            ],
            PASSWORD,
        )
    };
    let first = start(&dead);
    let body = json!({"events": [{"id": "e1", "action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "repository": "team/svc", "tag": "v1"}}]});
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/registry/events", first.url))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), r#"{"accepted":1}"#);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let v: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/v1/registry/pushes/team/svc@{digest}",
            first.url
        ))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["state"], "pending", "{v}");
    assert!(v["attempts"].as_u64().unwrap() >= 1, "{v}");
    assert!(
        v["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{v}"
    );
    drop(first); // killed: no orderly shutdown
    let second = start(&r.addr);
    assert!(
        tsa_server::Service::stderr(d, "serve").contains("1 push(es) waiting"),
        "{}",
        tsa_server::Service::stderr(d, "serve")
    );
    let pem = served_key(&format!(
        "{}/api/v1/repositories/team/svc/cosign.pub",
        second.url
    ));
    std::fs::write(d.join("svc.pub"), pem).unwrap();
    let image = format!("{}/team/svc@{digest}", r.addr);
    eventually_ok(
        d,
        &[
            "verify",
            "--key",
            "svc.pub",
            "--private-infrastructure",
            &image,
        ],
    );
}

/// Per-repository rules: a namespace shares one key, and the signed payload carries the rule's
/// annotations and the image's revision label, which verifiers can require.
#[test]
fn a_namespace_shares_a_key_and_signatures_carry_annotations_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = registry::TestRegistry::start();
    std::fs::write(
        d.join("rules.yaml"),
        "repositories:\n  - match: team/*\n    key: team\n    annotations: {tenant: acme, app: widget}\n    labels:\n      org.opencontainers.image.revision: commit\n    sbom: true\n  - match: logged/*\n    tlog: true\n",
    )
    .unwrap();
    // The namespace's key made before any push (`sigil keys create`), then served.
    let created = ok(sigil(d).args([
        "keys",
        "create",
        "--data",
        "data",
        "--sign-on-push-config",
        "rules.yaml",
        "team/api",
    ]));
    assert!(created.contains("BEGIN PUBLIC KEY"), "{created}");
    assert_eq!(
        ok(sigil(d).args([
            "keys",
            "create",
            "--data",
            "data",
            "--sign-on-push-config",
            "rules.yaml",
            "team/other"
        ])),
        created,
        "one key for the namespace"
    );
    fails(
        sigil(d).args(["keys", "create", "--data", "data", "../escape"]),
        3,
        "not a repository name",
    );
    let token = "t";
    let server = tsa_server::Service::launch(
        env!("CARGO_BIN_EXE_sigil"),
        d,
        "serve",
        &[
            "serve",
            "--data",
            "data",
            "--registry-events-token",
            token,
            "--sign-on-push-registry",
            &r.addr,
            "--sign-on-push-config",
            "rules.yaml",
        ],
        PASSWORD,
    );
    // An image whose config carries the revision label, with an Alpine package database.
    let layer = {
        let db = b"P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\n\n";
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(db.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "lib/apk/db/installed", &db[..])
            .unwrap();
        b.into_inner().unwrap()
    };
    let image_ref = sigil_oci::ImageRef::parse(&format!("{}/team/api:v2", r.addr)).unwrap();
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.revision": "0badc0de"}},
        "rootfs": {"type": "layers", "diff_ids": []}});
    let digest = sigil_oci::Registry::new(&sigil_oci::RegistryOptions::default())
        .unwrap()
        .push_image(
            &image_ref,
            &[sigil_oci::Layer {
                data: layer,
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            }],
            config.to_string().as_bytes(),
            "application/vnd.oci.image.config.v1+json",
        )
        .unwrap();
    let http = reqwest::blocking::Client::new();
    let body = json!({"events": [{"id": "e", "action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "repository": "team/api"}}]});
    let resp = http
        .post(format!("{}/api/v1/registry/events", server.url))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let key = |repo: &str| {
        http.get(format!(
            "{}/api/v1/repositories/{repo}/cosign.pub",
            server.url
        ))
        .send()
        .unwrap()
        .text()
        .unwrap()
    };
    let team = key("team/api");
    assert_eq!(team, created, "the key keys create made");
    assert_eq!(team, key("team/other"), "one key for the namespace");
    assert!(
        key("solo/app").starts_with("no key yet"),
        "a repository with no signed push has no key, and a GET makes none"
    );
    std::fs::write(d.join("team.pub"), &team).unwrap();
    let image = format!("{}/team/api@{digest}", r.addr);
    let verify = |extra: &[&str]| {
        let mut c = sigil(d);
        c.env("SIGIL_NO_CACHE", "1")
            .args(["verify", "--key", "team.pub", "--private-infrastructure"])
            .args(extra)
            .arg(&image);
        c
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !run(&mut verify(&[])).status.success() {
        assert!(std::time::Instant::now() < deadline, "not signed");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    ok(&mut verify(&[
        "-a",
        "tenant=acme",
        "-a",
        "app=widget",
        "-a",
        "commit=0badc0de",
    ]));
    fails(&mut verify(&["-a", "commit=other"]), 12, "");
}

/// Harbor's PUSH_ARTIFACT webhook for a multi-platform index: the index and each platform's
/// manifest are signed (`verify --recursive` accepts them all).
#[test]
fn a_harbor_push_of_an_index_signs_every_platform() {
    use sigil_oci::{ImageRef, Repo};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = registry::TestRegistry::start();
    let token = "harbor-token";
    let server = tsa_server::Service::launch(
        env!("CARGO_BIN_EXE_sigil"),
        d,
        "serve",
        &[
            "serve",
            "--data",
            "data",
            "--registry-events-token",
            token,
            "--sign-on-push-registry",
            &r.addr,
        ],
        PASSWORD,
    );
    let amd = push_image(&r.addr, "library/multi:amd64", b"amd64");
    let arm = push_image(&r.addr, "library/multi:arm64", b"arm64");
    let c = sigil_oci::Registry::new(&sigil_oci::RegistryOptions::default()).unwrap();
    let image = ImageRef::parse(&format!("{}/library/multi:v1", r.addr)).unwrap();
    let size = |digest: &str| {
        c.get_manifest(Repo::from(&image), digest)
            .unwrap()
            .unwrap()
            .bytes
            .len()
    };
    let oci_manifest = "application/vnd.oci.image.manifest.v1+json";
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": oci_manifest, "size": size(&amd), "digest": amd, "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": oci_manifest, "size": size(&arm), "digest": arm, "platform": {"architecture": "arm64", "os": "linux"}}]});
    let index_digest = c
        .put_manifest(
            Repo::from(&image),
            "v1",
            index.to_string().as_bytes(),
            "application/vnd.oci.image.index.v1+json",
        )
        .unwrap();
    let webhook = json!({"type": "PUSH_ARTIFACT", "occur_at": 1_765_000_000, "operator": "admin",
        "event_data": {"resources": [{"digest": index_digest, "tag": "v1",
                                      "resource_url": format!("{}/library/multi:v1", r.addr)}],
                       "repository": {"name": "multi", "namespace": "library",
                                      "repo_full_name": "library/multi", "repo_type": "private"}}});
    let http = reqwest::blocking::Client::new();
    let resp = http
        .post(format!("{}/api/v1/registry/events", server.url))
        .header("authorization", format!("Bearer {token}"))
        .json(&webhook)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    std::fs::write(
        d.join("multi.pub"),
        served_key(&format!(
            "{}/api/v1/repositories/library/multi/cosign.pub",
            server.url
        )),
    )
    .unwrap();
    let by_digest = format!("{}/library/multi@{index_digest}", r.addr);
    eventually_ok(
        d,
        &[
            "verify",
            "--key",
            "multi.pub",
            "--private-infrastructure",
            "--recursive",
            &by_digest,
        ],
    );
    for platform in [&amd, &arm] {
        ok(sigil(d).env("SIGIL_NO_CACHE", "1").args([
            "verify",
            "--key",
            "multi.pub",
            "--private-infrastructure",
            &format!("{}/library/multi@{platform}", r.addr),
        ]));
    }
}

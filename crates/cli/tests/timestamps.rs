//! `sigil tsa serve`, the RFC 3161 timestamp authority, through the real binary: its replies
//! verified by openssl, signatures timestamped with `--timestamp-server-url` and verified with
//! `--use-signed-timestamps` against a trust root naming the authority, and ClusterImagePolicy
//! authorities requiring `rfc3161timestamp`; each refusal with its reason.

mod common;
#[path = "../../../tests/support/log_server.rs"]
mod log_server;
#[path = "../../../tests/support/registry.rs"]
mod registry;
#[path = "../../../tests/support/tsa_server.rs"]
mod tsa_server;

use std::path::Path;

use base64::Engine;
use common::*;
use serde_json::Value;

fn start_tsa(d: &Path) -> tsa_server::Tsa {
    tsa_server::Tsa::start(env!("CARGO_BIN_EXE_sigil"), d, PASSWORD)
}

#[test]
fn timestamps_from_sigils_authority_verify_here_and_in_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tsa = start_tsa(d);
    let log = log_server::LogServer::start(env!("CARGO_BIN_EXE_sigil"), &d.join("log"), &[]);
    let ts_url = format!("{}/api/v1/timestamp", tsa.url);
    let http = reqwest::blocking::Client::new();
    let chain = http
        .get(format!("{ts_url}/certchain"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "{chain}");
    std::fs::write(d.join("tsa-chain.pem"), &chain).unwrap();
    let (leaf, root) = chain.split_at(chain.find("-----END CERTIFICATE-----").unwrap() + 26);
    std::fs::write(d.join("tsa-leaf.pem"), leaf).unwrap();
    std::fs::write(d.join("tsa-root.pem"), root.trim_start()).unwrap();
    // The signing certificate as the issue's profile says: EKU timeStamping only, critical.
    let text = ok(openssl(d).args(["x509", "-in", "tsa-leaf.pem", "-noout", "-text"]));
    assert!(
        text.contains("X509v3 Extended Key Usage: critical\n                Time Stamping\n"),
        "{text}"
    );

    generate(d, "ecdsa-p256", "k");
    std::fs::write(d.join("a.txt"), b"release artefact\n").unwrap();
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        "--timestamp-server-url",
        &ts_url,
        "--bundle",
        "a.sigstore.json",
        "--output-signature",
        "a.sig",
        "a.txt",
    ]));
    let b: Value =
        serde_json::from_slice(&std::fs::read(d.join("a.sigstore.json")).unwrap()).unwrap();
    let reply = base64_decode(
        b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
            ["signedTimestamp"]
            .as_str()
            .unwrap(),
    );
    std::fs::write(d.join("a.tsr"), reply).unwrap();
    b64_to_file(d, "a.sig", "a.sig.der");
    // openssl: the reply is over the signature bytes, by the served chain.
    let o = run(openssl(d).args([
        "ts",
        "-verify",
        "-in",
        "a.tsr",
        "-data",
        "a.sig.der",
        "-CAfile",
        "tsa-root.pem",
    ]));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Verification: OK"),
        "{}",
        stderr(&o)
    );

    // Sigil, with a trust root naming the log and the authority.
    ok(sigil(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--timestamp-certificate-chain",
        "tsa-chain.pem",
        "--out",
        "root.json",
    ]));
    let verify = |root: &str, bundle: &str| {
        run(sigil(d).args([
            "verify-blob",
            "--key",
            "k.pub",
            "--bundle",
            bundle,
            "--trusted-root",
            root,
            "--use-signed-timestamps",
            "-o",
            "json",
            "a.txt",
        ]))
    };
    let o = verify("root.json", "a.sigstore.json");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let timestamp = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "timestamp")
        .unwrap();
    assert_eq!(timestamp["outcome"], "passed", "{v}");
    // A trust root without the authority: the timestamp is not trusted.
    ok(sigil(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--out",
        "no-tsa.json",
    ]));
    let o = verify("no-tsa.json", "a.sigstore.json");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not issued by a trusted timestamp authority"),
        "{}",
        stderr(&o)
    );
    // A bundle without a timestamp, when one is required.
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        "--bundle",
        "plain.sigstore.json",
        "a.txt",
    ]));
    let o = verify("root.json", "plain.sigstore.json");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("has no RFC 3161 timestamp, and the verifier requires one"),
        "{}",
        stderr(&o)
    );

    // The JSON form sigstore-js sends, and a request the authority refuses.
    let digest = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, b"x");
    let r = http
        .post(&ts_url)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"artifactHash":"{}","hashAlgorithm":"sha256","nonce":9,"certificates":true}}"#,
            base64_encode(digest.as_bytes())
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/timestamp-reply");
    let r = http
        .post(&ts_url)
        .header("content-type", "application/timestamp-query")
        .body(&b"\x30\x03\x02\x01\x02"[..])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().unwrap();
    assert_eq!(v["code"], 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("version 2"), "{v}");
    // Checksum files have nowhere to keep a timestamp: refused, not ignored.
    fails(
        sigil(d).args([
            "checksums",
            "sign",
            "--key",
            "k.key",
            "--timestamp-server-url",
            &ts_url,
            "a.txt",
        ]),
        3,
        "--timestamp-server-url",
    );
}

/// A ClusterImagePolicy authority with `rfc3161timestamp` requires a timestamp from an
/// authority of the TrustRoot it names.
#[test]
fn image_policies_require_timestamps_when_they_say_so() {
    let r = registry::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tsa = start_tsa(d);
    let ts_url = format!("{}/api/v1/timestamp", tsa.url);
    let chain = reqwest::blocking::get(format!("{ts_url}/certchain"))
        .unwrap()
        .text()
        .unwrap();
    generate(d, "ecdsa-p256", "k");
    push_image(&r.addr, "team/stamped:v1", b"s1");
    push_image(&r.addr, "team/plain:v1", b"p1");
    let stamped = format!("{}/team/stamped:v1", r.addr);
    let plain = format!("{}/team/plain:v1", r.addr);
    let sg = |d: &Path| {
        let mut c = sigil(d);
        c.env("SIGIL_CACHE_DIR", d.join("cache"))
            .env_remove("COSIGN_REPOSITORY");
        c
    };
    ok(sg(d).args([
        "sign",
        "--key",
        "k.key",
        "--timestamp-server-url",
        &ts_url,
        &stamped,
    ]));
    ok(sg(d).args(["sign", "--key", "k.key", &plain]));
    let b64 = base64::engine::general_purpose::STANDARD.encode(chain.as_bytes());
    std::fs::write(
        d.join("p.yaml"),
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: stamped}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities:\n  - name: release\n    key: {{data: k.pub}}\n    rfc3161timestamp: {{trustRootRef: our-tsa}}\n---\napiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: our-tsa}}\nspec:\n  sigstoreKeys:\n    timestampAuthorities:\n    - uri: {ts_url}\n      certChain: {b64}\n"
        ),
    )
    .unwrap();
    let decide = |image: &str| {
        let o = run(sg(d).args(["policy", "test", "-o", "json", "--policy", "p.yaml", image]));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (o.status.code(), v)
    };
    let (code, v) = decide(&stamped);
    assert_eq!(code, Some(0), "{v}");
    let (code, v) = decide(&plain);
    assert_eq!(code, Some(1), "{v}");
    assert!(
        v.to_string()
            .contains("has no RFC 3161 timestamp, and the verifier requires one"),
        "{v}"
    );
    // `sigil verify --use-signed-timestamps` reads the image's timestamp annotation too.
    ok(sg(d)
        .args([
            "trusted-root",
            "create",
            "--rekor-url",
            "https://rekor.invalid",
            "--rekor-public-key",
            "k.pub",
            "--timestamp-certificate-chain",
            "/dev/stdin",
            "--out",
            "root.json",
        ])
        .stdin(
            std::fs::File::open({
                std::fs::write(d.join("chain.pem"), &chain).unwrap();
                d.join("chain.pem")
            })
            .unwrap(),
        ));
    ok(sg(d).args([
        "verify",
        "--key",
        "k.pub",
        "--private-infrastructure",
        "--use-signed-timestamps",
        "--trusted-root",
        "root.json",
        &stamped,
    ]));
    fails(
        sg(d).args([
            "verify",
            "--key",
            "k.pub",
            "--private-infrastructure",
            "--use-signed-timestamps",
            "--trusted-root",
            "root.json",
            &plain,
        ]),
        12,
        "has no RFC 3161 timestamp",
    );
}

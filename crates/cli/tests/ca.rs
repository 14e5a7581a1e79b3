//! `sigil ca init`: the keyless CA's root and intermediate, checked with openssl, their keys
//! encrypted, nothing overwritten; a Fulcio-profile leaf from the opened CA chains to them.

mod common;

use common::*;

#[test]
fn ca_init_creates_a_chain_openssl_accepts_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(sigil(d).args([
        "ca",
        "init",
        "--data",
        "ca",
        "--organization",
        "Example",
        "-o",
        "json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["chain"].as_str().unwrap().ends_with("ca-chain.pem"),
        "{v}"
    );
    // openssl: the intermediate verifies under the root; the profiles are CA profiles.
    let chain = std::fs::read_to_string(d.join("ca/ca-chain.pem")).unwrap();
    let inter = &chain[..chain.find("-----END CERTIFICATE-----").unwrap() + 26];
    std::fs::write(d.join("inter.pem"), inter).unwrap();
    let o = ok(openssl(d).args(["verify", "-CAfile", "ca/ca-root.pem", "inter.pem"]));
    assert!(o.contains("inter.pem: OK"), "{o}");
    let root = ok(openssl(d).args(["x509", "-in", "ca/ca-root.pem", "-noout", "-text"]));
    assert!(
        root.contains("CA:TRUE, pathlen:1") && root.contains("Certificate Sign, CRL Sign"),
        "{root}"
    );
    assert!(root.contains("NIST CURVE: P-384"), "{root}");
    let text = ok(openssl(d).args(["x509", "-in", "inter.pem", "-noout", "-text"]));
    assert!(
        text.contains("CA:TRUE, pathlen:0") && text.contains("Code Signing"),
        "{text}"
    );
    assert!(
        text.contains("Subject: O = Example, CN = sigil keyless intermediate"),
        "{text}"
    );
    for key in ["ca/ca-root-key.pem", "ca/ca-intermediate-key.pem"] {
        let pem = std::fs::read_to_string(d.join(key)).unwrap();
        assert!(
            pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
            "{key}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(d.join(key)).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Nothing is overwritten.
    let before = std::fs::read(d.join("ca/ca-intermediate-key.pem")).unwrap();
    fails(
        sigil(d).args(["ca", "init", "--data", "ca"]),
        3,
        "already exists",
    );
    assert_eq!(
        std::fs::read(d.join("ca/ca-intermediate-key.pem")).unwrap(),
        before
    );
}

#[test]
fn ca_init_needs_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails(
        sigil(d)
            .env("COSIGN_PASSWORD", "")
            .args(["ca", "init", "--data", "ca"]),
        3,
        "a non-empty password is required",
    );
    assert!(!d.join("ca/ca-root.pem").exists());
}

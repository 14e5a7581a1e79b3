//! `trusted-root rotate`: a new CA (or log key) added with its window and the old one ended,
//! in one command. Signatures verify inside their authority's window and are refused outside
//! it (a certificate from a rotated-out CA, one from a CA not yet valid), and a signature made
//! when its certificate had expired is refused too.

mod common;

#[path = "../../../tests/support/log_server.rs"]
mod log_server;

use std::path::Path;

use common::*;

const ISSUER: &str = "https://issuer.example";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rfc3339(t: i64) -> String {
    sigil_formats::time::Timestamp::from_unix(t).to_rfc3339()
}

/// Signs `file` as `name` with a leaf of the CA in `ca` valid from `not_before`, logged.
fn sign(d: &Path, log: &str, ca: &str, name: &str, not_before: i64, file: &str) {
    use sigil_crypto::{KeyAlgorithm, SigningKey};
    let authority =
        sigil_ca::Ca::open(&d.join(ca), &zeroize::Zeroizing::new(PASSWORD.to_owned())).unwrap();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    std::fs::write(
        d.join(format!("{name}.pem")),
        sigil_crypto::pem::encode("PRIVATE KEY", &key.to_pkcs8_der().unwrap()),
    )
    .unwrap();
    ok(sigil(d).args([
        "import-key-pair",
        "--key",
        &format!("{name}.pem"),
        "--output-key-prefix",
        name,
    ]));
    let t = authority.leaf_template(
        key.public_key(),
        "builder@example.com",
        ISSUER,
        not_before,
        vec![],
    );
    let leaf = sigil_pki::issue::issue(&t, &authority.issuer()).unwrap();
    std::fs::write(
        d.join(format!("{name}.crt")),
        sigil_crypto::pem::encode("CERTIFICATE", &leaf),
    )
    .unwrap();
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        &format!("{name}.key"),
        "--certificate",
        &format!("{name}.crt"),
        "--certificate-chain",
        &format!("{ca}/ca-chain.pem"),
        "--tlog-upload",
        "--rekor-url",
        log,
        "--bundle",
        &format!("{name}.json"),
        file,
    ]));
}

fn verify(d: &Path, bundle: &str, root: &str) -> std::process::Output {
    run(sigil(d).args([
        "verify-blob",
        "--bundle",
        bundle,
        "--certificate-identity",
        "builder@example.com",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        root,
        "--insecure-ignore-sct",
        "a.txt",
    ]))
}

#[track_caller]
fn verifies(d: &Path, bundle: &str, root: &str) {
    let o = verify(d, bundle, root);
    assert!(o.status.success(), "{bundle} under {root}: {}", stderr(&o));
}

#[track_caller]
fn refused(d: &Path, bundle: &str, root: &str) -> String {
    let o = verify(d, bundle, root);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{bundle} under {root}: {}",
        stderr(&o)
    );
    stderr(&o)
}

/// `trusted-root rotate --trusted-root root.json` with `args`.
fn rotate_cmd(d: &Path, args: &[&str]) -> std::process::Command {
    let mut c = sigil(d);
    c.args(["trusted-root", "rotate", "--trusted-root", "root.json"])
        .args(args);
    c
}

/// Rotates CA A out for CA B at `at`, A valid `overlap` longer, into `out`.
fn rotate(d: &Path, at: i64, overlap: &str, out: &str) {
    ok(&mut rotate_cmd(
        d,
        &[
            "--certificate-chain",
            "caB/ca-chain.pem",
            "--at",
            &rfc3339(at),
            "--overlap",
            overlap,
            "--out",
            out,
        ],
    ));
}

#[test]
fn a_rotated_ca_verifies_inside_its_window_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = log_server::LogServer::start(env!("CARGO_BIN_EXE_sigil"), &d.join("log"), &[]);
    for ca in ["caA", "caB"] {
        ok(sigil(d).args(["ca", "init", "--data", ca, "--key-algorithm", "ecdsa-p256"]));
    }
    std::fs::write(d.join("a.txt"), b"release\n").unwrap();
    ok(sigil(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--rekor-start-time",
        "2020-01-01T00:00:00Z",
        "--certificate-chain",
        "caA/ca-chain.pem",
        "--out",
        "root.json",
    ]));
    let t = now();
    sign(d, &log.url, "caA", "old", t - 5, "a.txt");
    sign(d, &log.url, "caB", "new", t - 5, "a.txt");
    verifies(d, "old.json", "root.json");
    refused(d, "new.json", "root.json");

    // Rotated before the signatures, no overlap: the old CA's signature is refused, the new
    // one's verifies. (The old CA's window starts with its intermediate, a minute before
    // `ca init`; a rotation ending it before it starts is refused.)
    rotate(d, t - 30, "0s", "rotated.json");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("rotated.json")).unwrap()).unwrap();
    let cas = v["certificateAuthorities"].as_array().unwrap();
    assert_eq!(cas.len(), 2);
    assert_eq!(cas[0]["validFor"]["end"], rfc3339(t - 30));
    assert_eq!(cas[1]["validFor"]["start"], rfc3339(t - 30));
    let why = refused(d, "old.json", "rotated.json");
    assert!(
        why.contains("certificate-chain") && why.contains("https://fulcio.invalid not valid at"),
        "{why}"
    );
    verifies(d, "new.json", "rotated.json");

    // Rotating in an hour: the old CA still verifies, the new one is not valid yet.
    rotate(d, t + 3600, "0s", "later.json");
    verifies(d, "old.json", "later.json");
    refused(d, "new.json", "later.json");

    // With an overlap spanning the signatures, both verify.
    rotate(d, t - 30, "1h", "overlap.json");
    verifies(d, "old.json", "overlap.json");
    verifies(d, "new.json", "overlap.json");

    // Refused: a rotation that ends the old CA before it starts, one that ends nothing (another
    // URI), and the same chain twice.
    let refused_rotation = |args: &[&str], why: &str| {
        fails(
            &mut rotate_cmd(d, &[args, &["--out", "x.json"]].concat()),
            3,
            why,
        );
    };
    let long_ago = rfc3339(t - 86_400);
    refused_rotation(
        &[
            "--certificate-chain",
            "caB/ca-chain.pem",
            "--at",
            &long_ago,
            "--overlap",
            "0s",
        ],
        "ends before it starts",
    );
    refused_rotation(
        &[
            "--certificate-chain",
            "caB/ca-chain.pem",
            "--certificate-authority-uri",
            "https://other.example",
        ],
        "nothing is rotated",
    );
    refused_rotation(
        &["--certificate-chain", "caA/ca-chain.pem"],
        "already in the trusted root",
    );

    // A signature logged after its certificate expired (valid an hour ago for ten minutes).
    sign(d, &log.url, "caA", "expired", t - 3600, "a.txt");
    let why = refused(d, "expired.json", "root.json");
    assert!(
        why.contains("certificate-validity") && why.contains("outside the certificate's validity"),
        "{why}"
    );
}

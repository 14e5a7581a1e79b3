//! Bundles Sigil writes, verified by @sigstore/verify (sigstore-js, installed by scripts/test into
//! tests/interop/js). The matrix is pinned: where the peer disagrees it is because cosign's hash
//! choices differ from sigstore-js 3.x (see docs/verification.md), and a change on either side
//! must show up here.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn peer() -> PathBuf {
    let dir = data("../../../../tests/interop/js");
    assert!(
        dir.join("node_modules/@sigstore/verify").exists(),
        "the JS peer is not installed: run scripts/test (it runs npm install in tests/interop/js)"
    );
    dir.join("verify.js")
}

fn js_verifies(d: &std::path::Path, bundle: &str, file: &str, key: &str) -> Result<(), String> {
    let o = run(Command::new("node")
        .arg(peer())
        .args([bundle, file, key])
        .current_dir(d));
    if o.status.success() {
        Ok(())
    } else {
        Err(stderr(&o))
    }
}

#[test]
fn sigstore_js_verifies_sigils_key_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"interop artefact\n").unwrap();
    std::fs::write(d.join("p.json"), br#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
    // (algorithm, blob bundle verifies in sigstore-js, DSSE bundle verifies in sigstore-js)
    let matrix = [
        ("ecdsa-p256", true, true),
        ("ecdsa-p384", true, false), // DSSE: sigstore-js 3.x checks SHA-256; cosign signs SHA-384
        ("ecdsa-p521", true, false), // same, SHA-512
        ("rsa-3072", true, true),
        ("ed25519", false, false), // cosign signs Ed25519ph; sigstore-js supports pure Ed25519 only
    ];
    for (alg, blob_ok, dsse_ok) in matrix {
        generate(d, alg, alg);
        ok(sigil(d).args([
            "sign-blob",
            "--key",
            &format!("{alg}.key"),
            "--bundle",
            &format!("{alg}.json"),
            "f",
        ]));
        ok(sigil(d).args([
            "attest-blob",
            "--key",
            &format!("{alg}.key"),
            "--predicate",
            "p.json",
            "--type",
            "spdx",
            "--bundle",
            &format!("{alg}-att.json"),
            "f",
        ]));
        let blob = js_verifies(d, &format!("{alg}.json"), "f", &format!("{alg}.pub"));
        assert_eq!(blob.is_ok(), blob_ok, "{alg} blob bundle: {blob:?}");
        let dsse = js_verifies(d, &format!("{alg}-att.json"), "f", &format!("{alg}.pub"));
        assert_eq!(dsse.is_ok(), dsse_ok, "{alg} DSSE bundle: {dsse:?}");
        // Sigil itself verifies all of them.
        ok(sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            &format!("{alg}.pub"),
            "--bundle",
            &format!("{alg}.json"),
            "f",
        ]));
        ok(sigil(d).args([
            "verify-blob-attestation",
            "--private-infrastructure",
            "--key",
            &format!("{alg}.pub"),
            "--type",
            "spdx",
            "--bundle",
            &format!("{alg}-att.json"),
            "f",
        ]));
    }
    // The peer refuses a bundle for other content.
    std::fs::write(d.join("g"), b"other").unwrap();
    let err = js_verifies(d, "ecdsa-p256.json", "g", "ecdsa-p256.pub").unwrap_err();
    assert!(
        err.contains("SIGNATURE_ERROR") || err.contains("digest"),
        "{err}"
    );
}

//! `attest-blob` / `verify-blob-attestation`, and `verify-blob` with cosign's identity flags on
//! real public-good bundles.

mod common;

use common::*;

#[test]
fn attest_round_trip_and_refusals() {
    let dir = with_key();
    let d = dir.path();
    std::fs::write(
        d.join("p.json"),
        br#"{"buildType":"https://example.com/build"}"#,
    )
    .unwrap();
    ok(sigil(d).args([
        "attest-blob",
        "--key",
        "k.key",
        "--predicate",
        "p.json",
        "--type",
        "slsaprovenance1",
        "--bundle",
        "a.json",
        "--output-attestation",
        "env.json",
        "f",
    ]));
    // The envelope holds an in-toto v1 statement naming the file's digest.
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("env.json")).unwrap()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let st: serde_json::Value =
        serde_json::from_slice(&base64_decode(env["payload"].as_str().unwrap())).unwrap();
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], "https://slsa.dev/provenance/v1");
    let sha = ok(std::process::Command::new("sha256sum").arg(d.join("f")));
    assert_eq!(st["subject"][0]["digest"]["sha256"], &sha[..64]);
    // openssl checks the DSSE signature over PAE.
    let payload = base64_decode(env["payload"].as_str().unwrap());
    let mut pae = format!("DSSEv1 28 application/vnd.in-toto+json {} ", payload.len()).into_bytes();
    pae.extend_from_slice(&payload);
    std::fs::write(d.join("pae"), pae).unwrap();
    std::fs::write(
        d.join("sig.der"),
        base64_decode(env["signatures"][0]["sig"].as_str().unwrap()),
    )
    .unwrap();
    let out = ok(openssl(d).args([
        "dgst",
        "-sha256",
        "-verify",
        "k.pub",
        "-signature",
        "sig.der",
        "pae",
    ]));
    assert!(out.contains("Verified OK"), "{out}");

    for evidence in [["--bundle", "a.json"], ["--signature", "env.json"]] {
        ok(sigil(d)
            .args([
                "verify-blob-attestation",
                "--private-infrastructure",
                "--key",
                "k.pub",
                "--type",
                "slsaprovenance1",
            ])
            .args(evidence)
            .arg("f"));
        fails(
            sigil(d)
                .args([
                    "verify-blob-attestation",
                    "--private-infrastructure",
                    "--key",
                    "k.pub",
                    "--type",
                    "spdx",
                ])
                .args(evidence)
                .arg("f"),
            1,
            "check artifact failed: the statement's predicate type is \"https://slsa.dev/provenance/v1\", but \"https://spdx.dev/Document\" is required",
        );
    }
    std::fs::write(d.join("g"), b"other").unwrap();
    fails(
        sigil(d).args([
            "verify-blob-attestation",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--type",
            "slsaprovenance1",
            "--bundle",
            "a.json",
            "g",
        ]),
        1,
        "no subject of the in-toto statement has the artefact's digest",
    );
    generate(d, "ecdsa-p256", "other");
    fails(
        sigil(d).args([
            "verify-blob-attestation",
            "--private-infrastructure",
            "--key",
            "other.pub",
            "--type",
            "slsaprovenance1",
            "--bundle",
            "a.json",
            "f",
        ]),
        1,
        "check signature failed: the DSSE envelope signature does not verify",
    );
    fails(
        sigil(d).args([
            "attest-blob",
            "--key",
            "k.key",
            "--predicate",
            "p.json",
            "--type",
            "not-a-type",
            "f",
        ]),
        3,
        "neither a cosign shortcut",
    );
    std::fs::write(d.join("bad.json"), b"{not json").unwrap();
    fails(
        sigil(d).args([
            "attest-blob",
            "--key",
            "k.key",
            "--predicate",
            "bad.json",
            "--type",
            "spdx",
            "f",
        ]),
        3,
        "is not JSON",
    );
    // The custom type wraps any text, as cosign does.
    std::fs::write(d.join("notes.txt"), b"free text").unwrap();
    let env = ok(sigil(d).env("SOURCE_DATE_EPOCH", "1700000000").args([
        "attest-blob",
        "--key",
        "k.key",
        "--predicate",
        "notes.txt",
        "f",
    ]));
    let env: serde_json::Value = serde_json::from_str(&env).unwrap();
    let st: serde_json::Value =
        serde_json::from_slice(&base64_decode(env["payload"].as_str().unwrap())).unwrap();
    assert_eq!(
        st["predicateType"],
        "https://cosign.sigstore.dev/attestation/v1"
    );
    assert_eq!(
        st["predicate"],
        serde_json::json!({"Data": "free text", "Timestamp": "2023-11-14T22:13:20Z"})
    );
}

#[test]
fn verify_blob_takes_cosign_identity_flags() {
    let conf = data("../../../../tests/data/conformance");
    let case = conf.join("bundle-verify/happy-path-v0.3");
    let id = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    let dir = tempfile::tempdir().unwrap();
    let run_with = |identity_flag: &str, identity: &str, issuer: &str| {
        let mut c = sigil(dir.path());
        c.args(["verify-blob", "--private-infrastructure", "--bundle"])
            .arg(case.join("bundle.sigstore.json"))
            .args([identity_flag, identity, "--certificate-oidc-issuer", issuer])
            .arg(conf.join("a.txt"));
        c
    };
    ok(&mut run_with(
        "--certificate-identity",
        id,
        "https://token.actions.githubusercontent.com",
    ));
    ok(&mut run_with(
        "--certificate-identity-regexp",
        "^https://github.com/sigstore-conformance/",
        "https://token.actions.githubusercontent.com",
    ));
    fails(
        &mut run_with(
            "--certificate-identity-regexp",
            "^https://github.com/someone-else/",
            "https://token.actions.githubusercontent.com",
        ),
        1,
        "check identity failed",
    );
    fails(
        &mut run_with("--certificate-identity", id, "https://accounts.google.com"),
        1,
        "check identity failed: the certificate's OIDC issuer",
    );
    // A different file: the bundle names other content.
    std::fs::write(dir.path().join("other"), b"other").unwrap();
    fails(
        sigil(dir.path())
            .args(["verify-blob", "--private-infrastructure", "--bundle"])
            .arg(case.join("bundle.sigstore.json"))
            .args([
                "--certificate-identity",
                id,
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
                "other",
            ]),
        1,
        "check artifact failed",
    );
}

/// cosign's old `--bundle` JSON with a real public-good Rekor SET (taken from the conformance
/// v0.1 happy path) is verified in full: certificate, identity and SET.
#[test]
fn old_cosign_bundle_with_rekor_set_is_verified() {
    let conf = data("../../../../tests/data/conformance");
    let v01: serde_json::Value = serde_json::from_slice(
        &std::fs::read(conf.join("bundle-verify/happy-path-v0.1/bundle.sigstore.json")).unwrap(),
    )
    .unwrap();
    let vm = &v01["verificationMaterial"];
    let leaf = vm["x509CertificateChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .unwrap();
    let pem = format!("-----BEGIN CERTIFICATE-----\n{leaf}\n-----END CERTIFICATE-----\n");
    let e = &vm["tlogEntries"][0];
    let log_id_hex: String = base64_decode(e["logId"]["keyId"].as_str().unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let old = |set: &str, time: i64| {
        serde_json::json!({
        "base64Signature": v01["messageSignature"]["signature"],
        "cert": base64_encode(pem.as_bytes()),
        "rekorBundle": {"SignedEntryTimestamp": set, "Payload": {
            "body": e["canonicalizedBody"], "integratedTime": time,
            "logIndex": e["logIndex"].as_str().unwrap().parse::<i64>().unwrap(), "logID": log_id_hex}}})
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let set = e["inclusionPromise"]["signedEntryTimestamp"]
        .as_str()
        .unwrap();
    let time: i64 = e["integratedTime"].as_str().unwrap().parse().unwrap();
    let id = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    let verify = |file: &str| {
        let mut c = sigil(d);
        c.args([
            "verify-blob",
            "--private-infrastructure",
            "--bundle",
            file,
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
        ])
        .arg(conf.join("a.txt"));
        c
    };
    std::fs::write(d.join("old.json"), old(set, time).to_string()).unwrap();
    ok(&mut verify("old.json"));
    // A SET that does not verify, and an integrated time the SET does not cover.
    let mut bad = base64_decode(set);
    let n = bad.len() - 1;
    bad[n] ^= 1;
    std::fs::write(
        d.join("bad-set.json"),
        old(&base64_encode(&bad), time).to_string(),
    )
    .unwrap();
    fails(
        &mut verify("bad-set.json"),
        1,
        "check signed-entry-timestamp failed",
    );
    std::fs::write(d.join("moved.json"), old(set, time + 1).to_string()).unwrap();
    fails(
        &mut verify("moved.json"),
        1,
        "check signed-entry-timestamp failed",
    );
}

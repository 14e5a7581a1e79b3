//! `sign-blob` / `verify-blob` through the real binary, with openssl as the independent peer.

mod common;

use common::*;
use std::io::Write;
use std::process::Stdio;

#[test]
fn round_trip_every_algorithm_and_openssl_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"release artefact\n").unwrap();
    std::fs::write(d.join("empty"), b"").unwrap();
    for alg in [
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "ed25519",
        "rsa-3072",
    ] {
        generate(d, alg, alg);
        for file in ["f", "empty"] {
            let sig = ok(sigil(d).args(["sign-blob", "--key", &format!("{alg}.key"), file]));
            std::fs::write(d.join("s.sig"), &sig).unwrap();
            let err = stderr(&run(sigil(d).args([
                "verify-blob",
                "--private-infrastructure",
                "--key",
                &format!("{alg}.pub"),
                "--signature",
                "s.sig",
                file,
            ])));
            assert!(err.contains("Verified OK"), "{alg} {file}: {err}");
            if alg != "ed25519" {
                std::fs::write(d.join("s.der"), base64_decode(sig.trim())).unwrap();
                let out = ok(openssl(d).args([
                    "dgst",
                    openssl_digest(alg),
                    "-verify",
                    &format!("{alg}.pub"),
                    "-signature",
                    "s.der",
                    file,
                ]));
                assert!(
                    out.contains("Verified OK"),
                    "openssl on {alg} {file}: {out}"
                );
            }
        }
        // The bundle path.
        ok(sigil(d).args([
            "sign-blob",
            "--key",
            &format!("{alg}.key"),
            "--bundle",
            "b.json",
            "--output-signature",
            "o.sig",
            "f",
        ]));
        ok(sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            &format!("{alg}.pub"),
            "--bundle",
            "b.json",
            "f",
        ]));
        ok(sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            &format!("{alg}.pub"),
            "--signature",
            "o.sig",
            "f",
        ]));
    }
}

#[test]
fn bundle_matches_the_sigstore_v03_shape() {
    let dir = with_key();
    let d = dir.path();
    std::fs::write(d.join("f"), b"abc").unwrap();
    let sig = ok(sigil(d).args(["sign-blob", "--key", "k.key", "--bundle", "b.json", "f"]));
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("b.json")).unwrap()).unwrap();
    assert_eq!(
        b["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    // hint = base64(sha256(SPKI DER)), computed here with openssl.
    ok(openssl(d).args([
        "pkey", "-pubin", "-in", "k.pub", "-outform", "DER", "-out", "k.der",
    ]));
    let h = ok(openssl(d).args(["dgst", "-sha256", "-binary", "-out", "h.bin", "k.der"]));
    let _ = h;
    let hint = base64_encode(&std::fs::read(d.join("h.bin")).unwrap());
    assert_eq!(
        b["verificationMaterial"]["publicKey"]["hint"],
        hint.as_str()
    );
    let ms = &b["messageSignature"];
    assert_eq!(ms["messageDigest"]["algorithm"], "SHA2_256");
    // SHA-256("abc")
    assert_eq!(
        base64_decode(ms["messageDigest"]["digest"].as_str().unwrap()),
        base64_decode("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    );
    assert_eq!(ms["signature"].as_str().unwrap(), sig.trim());
}

#[test]
fn stdin_is_streamed() {
    let dir = with_key();
    let d = dir.path();
    let content = vec![7u8; 3 * 1024 * 1024 + 5];
    std::fs::write(d.join("f"), &content).unwrap();
    let mut child = sigil(d)
        .args(["sign-blob", "--key", "k.key", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&content).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    std::fs::write(d.join("s.sig"), &out.stdout).unwrap();
    ok(sigil(d).args([
        "verify-blob",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--signature",
        "s.sig",
        "f",
    ]));
}

#[test]
fn negative_cases_name_what_failed() {
    let dir = with_key();
    let d = dir.path();
    generate(d, "ecdsa-p256", "other");
    std::fs::write(d.join("f"), b"the real file").unwrap();
    std::fs::write(d.join("g"), b"another file").unwrap();
    let sig = ok(sigil(d).args(["sign-blob", "--key", "k.key", "--bundle", "b.json", "f"]));
    std::fs::write(d.join("f.sig"), &sig).unwrap();

    // Signature of another file: exit 1, naming the mismatch.
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "f.sig",
            "g",
        ]),
        1,
        "the signature does not match",
    );
    // Wrong key.
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "other.pub",
            "--signature",
            "f.sig",
            "f",
        ]),
        1,
        "the signature does not match",
    );
    // Bundle for another file: the digest check names both digests.
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--bundle",
            "b.json",
            "g",
        ]),
        1,
        "the bundle was made for other content",
    );
    // Tampered signature bytes (still base64).
    let mut raw = base64_decode(sig.trim());
    let last = raw.len() - 1;
    raw[last] ^= 1;
    std::fs::write(d.join("t.sig"), base64_encode(&raw)).unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "t.sig",
            "f",
        ]),
        1,
        "does not match",
    );
    // Signature not base64.
    std::fs::write(d.join("bad.sig"), b"this is not base64!").unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "bad.sig",
            "f",
        ]),
        3,
        "the signature is not base64",
    );
    // Raw DER instead of base64: the hint says so.
    std::fs::write(d.join("der.sig"), base64_decode(sig.trim())).unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "der.sig",
            "f",
        ]),
        3,
        "looks like a raw DER signature",
    );
    // Empty signature file.
    std::fs::write(d.join("empty.sig"), b"\n").unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "empty.sig",
            "f",
        ]),
        3,
        "the signature is empty",
    );
    // Missing file, missing signature, a directory given as the file.
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "f.sig",
            "nope",
        ]),
        3,
        "cannot open nope",
    );
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "nope.sig",
            "f",
        ]),
        3,
        "cannot read the signature",
    );
    std::fs::create_dir(d.join("adir")).unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "f.sig",
            "adir",
        ]),
        3,
        "adir is a directory, not a file",
    );
    fails(
        sigil(d).args(["sign-blob", "--key", "k.key", "adir"]),
        3,
        "adir is a directory, not a file",
    );
    fails(
        sigil(d).args(["sign-blob", "--key", "k.key", "nope"]),
        3,
        "cannot open nope",
    );
    // Private key given where the public key is needed.
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.key",
            "--signature",
            "f.sig",
            "f",
        ]),
        3,
        "this is a private key",
    );
    // Malformed and unknown bundles.
    std::fs::write(d.join("m.json"), b"{\"mediaType\": ").unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--bundle",
            "m.json",
            "f",
        ]),
        3,
        "malformed bundle JSON",
    );
    let b = std::fs::read_to_string(d.join("b.json")).unwrap();
    std::fs::write(
        d.join("v9.json"),
        b.replace("bundle.v0.3+json", "bundle.v9+json"),
    )
    .unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--bundle",
            "v9.json",
            "f",
        ]),
        3,
        "unsupported bundle media type",
    );
}

#[test]
fn failed_commands_leave_no_partial_output() {
    let dir = with_key();
    let d = dir.path();
    // Wrong password: neither output appears.
    fails(
        sigil(d).env("COSIGN_PASSWORD", "wrong").args([
            "sign-blob",
            "--key",
            "k.key",
            "--output-signature",
            "s.sig",
            "--bundle",
            "b.json",
            "f",
        ]),
        3,
        "wrong password",
    );
    assert!(!d.join("s.sig").exists() && !d.join("b.json").exists());
    // The bundle cannot be written: the signature file is not written either.
    fails(
        sigil(d).args([
            "sign-blob",
            "--key",
            "k.key",
            "--output-signature",
            "s.sig",
            "--bundle",
            "no/such/dir/b.json",
            "f",
        ]),
        3,
        "cannot create a temporary file",
    );
    assert!(!d.join("s.sig").exists());
    // An existing signature file is replaced only on success.
    std::fs::write(d.join("s.sig"), b"previous").unwrap();
    fails(
        sigil(d).args([
            "sign-blob",
            "--key",
            "k.key",
            "--output-signature",
            "s.sig",
            "missing-input",
        ]),
        3,
        "cannot open",
    );
    assert_eq!(std::fs::read(d.join("s.sig")).unwrap(), b"previous");
}

#[test]
fn reads_cosigns_old_bundle_format() {
    let dir = with_key();
    let d = dir.path();
    std::fs::write(d.join("f"), b"old bundle").unwrap();
    let sig = ok(sigil(d).args(["sign-blob", "--key", "k.key", "f"]));
    let pem = std::fs::read(d.join("k.pub")).unwrap();
    let old = serde_json::json!({"base64Signature": sig.trim(), "cert": base64_encode(&pem)});
    std::fs::write(d.join("old.json"), old.to_string()).unwrap();
    ok(sigil(d).args([
        "verify-blob",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--bundle",
        "old.json",
        "f",
    ]));
    std::fs::write(d.join("g"), b"other").unwrap();
    fails(
        sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--bundle",
            "old.json",
            "g",
        ]),
        1,
        "does not match",
    );
}

#[test]
fn json_output_lists_the_checks() {
    let dir = with_key();
    let d = dir.path();
    std::fs::write(d.join("g"), b"y").unwrap();
    ok(sigil(d).args(["sign-blob", "--key", "k.key", "--bundle", "b.json", "f"]));
    let out = ok(sigil(d).args([
        "verify-blob",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--bundle",
        "b.json",
        "--output",
        "json",
        "f",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // One report shape for every verification (the engine's): each check with its outcome;
    // the waived log reads as skipped, not as failed.
    assert_eq!(v["verified"], true);
    assert_eq!(v["checks"][0]["name"], "bundle");
    let check = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} check in {v}"))
    };
    assert_eq!(check("signature")["outcome"], "passed");
    assert_eq!(check("tlog-entry")["outcome"], "skipped");
    let o = run(sigil(d).args([
        "verify-blob",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "--bundle",
        "b.json",
        "--output",
        "json",
        "g",
    ]));
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["verified"], false);
    let artifact = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "artifact")
        .cloned()
        .unwrap();
    assert_eq!(artifact["outcome"], "failed");
    assert!(
        artifact["detail"]
            .as_str()
            .unwrap()
            .contains("other content")
    );
}

/// A FIFO given as the artefact, the signature or the key is refused at once ("not a regular
/// file", exit 3) instead of blocking in `open()` until someone writes to it.
#[test]
fn fifos_are_refused_without_blocking() {
    let dir = with_key();
    let d = dir.path();
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--output-signature",
        "f.sig",
        "f",
    ]));
    let st = std::process::Command::new("mkfifo")
        .arg(d.join("pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    let cases: [&[&str]; 4] = [
        &["sign-blob", "--key", "k.key", "pipe"],
        &["sign-blob", "--key", "pipe", "f"],
        &[
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "k.pub",
            "--signature",
            "pipe",
            "f",
        ],
        &[
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "pipe",
            "--signature",
            "f.sig",
            "f",
        ],
    ];
    for args in cases {
        let mut child = sigil(d)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > std::time::Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{args:?} blocked on the FIFO");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
}

/// What a new user met: exit codes as the README's table says, messages said once and right.
#[test]
fn messages_and_exit_codes_a_new_user_meets() {
    let dir = with_key();
    let d = dir.path();
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--output-signature",
        "f.sig",
        "f",
    ]));
    let verify = |sig: &str, key: &str| {
        let mut c = sigil(d);
        c.args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            key,
            "--signature",
            sig,
            "f",
        ]);
        c
    };
    // A missing key file: the OS error once.
    let err = fails(&mut verify("f.sig", "missing.pub"), 3, "missing.pub");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    // Base64 that is not a DER signature is malformed input (3), not a failed verification.
    std::fs::write(d.join("nd.sig"), "AAAA\n").unwrap();
    fails(
        &mut verify("nd.sig", "k.pub"),
        3,
        "not an ASN.1 DER ECDSA signature",
    );
    // --signature takes the signature text itself, as cosign does.
    let text = std::fs::read_to_string(d.join("f.sig")).unwrap();
    ok(&mut verify(text.trim(), "k.pub"));
    // A mismatch is said once.
    std::fs::write(d.join("f"), b"changed").unwrap();
    let err = fails(
        &mut verify("f.sig", "k.pub"),
        1,
        "the signature does not match",
    );
    assert_eq!(err.matches("does not match").count(), 1, "{err}");
    // Garbage where a private key should be: not "expected a PUBLIC KEY", and said once.
    std::fs::write(d.join("bad.key"), "garbage\n").unwrap();
    let err = fails(
        sigil(d).args(["sign-blob", "--key", "bad.key", "f"]),
        3,
        "expected -----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----",
    );
    assert!(!err.contains("PUBLIC KEY"), "{err}");
    assert_eq!(err.matches("no PEM block found").count(), 1, "{err}");
    // An encrypted key of another kind is not called unencrypted.
    std::fs::write(
        d.join("foo.key"),
        "-----BEGIN ENCRYPTED FOO PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED FOO PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = fails(
        sigil(d).args(["sign-blob", "--key", "foo.key", "f"]),
        3,
        "an encrypted key in a format Sigil does not read",
    );
    assert!(!err.contains("unencrypted"), "{err}");
    // `log search` without criteria is a usage error (2), before any socket.
    fails(
        sigil(d).args(["log", "search", "--rekor-url", "http://127.0.0.1:9"]),
        2,
        "required arguments were not provided",
    );
    // The top-level help lists every exit code.
    let help = ok(sigil(d).arg("--help"));
    for code in [
        "4 partial",
        "10 no signatures",
        "11 no such image",
        "12 no matching",
        "14 registry unreachable",
    ] {
        assert!(help.contains(code), "help lacks {code:?}:\n{help}");
    }
}

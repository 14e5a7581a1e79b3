//! The Sigstore conformance suite's bundle-verification cases (data in tests/data/conformance),
//! each run twice through the real `sigil verify-bundle` command line exactly as the suite calls
//! clients: once with the artefact file, once with `sha256:<hex>`. 140 runs.
//!
//! A case whose folder ends in `_fail` must exit non-zero, and for the reason its README gives:
//! the table below maps each to the check (or input error) Sigil must report.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Folder -> text Sigil's error must contain. Descriptions are ours.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    // Empty x509CertificateChain.
    (
        "bundle-empty-certificate-chain_fail",
        "check bundle failed: the bundle's x509CertificateChain has no certificates",
    ),
    // Signed on staging: its log is unknown to the production root.
    (
        "bundle-from-wrong-instance_fail",
        "check tlog-entry failed: the entry comes from a log the trust root does not know",
    ),
    // A signature field that is not base64.
    (
        "bundle-invalid-base64-signature_fail",
        "malformed bundle JSON: invalid base64",
    ),
    // Truncated JSON.
    (
        "bundle-malformed-json_fail",
        "malformed bundle JSON: EOF while parsing",
    ),
    (
        "bundle-negative-log-index_fail",
        "check bundle failed: a log entry has a negative logIndex (-1)",
    ),
    (
        "bundle-unknown-version_fail",
        "unsupported bundle media type",
    ),
    (
        "bundle-with-root-cert_fail",
        "check bundle failed: the bundle's certificate chain contains a root certificate",
    ),
    // Checkpoint signed under another key hint than the log's.
    (
        "checkpoint-bad-keyhint_fail",
        "check checkpoint failed: the checkpoint has no signature by a trusted log key",
    ),
    // A valid checkpoint for a different tree.
    (
        "checkpoint-wrong-roothash_fail",
        "check checkpoint failed: the checkpoint (size",
    ),
    (
        "dsse-invalid-sig_fail",
        "check signature failed: the DSSE envelope signature does not verify",
    ),
    (
        "dsse-mismatch-envelope_fail",
        "check tlog-entry failed: the log entry records a different DSSE payload",
    ),
    // Same payload, another valid signature than the logged one.
    (
        "dsse-mismatch-sig_fail",
        "check tlog-entry failed: the log entry does not record this envelope's signature",
    ),
    (
        "inclusion-proof-corrupted-hash_fail",
        "check inclusion-proof failed: the proof leads to root",
    ),
    // The key in the entry was altered.
    (
        "incorrect-public-key_fail",
        "check tlog-entry failed: the log entry records a different signing certificate or key",
    ),
    // Integrated time after the certificate expired.
    (
        "integrated-time-in-future_fail",
        "check certificate-validity failed: the signed entry timestamp time",
    ),
    // The certificate's window does not contain the signing time.
    (
        "intoto-expired-certificate_fail",
        "check certificate-validity failed",
    ),
    // The logged envelope is not this one (its signature field differs).
    ("intoto-log-entry-mismatch_fail", "check tlog-entry failed"),
    (
        "intoto-missing-inclusion-proof_fail",
        "check inclusion-proof failed: the log entry has no inclusion proof",
    ),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "check certificate-validity failed: the signed entry timestamp time",
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "check certificate-validity failed: the RFC 3161 timestamp time",
    ),
    (
        "invalid-checkpoint-signature_fail",
        "check checkpoint failed: the checkpoint signature by rekor.sigstore.dev",
    ),
    // The trust root's CT log key is not the one that issued the SCT.
    (
        "invalid-ct-key_fail",
        "check sct failed: no embedded SCT verifies with a trusted CT log",
    ),
    (
        "invalid-inclusion-proof_fail",
        "check inclusion-proof failed: the proof leads to root",
    ),
    (
        "managed-key-no-key_fail",
        "check material failed: the bundle is signed with a key, but no key was given",
    ),
    // The "wrong key" is non-canonical base64 that decodes to no valid key: refused on load.
    (
        "managed-key-wrong-key_fail",
        "key.pub: PEM block \"PUBLIC KEY\" body is not valid base64",
    ),
    (
        "message-digest-mismatch_fail",
        "check artifact failed: the bundle was made for other content: its messageDigest is",
    ),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        "check checkpoint failed: malformed signed note: no signature lines",
    ),
    (
        "rekor2-checkpoint-missing-origin_fail",
        "check checkpoint failed: malformed checkpoint",
    ),
    (
        "rekor2-checkpoint-missing-root-hash_fail",
        "check checkpoint failed: malformed checkpoint: missing root hash",
    ),
    (
        "rekor2-checkpoint-missing-size_fail",
        "check checkpoint failed: malformed checkpoint",
    ),
    (
        "rekor2-checkpoint-no-matching-signature_fail",
        "check checkpoint failed: the checkpoint has no signature by a trusted log key",
    ),
    (
        "rekor2-dsse-invalid-sig_fail",
        "check signature failed: the DSSE envelope signature does not verify",
    ),
    (
        "rekor2-dsse-mismatch-envelope_fail",
        "check tlog-entry failed: the log entry records a different DSSE envelope",
    ),
    (
        "rekor2-dsse-mismatch-sig_fail",
        "check tlog-entry failed: the log entry records a different signature than the DSSE envelope's",
    ),
    (
        "rekor2-no-inclusion-proof_fail",
        "check inclusion-proof failed: the log entry has no inclusion proof",
    ),
    (
        "rekor2-no-timestamp_fail",
        "check verified-time failed: no trusted time for the signature",
    ),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "check timestamp failed: the timestamp was not issued by a trusted timestamp authority: authority 0 is not valid at",
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        "check timestamp failed: the timestamp was not issued by a trusted timestamp authority",
    ),
    (
        "rekor2-timestamp-payload-mismatch_fail",
        "check timestamp failed: the timestamp is for other data",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "check timestamp failed: the timestamp was not issued by a trusted timestamp authority",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "check timestamp failed: the timestamp's signature does not verify with its signing certificate",
    ),
    (
        "rekor2-timestamp-with-incorrect-time_fail",
        "check certificate-validity failed: the RFC 3161 timestamp time",
    ),
    (
        "set-invalid-signature_fail",
        "check signed-entry-timestamp failed",
    ),
    (
        "signature-mismatch_fail",
        "check signature failed: the signature does not match",
    ),
    (
        "trust-root-tlog-missing-validity-start_fail",
        "validFor has no start",
    ),
    (
        "wrong-hashedrekord-artifact_fail",
        "check tlog-entry failed: the log entry is for other content",
    ),
    (
        "wrong-hashedrekord-cert-and-sig_fail",
        "check tlog-entry failed: the log entry records a different signature",
    ),
    (
        "wrong-hashedrekord-entry_fail",
        "check tlog-entry failed: the log entry is for other content",
    ),
    (
        "wrong-material_fail",
        "check artifact failed: the bundle was made for other content: its messageDigest is",
    ),
];

fn sha256_hex(path: &Path) -> String {
    let out = ok(Command::new("sha256sum").arg(path));
    out[..64].to_owned()
}

/// The suite's command line for one case and artefact argument.
fn command(case: &Path, artifact_arg: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sigil"));
    c.arg("verify-bundle")
        .arg("--bundle")
        .arg(case.join("bundle.sigstore.json"));
    if case.join("key.pub").exists() {
        c.arg("--key").arg(case.join("key.pub"));
    } else {
        let read = |f: &str, d: &str| {
            std::fs::read_to_string(case.join(f))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| d.to_owned())
        };
        c.args([
            "--certificate-identity",
            &read("identity", DEFAULT_IDENTITY),
        ]);
        c.args(["--certificate-oidc-issuer", &read("issuer", DEFAULT_ISSUER)]);
    }
    if case.join("trusted_root.json").exists() {
        c.arg("--trusted-root").arg(case.join("trusted_root.json"));
    }
    c.arg(artifact_arg);
    c
}

#[test]
fn every_conformance_case_twice() {
    let root = data("../../../../tests/data/conformance/bundle-verify");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70, "expected the 70 conformance folders");
    let mut runs = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            root.join("../a.txt")
        };
        let digest = format!("sha256:{}", sha256_hex(&artifact));
        for arg in [artifact.to_string_lossy().into_owned(), digest] {
            runs += 1;
            let o = run(&mut command(case, &arg));
            let err = stderr(&o);
            let how = if arg.starts_with("sha256:") {
                "digest"
            } else {
                "file"
            };
            match EXPECTED_FAILURES.iter().find(|(n, _)| *n == name) {
                Some((_, needle)) => {
                    if o.status.success() {
                        failures.push(format!("{name} [{how}]: verified, but must fail"));
                    } else if !err.contains(needle) {
                        failures.push(format!(
                            "{name} [{how}]: failed for another reason than {needle:?}: {err}"
                        ));
                    }
                }
                None => {
                    assert!(
                        !name.ends_with("_fail"),
                        "{name} is missing from the expected-failure table"
                    );
                    if !o.status.success() {
                        failures.push(format!("{name} [{how}]: must verify: {err}"));
                    }
                }
            }
        }
    }
    assert_eq!(runs, 140);
    assert!(
        failures.is_empty(),
        "{} of 140 runs wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        EXPECTED_FAILURES.len(),
        cases
            .iter()
            .filter(|c| c.to_string_lossy().ends_with("_fail"))
            .count()
    );
}

#[test]
fn json_output_names_every_check() {
    let root = data("../../../../tests/data/conformance/bundle-verify");
    let case = root.join("happy-path-v0.3");
    let o =
        run(command(&case, &root.join("../a.txt").to_string_lossy()).args(["--output", "json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["verified"], true);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in [
        "bundle",
        "material",
        "artifact",
        "signature",
        "tlog-entry",
        "inclusion-proof",
        "checkpoint",
        "signed-entry-timestamp",
        "verified-time",
        "certificate-validity",
        "certificate-chain",
        "certificate-usage",
        "sct",
        "identity",
    ] {
        assert!(names.contains(&n), "missing {n} in {names:?}");
    }
    // A wrong identity fails at the identity check, with both identities named.
    let c = command(&case, &root.join("../a.txt").to_string_lossy());
    let mut c2 = Command::new(c.get_program());
    c2.args(c.get_args().map(|a| {
        if a == DEFAULT_IDENTITY {
            "https://example.com/someone-else".as_ref()
        } else {
            a
        }
    }));
    let err = stderr(&run(&mut c2));
    assert!(
        err.contains("check identity failed: the certificate's identity"),
        "{err}"
    );
}

#[test]
fn cosign_attestation_bundle_verifies_with_its_root_only() {
    let d = data("../../../../tests/data");
    let bundle = d.join("oci-attestation.sigstore.json");
    let subject = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
    let base = |root: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sigil"));
        c.arg("verify-bundle").arg("--bundle").arg(&bundle).args([
            "--certificate-identity",
            "cody@soyland.com",
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
        ]);
        if root == "staging" {
            c.arg("--staging");
        } else {
            c.arg("--trusted-root").arg(d.join(root));
        }
        c.arg(subject);
        c
    };
    let o = run(&mut base("trusted_root_pgi.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&run(&mut base("staging")));
    assert!(
        err.contains(
            "check tlog-entry failed: the entry comes from a log the trust root does not know"
        ),
        "{err}"
    );
}

/// Cases from the conformance rerun that this suite's folders do not hold, made from the v0.3
/// happy path: each is refused with a sentence about the field and its value.
#[test]
fn rerun_cases_are_refused_with_the_field_named() {
    let root = data("../../../../tests/data/conformance/bundle-verify");
    let case = root.join("happy-path-v0.3");
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let check = |mutate: &dyn Fn(&mut serde_json::Value) -> String, needle: &str| {
        let mut b = original.clone();
        let raw = mutate(&mut b);
        let text = if raw.is_empty() { b.to_string() } else { raw };
        let path = dir.path().join("b.json");
        std::fs::write(&path, text).unwrap();
        let c = command(&case, root.join("../a.txt").to_str().unwrap());
        let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
        let mut c2 = Command::new(c.get_program());
        for (i, a) in args.iter().enumerate() {
            if i > 0 && args[i - 1] == "--bundle" {
                c2.arg(&path);
            } else {
                c2.arg(a);
            }
        }
        let o = run(&mut c2);
        let err = stderr(&o);
        assert!(!o.status.success(), "verified: {needle}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert!(!err.contains("untagged enum"), "{err}");
    };
    // v0.3 with x509CertificateChain instead of certificate (both peers refuse it).
    check(
        &|b| {
            let vm = &mut b["verificationMaterial"];
            let cert = vm["certificate"].clone();
            vm.as_object_mut().unwrap().remove("certificate");
            vm["x509CertificateChain"] = serde_json::json!({"certificates": [cert]});
            String::new()
        },
        "x509CertificateChain is not allowed from v0.3",
    );
    // A negative inclusionProof.logIndex names that value, not the entry's index.
    check(
        &|b| {
            b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["logIndex"] =
                serde_json::json!("-5");
            String::new()
        },
        "inclusionProof has a negative logIndex (-5)",
    );
    // An out-of-range JSON number: a sentence, not serde's untagged-enum message.
    check(
        &|b| {
            b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = serde_json::json!(0);
            b.to_string()
                .replacen("\"logIndex\":0", "\"logIndex\":99999999999999999999", 1)
        },
        "out of range",
    );
}

//! Differential test: Sigil's verdict on every conformance case against the verdict of the
//! `sigstore-verify` crate (sigstore-rust, a verifier that passes the conformance suite), used
//! here as an independent oracle only.

use std::path::{Path, PathBuf};

use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use sigil_formats::bundle::{AnyBundle, parse_any};
use sigil_formats::trust_root::TrustedRoot;
use sigil_verify::{Artifact, Matcher, Options, Requirement, TrustMaterial, verify_bundle};

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

struct Case {
    name: String,
    bundle: String,
    root: String,
    artifact: Vec<u8>,
    key_pem: Option<String>,
    identity: String,
    issuer: String,
}

fn cases() -> Vec<Case> {
    let dir = data().join("conformance/bundle-verify");
    let default_root =
        std::fs::read_to_string(data().join("trust/public-good/trusted_root.json")).unwrap();
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    paths.sort();
    for p in paths {
        let read = |f: &str| std::fs::read_to_string(p.join(f)).ok();
        out.push(Case {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            bundle: read("bundle.sigstore.json").unwrap(),
            root: read("trusted_root.json").unwrap_or_else(|| default_root.clone()),
            artifact: std::fs::read(p.join("artifact"))
                .unwrap_or_else(|_| std::fs::read(dir.join("../a.txt")).unwrap()),
            key_pem: read("key.pub"),
            identity: read("identity")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|| ID.into()),
            issuer: read("issuer")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|| ISSUER.into()),
        });
    }
    out
}

fn ours(c: &Case) -> bool {
    let Ok(root) = TrustedRoot::parse(c.root.as_bytes()) else {
        return false;
    };
    let Ok(AnyBundle::Sigstore(b)) = parse_any(c.bundle.as_bytes()) else {
        return false;
    };
    let req = match &c.key_pem {
        Some(pem) => match PublicKey::from_pem(pem.as_bytes()) {
            Ok(k) => Requirement::Key(k),
            Err(_) => return false,
        },
        None => Requirement::Identity {
            identity: Matcher::Exact(c.identity.clone()),
            issuer: Matcher::Exact(c.issuer.clone()),
        },
    };
    let artifact = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, &c.artifact)]);
    verify_bundle(
        &b,
        &artifact,
        &TrustMaterial::new(root),
        &req,
        &Options::default(),
    )
    .verified()
}

fn theirs(c: &Case) -> bool {
    use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, verify};
    let Ok(root) = sigstore_trust_root::TrustedRoot::from_json(&c.root) else {
        return false;
    };
    let Ok(bundle) = sigstore_types::Bundle::from_json(&c.bundle) else {
        return false;
    };
    match &c.key_pem {
        Some(pem) => match sigstore_types::DerPublicKey::from_pem(pem) {
            Ok(k) => verify(
                &c.artifact,
                &bundle,
                &PublicKeyVerificationPolicy::new(k),
                &root,
            )
            .is_ok(),
            Err(_) => false,
        },
        None => verify(
            &c.artifact,
            &bundle,
            &VerificationPolicy::new(c.identity.as_str(), c.issuer.as_str()),
            &root,
        )
        .is_ok(),
    }
}

#[test]
fn verdicts_agree_with_sigstore_rust() {
    let cases = cases();
    assert_eq!(cases.len(), 70);
    let mut disagreements = Vec::new();
    for c in &cases {
        let (a, b) = (ours(c), theirs(c));
        if a != b {
            disagreements.push(format!("{}: sigil {a}, sigstore-verify {b}", c.name));
        }
        // Both must also match the case's own expectation.
        assert_eq!(a, !c.name.ends_with("_fail"), "sigil on {}", c.name);
    }
    assert!(
        disagreements.is_empty(),
        "verdicts differ:\n{}",
        disagreements.join("\n")
    );
}

/// A Rekor v2 entry has no SET; its log key's window is checked against the RFC 3161 time. The
/// rekor2 happy path, with the log's window ended before its timestamp, must be refused.
#[test]
fn rekor_v2_log_window_is_checked_against_the_timestamp() {
    let case = data().join("conformance/bundle-verify/rekor2-happy-path");
    let bundle = std::fs::read_to_string(case.join("bundle.sigstore.json")).unwrap();
    let mut root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("trusted_root.json")).unwrap()).unwrap();
    let artifact = Artifact::from_digests(vec![Digest::of(
        HashAlgorithm::Sha256,
        &std::fs::read(data().join("conformance/a.txt")).unwrap(),
    )]);
    let req = Requirement::Identity {
        identity: Matcher::Exact(ID.into()),
        issuer: Matcher::Exact(ISSUER.into()),
    };
    let Ok(AnyBundle::Sigstore(b)) = parse_any(bundle.as_bytes()) else {
        panic!()
    };
    let verify = |root: &serde_json::Value| {
        verify_bundle(
            &b,
            &artifact,
            &TrustMaterial::new(TrustedRoot::parse(root.to_string().as_bytes()).unwrap()),
            &req,
            &Options::default(),
        )
    };
    assert!(verify(&root).verified());
    for t in root["tlogs"].as_array_mut().unwrap() {
        if t["baseUrl"] == "https://log2025-alpha1.rekor.sigstage.dev" {
            t["publicKey"]["validFor"]["end"] = "2025-06-01T00:00:00Z".into();
        }
    }
    let r = verify(&root);
    let (check, why) = r.first_failure().expect("must fail");
    assert_eq!(check, sigil_verify::CheckName::TlogEntry);
    assert!(
        why.contains("was not trusted at the timestamp time"),
        "{why}"
    );
}

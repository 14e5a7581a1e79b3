//! Every failed check carries a typed reason: on Sigstore conformance data (written by nobody
//! here), the reason a policy would match on, without parsing the message.

use std::path::{Path, PathBuf};

use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{AnyBundle, parse_any};
use sigil_formats::trust_root::TrustedRoot;
use sigil_verify::{
    Artifact, Matcher, Options, Reason, Report, Requirement, TrustMaterial, verify_bundle,
};

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/bundle-verify")
}

fn run(case: &str, identity: &str, issuer: &str, options: &Options) -> Report {
    let d = dir().join(case);
    let bundle = std::fs::read(d.join("bundle.sigstore.json")).unwrap();
    let root = std::fs::read(d.join("trusted_root.json")).unwrap_or_else(|_| {
        std::fs::read(dir().join("../../trust/public-good/trusted_root.json")).unwrap()
    });
    let artifact = std::fs::read(d.join("artifact"))
        .unwrap_or_else(|_| std::fs::read(dir().join("a.txt")).unwrap());
    let Ok(AnyBundle::Sigstore(b)) = parse_any(&bundle) else {
        panic!("{case}: not a bundle")
    };
    let artifact = Artifact::from_digests(
        [
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .map(|h| Digest::of(h, &artifact))
        .collect(),
    );
    verify_bundle(
        &b,
        &artifact,
        &TrustMaterial::new(TrustedRoot::parse(&root).unwrap()),
        &Requirement::Identity {
            identity: Matcher::Exact(identity.into()),
            issuer: Matcher::Exact(issuer.into()),
        },
        options,
    )
}

#[test]
fn identity_and_issuer_mismatches_name_what_was_wanted_and_found() {
    let r = run(
        "happy-path-v0.3",
        "https://example.com/someone-else",
        ISSUER,
        &Options::default(),
    );
    match r.first_reason() {
        Some(Reason::IdentityMismatch { wanted, got }) => {
            assert_eq!(wanted, "\"https://example.com/someone-else\"");
            assert_eq!(got, &vec![ID.to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    let (_, message) = r.first_failure().unwrap();
    assert!(
        !message.contains("Some(") && !message.contains("UnixTime"),
        "{message}"
    );

    let r = run(
        "happy-path-v0.3",
        ID,
        "https://accounts.example.com",
        &Options::default(),
    );
    match r.first_reason() {
        Some(Reason::IssuerMismatch { got, .. }) => assert_eq!(got, ISSUER),
        other => panic!("{other:?}"),
    }
    assert!(
        run("happy-path-v0.3", ID, ISSUER, &Options::default())
            .first_reason()
            .is_none()
    );
}

#[test]
fn an_expired_certificate_says_when() {
    let r = run(
        "intoto-expired-certificate_fail",
        ID,
        ISSUER,
        &Options::default(),
    );
    match r.first_reason() {
        Some(Reason::CertificateExpired {
            at,
            not_before,
            not_after,
        }) => {
            // RFC 3339 in UTC sorts as time does.
            assert!(
                at < not_before || at > not_after,
                "{at} {not_before} {not_after}"
            );
            assert!(
                at.ends_with('Z') && not_after.ends_with('Z'),
                "{at} {not_after}"
            );
        }
        other => panic!("{other:?} {:?}", r.first_failure()),
    }
}

#[test]
fn each_failure_has_the_reason_of_its_check() {
    let required = Options {
        require_tlog: true,
        predicate_type: Some("https://example.com/another-predicate/v1".into()),
        ..Default::default()
    };
    let r = run("happy-path-intoto-in-dsse-v3", ID, ISSUER, &required);
    assert!(
        matches!(r.first_reason(), Some(Reason::PredicateTypeMismatch { wanted, .. }) if wanted == "https://example.com/another-predicate/v1"),
        "{:?}",
        r.first_failure()
    );
    for (case, want) in [
        (
            "set-invalid-signature_fail",
            "signed-entry-timestamp-invalid",
        ),
        ("invalid-inclusion-proof_fail", "inclusion-proof-invalid"),
        ("checkpoint-wrong-roothash_fail", "checkpoint-invalid"),
        ("signature-mismatch_fail", "signature-invalid"),
        ("message-digest-mismatch_fail", "digest-mismatch"),
    ] {
        let r = run(case, ID, ISSUER, &Options::default());
        let reason = r
            .first_reason()
            .unwrap_or_else(|| panic!("{case}: no reason"));
        let v = serde_json::to_value(reason).unwrap();
        let (check, _) = r.first_failure().unwrap();
        assert_eq!(v["kind"], want, "{case}: {check} {:?}", r.first_failure());
    }
}

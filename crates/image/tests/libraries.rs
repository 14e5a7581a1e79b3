//! The libraries alone, against the real registry: an image signed through `sigil-sign` is
//! verified through `sigil-image` (its verdict typed), and the example program built on them
//! does both halves of a release gate.

#[path = "../../../tests/support/registry.rs"]
mod registry;

#[path = "../examples/sign_and_verify.rs"]
mod example;

use sigil_crypto::{HashAlgorithm, KeyAlgorithm, SigningKey};
use sigil_image::{Failure, Policy, Reason, Wanted};
use sigil_oci::{ImageRef, Layer, Registry, RegistryOptions};

fn http() -> Registry {
    Registry::new(&RegistryOptions {
        allow_http: true,
        ..Default::default()
    })
    .unwrap()
}

fn push(reg: &Registry, image: &ImageRef, content: &[u8]) -> String {
    reg.push_image(
        image,
        &[Layer {
            data: content.to_vec(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        }],
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        "application/vnd.oci.image.config.v1+json",
    )
    .unwrap()
}

#[test]
fn sign_then_verify_through_the_libraries() {
    let r = registry::TestRegistry::start();
    let reg = http();
    let image = ImageRef::parse(&format!("{}/team/app:v1", r.addr)).unwrap();
    let digest = push(&reg, &image, b"layer");
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("app.tar.gz");
    std::fs::write(&blob, b"release contents").unwrap();

    // Not signed yet: the verdict says so, typed.
    let (verdict, _) = example::run(&reg, &key, &image.to_string(), &blob).unwrap();
    assert!(
        matches!(
            verdict.failure,
            Some(Failure::NoSignatures {
                what: "signatures",
                ..
            })
        ),
        "{:?}",
        verdict.failure
    );
    assert!(verdict.requests.total() > 0);

    let written = sigil_sign::image::sign(&reg, &image, &key, &Default::default(), None).unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].target.digest, digest);

    let (verdict, bundle) = example::run(&reg, &key, &image.to_string(), &blob).unwrap();
    assert!(verdict.verified(), "{:?}", verdict.failure);
    assert_eq!(verdict.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(verdict.manifests[0].1.verified.len(), 1);

    // The blob's bundle verifies with the engine (no log: private infrastructure).
    let sigil_formats::bundle::AnyBundle::Sigstore(b) =
        sigil_formats::bundle::parse_any(bundle.as_bytes()).unwrap()
    else {
        panic!("not a Sigstore bundle")
    };
    let artifact = sigil_verify::Artifact::from_digests(vec![sigil_crypto::Digest::of(
        HashAlgorithm::Sha256,
        b"release contents",
    )]);
    let report = sigil_verify::verify_bundle(
        &b,
        &artifact,
        &sigil_verify::TrustMaterial::public_good(),
        &sigil_verify::Requirement::Key(key.public_key().clone()),
        &sigil_verify::Options {
            require_tlog: false,
            predicate_type: None,
            ..Default::default()
        },
    );
    assert!(report.verified(), "{:?}", report.first_failure());

    // Another key's signature: found, not matching, with the reason.
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let verdict = sigil_image::verify_image(
        &reg,
        &Policy::new(other.public_key().clone(), Wanted::Signatures),
        &image.to_string(),
    );
    match &verdict.failure {
        Some(Failure::NoMatching { rejected, .. }) => {
            assert!(
                matches!(rejected[0].reason, Reason::SignatureInvalid { .. }),
                "{rejected:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A log is required and the signature carries none: the log at the URL is asked.
    let mut logged = Policy::new(key.public_key().clone(), Wanted::Signatures);
    logged.logs = Some(sigil_image::Logs {
        trust: sigil_verify::TrustMaterial::public_good(),
        rekor_url: "http://127.0.0.1:9".into(),
    });
    let verdict = sigil_image::verify_image(&reg, &logged, &image.to_string());
    match &verdict.failure {
        Some(Failure::NoMatching { rejected, .. }) => {
            assert!(
                matches!(rejected[0].reason, Reason::LogUnavailable { .. }),
                "{rejected:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

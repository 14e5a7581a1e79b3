//! A public-good Fulcio leaf against the public-good trust root: chain, SCT, identity; the trust
//! root's own CA links are taken as given for its own validations only, and never enter the
//! process-wide signature cache (a root with a forged intermediate cannot vouch for it to
//! another root's validations).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sigil_formats::time::Timestamp;
use sigil_formats::trust_root::TrustedRoot;
use sigil_pki::cert::{Certificate, San};
use sigil_pki::chain::{Purpose, authority_links, verify_chain};

/// The public-good root, the v0.3 happy-path bundle and its leaf certificate's DER.
fn public_good_case() -> (TrustedRoot, serde_json::Value, Vec<u8>) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let root = TrustedRoot::parse(
        &std::fs::read(data.join("trust/public-good/trusted_root.json")).unwrap(),
    )
    .unwrap();
    let b: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json"))
            .unwrap(),
    )
    .unwrap();
    let der = STANDARD
        .decode(
            b["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    (root, b, der)
}

#[test]
fn public_good_leaf() {
    let (root, b, der) = public_good_case();
    let t: i64 = b["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let leaf = Certificate::from_der(&der).unwrap();
    assert_eq!(
        leaf.fulcio_issuer().unwrap().as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert!(
        matches!(&leaf.subject_alternative_names().unwrap()[0], San::Uri(u) if u.starts_with("https://github.com/sigstore-conformance/"))
    );
    let ca = root
        .certificate_authorities
        .iter()
        .find(|c| c.validity.contains(Timestamp::from_unix(t)))
        .unwrap();

    let issuer = verify_chain(
        &leaf,
        &ca.chain,
        Timestamp::from_unix(t),
        Purpose::CodeSigning,
    )
    .unwrap();
    // The root's own links were taken as given, not verified and remembered process-wide.
    let links = authority_links(&ca.chain);
    assert!(!links.is_empty());
    for k in &links {
        assert!(!sigil_crypto::cache::contains(k));
    }
    sigil_pki::sct::verify_embedded_scts(&leaf, &issuer, &root.ctlogs).unwrap();

    // An hour after the leaf expired, the chain does not validate.
    let late = Timestamp::from_unix(leaf.not_after().seconds + 3600);
    let err = verify_chain(&leaf, &ca.chain, late, Purpose::CodeSigning)
        .unwrap_err()
        .to_string();
    // A sentence with the times, not webpki's Rust Debug text.
    assert!(err.contains("a certificate expired at 20"), "{err}");
    assert!(!err.contains("UnixTime") && !err.contains('{'), "{err}");
    // Not a time-stamping certificate.
    assert!(
        verify_chain(
            &leaf,
            &ca.chain,
            Timestamp::from_unix(t),
            Purpose::TimeStamping
        )
        .is_err()
    );
}

/// Two trust roots in one process: one pairs a forged intermediate (the real one with its
/// signature altered) with the real anchor. Validating against it must leave nothing behind that
/// a validation against another root could use: the forged link is never in the shared cache.
#[test]
fn a_forged_intermediate_in_one_root_does_not_poison_another() {
    let (root, _, der) = public_good_case();
    let leaf = Certificate::from_der(&der).unwrap();
    let t = Timestamp::from_unix(leaf.not_before().seconds + 60);
    let real = root
        .certificate_authorities
        .iter()
        .find(|c| c.validity.contains(t) && c.chain.len() >= 2)
        .unwrap()
        .chain
        .clone();
    // The intermediate with the last byte of its signature changed: same key and TBS, a link
    // to the anchor that does not verify.
    let mut forged = real.clone();
    let last = forged[0].len() - 1;
    forged[0][last] ^= 0x01;
    assert!(Certificate::from_der(&forged[0]).is_ok());
    // Tenant A's root asserts its own (forged) link: its own validation accepts it.
    verify_chain(&leaf, &forged, t, Purpose::CodeSigning).unwrap();
    for k in authority_links(&forged) {
        assert!(
            !sigil_crypto::cache::contains(&k),
            "an unverified link reached the shared cache"
        );
    }
    // And the real root still validates the leaf.
    verify_chain(&leaf, &real, t, Purpose::CodeSigning).unwrap();
}

//! A public-good Fulcio leaf against the public-good trust root: chain, SCT, identity; and the
//! trust root's own CA link is answered by the seeded cache instead of an EC operation.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sigil_formats::time::Timestamp;
use sigil_formats::trust_root::TrustedRoot;
use sigil_pki::cert::{Certificate, San};
use sigil_pki::chain::{Purpose, trust_authority_links, verify_chain};

#[test]
fn public_good_leaf() {
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

    trust_authority_links(&ca.chain);
    let before = sigil_crypto::cache::hits();
    let issuer = verify_chain(
        &leaf,
        &ca.chain,
        Timestamp::from_unix(t),
        Purpose::CodeSigning,
    )
    .unwrap();
    assert!(
        sigil_crypto::cache::hits() > before,
        "the seeded CA link was not used"
    );
    sigil_pki::sct::verify_embedded_scts(&leaf, &issuer, &root.ctlogs).unwrap();

    // An hour after the leaf expired, the chain does not validate.
    let late = Timestamp::from_unix(leaf.not_after().seconds + 3600);
    assert!(verify_chain(&leaf, &ca.chain, late, Purpose::CodeSigning).is_err());
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

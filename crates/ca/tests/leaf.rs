//! The opened CA issues Fulcio-profile leaves that chain to its root, carry the identity and
//! the issuer, and live ten minutes; a wrong password opens nothing.

use sigil_crypto::{KeyAlgorithm, SigningKey};
use sigil_formats::time::Timestamp;
use sigil_pki::cert::{Certificate, San};
use sigil_pki::chain::{Purpose, verify_chain};
use zeroize::Zeroizing;

#[test]
fn leaves_chain_to_the_root_with_the_fulcio_profile() {
    let dir = tempfile::tempdir().unwrap();
    let pw = Zeroizing::new("pw".to_owned());
    sigil_ca::init(dir.path(), KeyAlgorithm::EcdsaP256, "Example", &pw).unwrap();
    assert!(matches!(
        sigil_ca::Ca::open(dir.path(), &Zeroizing::new("wrong".to_owned())),
        Err(sigil_ca::CaError::Key(_))
    ));
    let ca = sigil_ca::Ca::open(dir.path(), &pw).unwrap();
    let subject = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = ca.leaf_template(
        subject.public_key(),
        "https://kubernetes.io/namespaces/ci/serviceaccounts/builder",
        "https://kubernetes.default.svc",
        now,
        vec![],
    );
    let der = sigil_pki::issue::issue(&t, &ca.issuer()).unwrap();
    let leaf = Certificate::from_der(&der).unwrap();
    assert_eq!(leaf.not_after().seconds - leaf.not_before().seconds, 600);
    assert_eq!(
        leaf.fulcio_issuer().unwrap().as_deref(),
        Some("https://kubernetes.default.svc")
    );
    assert_eq!(
        leaf.subject_alternative_names().unwrap(),
        [San::Uri(
            "https://kubernetes.io/namespaces/ci/serviceaccounts/builder".into()
        )]
    );
    let chain: Vec<Vec<u8>> = sigil_crypto::pem::decode_all(ca.chain_pem().as_bytes(), 4)
        .unwrap()
        .into_iter()
        .map(|b| b.contents)
        .collect();
    verify_chain(
        &leaf,
        &chain,
        Timestamp::from_unix(now + 30),
        Purpose::CodeSigning,
    )
    .unwrap();
    assert!(matches!(
        verify_chain(
            &leaf,
            &chain,
            Timestamp::from_unix(now + 601),
            Purpose::CodeSigning
        ),
        Err(sigil_pki::chain::ChainError::Invalid { .. })
    ));
}

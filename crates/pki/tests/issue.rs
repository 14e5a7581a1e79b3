//! Certificates issued by `sigil_pki::issue` parse back, chain with webpki for their purpose,
//! and carry exactly the extensions they were given (a Fulcio-profile leaf for every key type).

use sigil_crypto::{KeyAlgorithm, SigningKey};
use sigil_formats::time::Timestamp;
use sigil_pki::cert::{Certificate, San};
use sigil_pki::chain::{ChainError, Purpose, verify_chain};
use sigil_pki::issue::{
    self, EKU_CODE_SIGNING, EKU_TIME_STAMPING, Extension, Issuer, Template, attr, key_usage, name,
};

const NOW: i64 = 1_780_000_000;

fn ca_pair(alg: KeyAlgorithm) -> (SigningKey, Vec<u8>, Vec<u8>, SigningKey, Vec<u8>, Vec<u8>) {
    let root_key = SigningKey::generate(alg).unwrap();
    let root_name = name(&[
        (attr::ORGANIZATION, "sigil-test"),
        (attr::COMMON_NAME, "root"),
    ]);
    let root = issue::self_signed_ca(&root_key, &root_name, NOW - 3600, 3650, Some(1)).unwrap();
    let inter_key = SigningKey::generate(alg).unwrap();
    let inter_name = name(&[
        (attr::ORGANIZATION, "sigil-test"),
        (attr::COMMON_NAME, "intermediate"),
    ]);
    let inter = issue::issue(
        &Template {
            serial: issue::random_serial(),
            subject: inter_name.clone(),
            not_before: NOW - 3600,
            not_after: NOW + 365 * 86_400,
            public_key: inter_key.public_key().clone(),
            extensions: vec![
                Extension::basic_constraints(true, Some(0)),
                Extension::key_usage(key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN),
                Extension::extended_key_usage(&[EKU_CODE_SIGNING], false),
                Extension::subject_key_id(&issue::key_id(inter_key.public_key())),
                Extension::authority_key_id(&issue::key_id(root_key.public_key())),
            ],
        },
        &Issuer {
            name: &root_name,
            key: &root_key,
        },
    )
    .unwrap();
    (root_key, root_name, root, inter_key, inter_name, inter)
}

fn leaf_for(
    inter_key: &SigningKey,
    inter_name: &[u8],
    subject_key: &SigningKey,
    eku: &str,
) -> Vec<u8> {
    issue::issue(
        &Template {
            serial: issue::random_serial(),
            subject: name(&[]),
            not_before: NOW,
            not_after: NOW + 600,
            public_key: subject_key.public_key().clone(),
            extensions: vec![
                Extension::key_usage(key_usage::DIGITAL_SIGNATURE),
                Extension::extended_key_usage(&[eku], eku == EKU_TIME_STAMPING),
                Extension::subject_key_id(&issue::key_id(subject_key.public_key())),
                Extension::authority_key_id(&issue::key_id(inter_key.public_key())),
                Extension::subject_alt_name(
                    "https://kubernetes.io/namespaces/ci/serviceaccounts/builder",
                    true,
                ),
                Extension::raw("1.3.6.1.4.1.57264.1.1", b"https://issuer.example"),
                Extension::utf8("1.3.6.1.4.1.57264.1.8", "https://issuer.example"),
            ],
        },
        &Issuer {
            name: inter_name,
            key: inter_key,
        },
    )
    .unwrap()
}

#[test]
fn issued_chains_verify_for_every_key_type() {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::EcdsaP521,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::Rsa { bits: 2048 },
    ] {
        let (_rk, _rn, root, inter_key, inter_name, inter) = ca_pair(alg);
        let subject = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let der = leaf_for(&inter_key, &inter_name, &subject, EKU_CODE_SIGNING);
        let leaf = Certificate::from_der(&der).unwrap();
        assert_eq!(
            leaf.public_key().unwrap().to_pem(),
            subject.public_key().to_pem()
        );
        assert!(leaf.has_digital_signature_usage().unwrap());
        assert!(!leaf.is_ca().unwrap());
        assert_eq!(leaf.extended_key_usages().unwrap(), [EKU_CODE_SIGNING]);
        assert_eq!(
            leaf.subject_alternative_names().unwrap(),
            [San::Uri(
                "https://kubernetes.io/namespaces/ci/serviceaccounts/builder".into()
            )]
        );
        assert_eq!(
            leaf.fulcio_issuer().unwrap().as_deref(),
            Some("https://issuer.example")
        );
        let chain = vec![inter.clone(), root.clone()];
        verify_chain(
            &leaf,
            &chain,
            Timestamp::from_unix(NOW + 60),
            Purpose::CodeSigning,
        )
        .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        // Outside the leaf's ten minutes: refused.
        assert!(matches!(
            verify_chain(
                &leaf,
                &chain,
                Timestamp::from_unix(NOW + 601),
                Purpose::CodeSigning
            ),
            Err(ChainError::Invalid { .. })
        ));
        // A time-stamping leaf is not a code-signing one.
        let tsa = Certificate::from_der(&leaf_for(
            &inter_key,
            &inter_name,
            &subject,
            EKU_TIME_STAMPING,
        ))
        .unwrap();
        assert!(matches!(
            verify_chain(
                &tsa,
                &chain,
                Timestamp::from_unix(NOW + 60),
                Purpose::CodeSigning
            ),
            Err(ChainError::Invalid { reason, .. }) if reason.contains("does not include code signing")
        ));
    }
}

/// Another CA (its own intermediate and root) does not vouch for a leaf it did not issue.
#[test]
fn another_ca_does_not_vouch() {
    let (_rk, _rn, _root, inter_key, inter_name, _inter) = ca_pair(KeyAlgorithm::EcdsaP256);
    let (_, _, other_root, _, _, other_inter) = ca_pair(KeyAlgorithm::EcdsaP256);
    let subject = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let leaf = Certificate::from_der(&leaf_for(
        &inter_key,
        &inter_name,
        &subject,
        EKU_CODE_SIGNING,
    ))
    .unwrap();
    assert!(matches!(
        verify_chain(
            &leaf,
            &[other_inter, other_root],
            Timestamp::from_unix(NOW + 60),
            Purpose::CodeSigning
        ),
        Err(ChainError::Invalid { .. })
    ));
}

#[test]
fn templates_that_cannot_be_certificates_are_refused() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let n = name(&[(attr::COMMON_NAME, "x")]);
    let t = Template {
        serial: vec![],
        subject: n.clone(),
        not_before: NOW,
        not_after: NOW + 1,
        public_key: key.public_key().clone(),
        extensions: vec![],
    };
    let issuer = Issuer {
        name: &n,
        key: &key,
    };
    assert!(
        issue::issue(&t, &issuer)
            .unwrap_err()
            .to_string()
            .contains("serial")
    );
    let t = Template {
        serial: vec![1],
        not_after: NOW,
        ..t
    };
    assert!(
        issue::issue(&t, &issuer)
            .unwrap_err()
            .to_string()
            .contains("notAfter")
    );
}

/// A certificate issued with an embedded SCT: the precertificate carries the poison, the final
/// certificate one SCT that verifies against the CT log's key, and openssl reads both.
#[test]
fn certificates_carry_an_sct_from_the_log_their_precertificate_went_to() {
    let (_rk, _rn, root, inter_key, inter_name, inter) = ca_pair(KeyAlgorithm::EcdsaP384);
    let ct_key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let subject = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let template = Template {
        serial: issue::random_serial(),
        subject: name(&[]),
        not_before: NOW,
        not_after: NOW + 600,
        public_key: subject.public_key().clone(),
        extensions: vec![
            Extension::key_usage(key_usage::DIGITAL_SIGNATURE),
            Extension::extended_key_usage(&[EKU_CODE_SIGNING], false),
            Extension::subject_key_id(&issue::key_id(subject.public_key())),
            Extension::authority_key_id(&issue::key_id(inter_key.public_key())),
            Extension::subject_alt_name("builder@example.com", true),
            Extension::raw("1.3.6.1.4.1.57264.1.1", b"https://issuer.example"),
            Extension::utf8("1.3.6.1.4.1.57264.1.8", "https://issuer.example"),
        ],
    };
    let mut precert_seen = Vec::new();
    let der = issue::issue_with_scts(
        &template,
        &Issuer {
            name: &inter_name,
            key: &inter_key,
        },
        |precert, tbs| {
            precert_seen = precert.to_vec();
            sigil_pki::sct::sign_precert(
                &ct_key,
                inter_key.public_key().spki_der(),
                tbs,
                (NOW as u64) * 1000,
            )
            .map(|s| vec![s])
        },
    )
    .unwrap()
    .unwrap();
    let leaf = Certificate::from_der(&der).unwrap();
    let issuer = Certificate::from_der(&inter).unwrap();
    let ct_spki = ct_key.public_key().spki_der().to_vec();
    let log = sigil_formats::trust_root::LogInstance {
        base_url: "https://ct.example".into(),
        log_id: sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, &ct_spki)
            .as_bytes()
            .to_vec(),
        public_key: ct_spki,
        key_details: None,
        validity: sigil_formats::trust_root::Validity {
            start: Timestamp::from_unix(NOW - 3600),
            end: None,
        },
        checkpoint_key_id: None,
        operator: None,
    };
    let verified =
        sigil_pki::sct::verify_embedded_scts(&leaf, &issuer, std::slice::from_ref(&log)).unwrap();
    assert_eq!(verified.len(), 1);
    verify_chain(
        &leaf,
        &[inter.clone(), root],
        Timestamp::from_unix(NOW + 60),
        Purpose::CodeSigning,
    )
    .unwrap();
    // Another CT log's key: the SCT does not verify.
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let mut wrong = log.clone();
    wrong.public_key = other.public_key().spki_der().to_vec();
    assert!(matches!(
        sigil_pki::sct::verify_embedded_scts(&leaf, &issuer, &[wrong]),
        Err(sigil_pki::sct::SctError::Unverified(_))
    ));

    // openssl reads the profile: the poison in the precertificate, the SCT in the certificate.
    let dir = tempfile::tempdir().unwrap();
    let text = |der: &[u8], name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, der).unwrap();
        let o = std::process::Command::new("openssl")
            .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let pre = text(&precert_seen, "pre.der");
    assert!(pre.contains("CT Precertificate Poison: critical"), "{pre}");
    let fin = text(&der, "leaf.der");
    assert!(fin.contains("CT Precertificate SCTs"), "{fin}");
    assert!(!fin.contains("Poison"), "{fin}");
    assert!(
        fin.contains(
            "X509v3 Subject Alternative Name: critical\n                email:builder@example.com"
        ),
        "{fin}"
    );
    assert!(
        fin.contains("Digital Signature") && fin.contains("Code Signing"),
        "{fin}"
    );
    assert!(fin.contains("1.3.6.1.4.1.57264.1.8"), "{fin}");
    // No SCT, no certificate.
    let refused = issue::issue_with_scts(
        &template,
        &Issuer {
            name: &inter_name,
            key: &inter_key,
        },
        |_, _| Err::<Vec<sigil_pki::sct::Sct>, &str>("the CT log is down"),
    )
    .unwrap();
    assert_eq!(refused, Err("the CT log is down"));
}

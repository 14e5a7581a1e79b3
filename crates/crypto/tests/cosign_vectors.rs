//! Key files written by cosign itself (from cosign's key tests; password `hello`).

use sigil_crypto::keyfile::{EncryptedKeyFile, KeyFileError, KeyFileLabel, ScryptParams};
use sigil_crypto::{KeyAlgorithm, KeyError};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/cosign/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn legacy_cosign_label_decrypts() {
    let f = EncryptedKeyFile::parse(&data("cosign-legacy-label.key")).unwrap();
    assert_eq!(f.label(), KeyFileLabel::Cosign);
    assert_eq!(
        f.params(),
        ScryptParams {
            n: 32768,
            r: 8,
            p: 1
        }
    );
    let key = f.decrypt(b"hello").unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
    let sig = key.sign(b"payload").unwrap();
    key.public_key().verify(b"payload", &sig).unwrap();
}

#[test]
fn sigstore_label_decrypts() {
    let f = EncryptedKeyFile::parse(&data("sigstore-label.key")).unwrap();
    assert_eq!(f.label(), KeyFileLabel::Sigstore);
    assert_eq!(
        f.decrypt(b"hello").unwrap().algorithm(),
        KeyAlgorithm::EcdsaP256
    );
}

#[test]
fn wrong_password_is_reported_as_such() {
    let f = EncryptedKeyFile::parse(&data("sigstore-label.key")).unwrap();
    assert_eq!(f.decrypt(b"hellO").unwrap_err(), KeyFileError::Decrypt);
}

#[test]
fn sec1_inside_is_refused_with_the_reason() {
    let f = EncryptedKeyFile::parse(&data("sec1-inside_fail.key")).unwrap();
    assert_eq!(f.params(), ScryptParams::DEFAULT);
    let err = f.decrypt(b"hello").unwrap_err();
    assert_eq!(err, KeyFileError::Key(KeyError::Sec1InsteadOfPkcs8));
    assert!(err.to_string().contains("SEC1"), "{err}");
}

#[test]
fn truncated_and_garbage_files_are_refused() {
    let full = data("sigstore-label.key");
    let truncated = &full[..full.len() / 2];
    assert!(matches!(
        EncryptedKeyFile::parse(truncated).unwrap_err(),
        KeyFileError::Pem(sigil_crypto::pem::PemError::NoEnd { .. })
    ));
    assert!(matches!(
        EncryptedKeyFile::parse(b"\x00\x01garbage").unwrap_err(),
        KeyFileError::Pem(sigil_crypto::pem::PemError::NoBegin)
    ));
    assert!(matches!(
        EncryptedKeyFile::parse(b"").unwrap_err(),
        KeyFileError::Pem(sigil_crypto::pem::PemError::Empty)
    ));
}

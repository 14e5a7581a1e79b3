//! Key parsers: PEM (one block, and every block of a chain), PKIX public keys, PKCS#8 /
//! PKCS#1 / SEC1 private keys.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_crypto::{PublicKey, SigningKey};

fuzz_target!(|data: &[u8]| {
    let _ = sigil_crypto::pem::decode(data);
    if let Ok(blocks) = sigil_crypto::pem::decode_all(data, 16) {
        assert!(!blocks.is_empty() && blocks.len() <= 16);
    }
    let _ = PublicKey::from_pem(data);
    let _ = PublicKey::from_spki_der(data);
    let _ = SigningKey::from_plain_pem(data);
    let _ = SigningKey::from_pkcs8_der(data);
    let _ = SigningKey::from_pkcs1_der(data);
    let _ = SigningKey::from_sec1_der(data);
});

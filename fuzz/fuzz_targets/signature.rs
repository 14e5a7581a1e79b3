//! Detached signature files, and the decoded bytes as a signature under each key type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use std::sync::OnceLock;

fn keys() -> &'static Vec<PublicKey> {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        use sigil_crypto::{KeyAlgorithm, SigningKey};
        [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa { bits: 2048 }]
            .into_iter()
            .map(|a| SigningKey::generate(a).expect("keygen").public_key().clone())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(sig) = sigil_formats::signature::decode_signature(data) else { return };
    for k in keys() {
        let d = Digest::of(k.algorithm().signing_hash(), b"fuzz");
        let _ = k.verify_digest(&d, &sig);
        let _ = k.verify_digest(&Digest::of(HashAlgorithm::Sha256, b"fuzz"), &sig);
    }
});

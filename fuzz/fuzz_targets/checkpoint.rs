//! Signed notes and checkpoints: parsing, and verification against a fixed key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_tlog::checkpoint::{Checkpoint, NoteVerifier, SignedNote};
use std::sync::OnceLock;

fn keys() -> &'static [NoteVerifier] {
    static K: OnceLock<Vec<NoteVerifier>> = OnceLock::new();
    K.get_or_init(|| {
        let k = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256).expect("keygen");
        vec![NoteVerifier::new("rekor.sigstore.dev", k.public_key().clone())]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(note) = SignedNote::parse(s) {
        let _ = Checkpoint::parse(&note.text);
        let _ = note.verify(keys());
    }
});

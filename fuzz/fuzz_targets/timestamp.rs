//! RFC 3161 tokens (CMS SignedData walked by Sigil's DER reader) against the staging TSA.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn tsas() -> &'static [sigil_formats::trust_root::Authority] {
    static T: OnceLock<Vec<sigil_formats::trust_root::Authority>> = OnceLock::new();
    T.get_or_init(|| sigil_verify::TrustMaterial::staging().root().timestamp_authorities.clone())
}

fuzz_target!(|data: &[u8]| {
    let _ = sigil_pki::tsa::verify_timestamp(data, b"signature bytes", tsas());
});

//! trusted_root.json parsing, and preparing it for verification.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = sigil_formats::trust_root::TrustedRoot::parse(data) {
        let _ = sigil_verify::TrustMaterial::new(root);
    }
});

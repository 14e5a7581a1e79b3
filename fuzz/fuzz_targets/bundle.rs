//! Sigstore and cosign bundles: parsing must never panic, and a parsed Sigstore bundle must
//! serialise and parse back to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_formats::bundle::{self, AnyBundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(AnyBundle::Sigstore(b)) = bundle::parse_any(data) {
        let again = bundle::parse_any(b.to_json().as_bytes()).expect("round trip");
        assert_eq!(again, AnyBundle::Sigstore(b));
    }
});

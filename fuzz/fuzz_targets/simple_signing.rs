//! cosign's simple-signing payload: parse, and a parsed payload must write and parse back equal.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_formats::simple_signing::SimpleSigning;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = SimpleSigning::parse(data) {
        assert_eq!(SimpleSigning::parse(&p.to_json()).expect("round trip"), p);
    }
});

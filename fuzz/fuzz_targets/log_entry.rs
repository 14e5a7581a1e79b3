//! The log's inputs: proposed Rekor entries (every kind; what is admitted must canonicalise to a
//! body the verifier's parser reads) and C2SP tile paths. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = sigil_server::log::entries::admit(data) {
        assert!(a.body.len() <= sigil_server::log::entries::MAX_BODY_LEN);
        let v: serde_json::Value = serde_json::from_slice(&a.body).expect("canonical JSON");
        let (kind, version) = (v["kind"].as_str().unwrap(), v["apiVersion"].as_str().unwrap());
        sigil_formats::rekor::parse_body(&a.body, kind, version).expect("admitted bodies parse");
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(n) = sigil_tlog::tiles::parse_index_path(s) {
            assert_eq!(sigil_tlog::tiles::index_path(n), s);
        }
    }
});

//! Timestamp requests as the authority reads them (DER and Sigstore's JSON form): nothing may
//! panic; whatever parses re-encodes to a request that parses to the same thing, and gets a
//! reply that a client's check accepts for the same imprint.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn authority() -> &'static sigil_tsa::Authority {
    static A: OnceLock<sigil_tsa::Authority> = OnceLock::new();
    A.get_or_init(|| {
        let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)
            .expect("key");
        sigil_tsa::Authority::self_signed_for_tests(key, 1_780_000_000).expect("authority")
    })
}

fuzz_target!(|data: &[u8]| {
    let parsed = match data.split_first() {
        Some((0, rest)) => sigil_tsa::Request::parse_json(rest),
        _ => sigil_tsa::Request::parse_der(data),
    };
    let Ok(req) = parsed else { return };
    let again = sigil_tsa::Request::parse_der(&req.to_der()).expect("re-encoded request parses");
    assert_eq!(again, req);
    if req.policy.is_none() {
        let reply = authority().reply(&req, 1_780_000_100).expect("reply");
        assert!(sigil_pki::tsa::signed_tst_imprint(&reply).is_some_and(|i| i == req.imprint));
    }
});

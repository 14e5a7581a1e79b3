//! Certificate signing requests as the keyless CA reads them (DER, and PEM when the input
//! starts with `-`): nothing may panic; a request accepted carries a key of an accepted size
//! whose SubjectPublicKeyInfo is inside the request, and flipping any bit of its signature
//! makes it refused (the self-signature is the proof of possession).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = if data.first() == Some(&b'-') {
        sigil_pki::csr::parse_pem(data)
    } else {
        sigil_pki::csr::parse_der(data)
    };
    let Ok(req) = parsed else { return };
    if let sigil_crypto::KeyAlgorithm::Rsa { bits } = req.public_key.algorithm() {
        assert!((2048..=4096).contains(&bits));
    }
    if data.first() != Some(&b'-') {
        let spki = req.public_key.spki_der();
        assert!(data.windows(spki.len()).any(|w| w == spki));
        let mut flipped = data.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        assert!(sigil_pki::csr::parse_der(&flipped).is_err(), "a changed signature verified");
    }
});

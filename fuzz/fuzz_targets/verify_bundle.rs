//! The whole engine on hostile bundles: parse, then verify against the embedded public-good root
//! with an identity requirement. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{AnyBundle, parse_any};
use sigil_verify::{Artifact, Matcher, Options, Requirement, TrustMaterial, verify_bundle};
use std::sync::OnceLock;

fn trust() -> &'static TrustMaterial {
    static T: OnceLock<TrustMaterial> = OnceLock::new();
    T.get_or_init(TrustMaterial::public_good)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(AnyBundle::Sigstore(b)) = parse_any(data) {
        let artifact = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, b"a")]);
        let req = Requirement::Identity { identity: Matcher::Exact("x".into()), issuer: Matcher::Exact("y".into()) };
        let _ = verify_bundle(&b, &artifact, trust(), &req, &Options::default());
    }
});

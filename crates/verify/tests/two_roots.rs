//! Two trust roots in one process: one pairs a forged intermediate (the real public-good
//! intermediate with its signature altered) with the real anchor. Preparing and using it must
//! leave nothing in the process-wide signature cache, so the other root's verifications are
//! decided by their own material only; the real bundle still verifies against the real root.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{self, AnyBundle};
use sigil_formats::trust_root::TrustedRoot;
use sigil_verify::{Artifact, Matcher, Options, Requirement, TrustMaterial, verify_bundle};

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data")
            .join(rel),
    )
    .unwrap()
}

#[test]
fn a_forged_intermediate_in_one_root_leaves_nothing_in_the_shared_cache() {
    let root_json = data("trust/public-good/trusted_root.json");
    let mut forged: serde_json::Value = serde_json::from_slice(&root_json).unwrap();
    let mut forged_chains = Vec::new();
    for ca in forged["certificateAuthorities"].as_array_mut().unwrap() {
        let certs = ca["certChain"]["certificates"].as_array_mut().unwrap();
        if certs.len() < 2 {
            continue;
        }
        let mut der = STANDARD
            .decode(certs[0]["rawBytes"].as_str().unwrap())
            .unwrap();
        let last = der.len() - 1;
        der[last] ^= 0x01;
        certs[0]["rawBytes"] = STANDARD.encode(&der).into();
        let chain: Vec<Vec<u8>> = certs
            .iter()
            .map(|c| STANDARD.decode(c["rawBytes"].as_str().unwrap()).unwrap())
            .collect();
        forged_chains.push(chain);
    }
    assert!(!forged_chains.is_empty());
    let tenant_a = TrustMaterial::new(TrustedRoot::parse(forged.to_string().as_bytes()).unwrap());
    let tenant_b = TrustMaterial::new(TrustedRoot::parse(&root_json).unwrap());

    let dir = "conformance/bundle-verify/happy-path-v0.3";
    let AnyBundle::Sigstore(b) =
        bundle::parse_any(&data(&format!("{dir}/bundle.sigstore.json"))).unwrap()
    else {
        panic!("not a Sigstore bundle")
    };
    let artifact = Artifact::from_digests(vec![Digest::of(
        HashAlgorithm::Sha256,
        &data("conformance/a.txt"),
    )]);
    let who = Requirement::Identity {
        identity: Matcher::Regex(regex::Regex::new(".").unwrap()),
        issuer: Matcher::Regex(regex::Regex::new(".").unwrap()),
    };
    // Tenant A's root vouches for its own links; it decides only its own verifications.
    let _ = verify_bundle(&b, &artifact, &tenant_a, &who, &Options::default());
    for chain in &forged_chains {
        for k in sigil_pki::chain::authority_links(chain) {
            assert!(
                !sigil_crypto::cache::contains(&k),
                "a link nobody verified is in the process-wide cache"
            );
        }
    }
    let report = verify_bundle(&b, &artifact, &tenant_b, &who, &Options::default());
    assert!(report.verified(), "{:?}", report.first_failure());
}

//! Registry inputs: manifests and indexes (with and without a Content-Type), image references,
//! bearer challenges, and simple-signing payloads checked as image claims. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_oci::manifest::{Manifest, OCI_INDEX, OCI_MANIFEST};

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::parse(data, None);
    let _ = Manifest::parse(data, Some(OCI_MANIFEST));
    let _ = Manifest::parse(data, Some(OCI_INDEX));
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = sigil_oci::Reference::parse(s) {
            // What parses prints back to something that parses to the same reference.
            assert_eq!(sigil_oci::Reference::parse(&r.to_string()).as_ref(), Ok(&r));
        }
        let _ = sigil_oci::client::parse_bearer_challenge(s);
        let _ = sigil_verify::image::repository_path(s);
    }
    let claims = sigil_verify::image::ImageClaims {
        digest: format!("sha256:{}", "a".repeat(64)),
        repository: "registry.example/team/app".into(),
        ..Default::default()
    };
    let _ = sigil_verify::image::check_simple_signing(data, &claims);
});

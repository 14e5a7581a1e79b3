//! Registry notifications (distribution's envelopes, Harbor's webhook) as the signing-on-push
//! endpoint reads them: nothing may panic, and every push that comes out names a sha256 digest
//! and a repository name a registry would accept (never a path that climbs out).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_formats::reference::is_repository_path;
use sigil_formats::registry_events::{is_manifest, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(pushes) = parse(data) else { return };
    for p in pushes {
        assert!(sigil_formats::reference::is_sha256_digest(&p.digest));
        assert!(is_repository_path(&p.repository) && !p.repository.contains(".."));
        assert!(p.media_type.is_empty() || is_manifest(&p.media_type));
    }
});

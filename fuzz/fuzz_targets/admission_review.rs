//! AdmissionReview requests as a hostile API client might send them: parsed, their images
//! found, a response built. Nothing may panic; every refusal is a typed error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_admission::review::{Review, response};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Review::parse(data) {
        let _ = r.resource();
        if let Ok(images) = r.images() {
            let patch: Vec<serde_json::Value> = images
                .iter()
                .map(|i| serde_json::json!({"op": "replace", "path": i.pointer, "value": i.image}))
                .collect();
            let _ = response(&r.uid, true, Some("m"), &[], Some(&patch));
        }
    }
});

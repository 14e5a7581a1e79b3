//! Policy documents as an author (or an attacker who can write one) might write them:
//! ClusterImagePolicy YAML/JSON, their globs against an image name, and the decision over them
//! with every authority failing; and the text as a CUE policy (the subset) over a statement. Nothing may panic; every refusal is a typed error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_policy::cip::{self, Authority, Policy};
use sigil_policy::eval::{self, Checked, Checker, NoMatch};

struct Nothing;
impl Checker for Nothing {
    fn check(&self, _: &str, _: &Policy, _: &Authority) -> Checked {
        Checked::fail("no-signatures", "fuzzing")
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A glob and an image, split at the first newline.
    if let Some((g, image)) = text.split_once('\n')
        && let Ok(glob) = sigil_policy::glob::Glob::new(g)
    {
        let _ = glob.matches(image);
    }
    // The text as a CUE policy over a provenance statement.
    if let Ok(p) = sigil_policy::cue::Policy::parse(text) {
        let doc = serde_json::json!({"predicateType": "https://slsa.dev/provenance/v0.2",
            "predicate": {"builder": {"id": "https://tekton.example/chains/v2"}}, "subject": [{"name": "a"}]});
        let _ = p.check(&doc);
    }
    if let Ok(policies) = cip::parse(text, "fuzz.yaml") {
        let _ = eval::decide(&policies, "registry.example/app:v1", None, NoMatch::Deny, &Nothing);
    }
});

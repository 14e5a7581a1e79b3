//! Every bundle, trusted root and log entry body in the Sigstore conformance data parses, except
//! the cases whose documented failure is a parse failure.

use std::path::{Path, PathBuf};

use sigil_formats::bundle::{self, AnyBundle, BundleError};
use sigil_formats::rekor::parse_body;
use sigil_formats::trust_root::{TrustRootError, TrustedRoot};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

#[test]
fn trust_roots_parse() {
    for p in [
        "trust/public-good/trusted_root.json",
        "trust/staging/trusted_root.json",
        "trusted_root_pgi.json",
    ] {
        let r = TrustedRoot::parse(&std::fs::read(data().join(p)).unwrap())
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(
            !r.tlogs.is_empty() && !r.certificate_authorities.is_empty(),
            "{p}"
        );
    }
}

#[test]
fn conformance_cases_parse_or_fail_as_documented() {
    let dir = data().join("conformance/bundle-verify");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70);
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = bundle::parse_any(&std::fs::read(case.join("bundle.sigstore.json")).unwrap());
        match name.as_str() {
            "bundle-malformed-json_fail" => {
                assert!(
                    matches!(parsed, Err(BundleError::Json(_))),
                    "{name}: {parsed:?}"
                );
                continue;
            }
            "bundle-unknown-version_fail" => {
                assert!(
                    matches!(parsed, Err(BundleError::MediaType(_))),
                    "{name}: {parsed:?}"
                );
                continue;
            }
            "bundle-invalid-base64-signature_fail" => {
                let e = parsed.expect_err(&name);
                assert!(e.to_string().contains("invalid base64"), "{name}: {e}");
                continue;
            }
            "bundle-negative-log-index_fail" => {
                // Parses; the negative index is refused by the verifier.
                assert!(parsed.is_ok(), "{name}: {parsed:?}");
            }
            _ => {}
        }
        let Ok(AnyBundle::Sigstore(b)) = parsed else {
            panic!("{name}: {parsed:?}")
        };
        for e in &b.verification_material.tlog_entries {
            let r = parse_body(
                &e.canonicalized_body.0,
                &e.kind_version.kind,
                &e.kind_version.version,
            );
            // Some hand-made failure cases also carry a truncated body; passing cases never do.
            if !name.ends_with("_fail") {
                r.unwrap_or_else(|err| panic!("{name}: {err}"));
            }
        }
        if let Ok(root) = std::fs::read(case.join("trusted_root.json")) {
            let r = TrustedRoot::parse(&root);
            if name == "trust-root-tlog-missing-validity-start_fail" {
                assert!(
                    matches!(r, Err(TrustRootError::Invalid(ref m)) if m.contains("validFor has no start")),
                    "{name}: {r:?}"
                );
            } else {
                r.unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

//! In-process verification throughput on the Sigstore conformance keyless happy-path bundles, for
//! Sigil and (in the same run, interleaved) the sigstore-verify crate; then the batch API on one
//! and on every core.
//!
//! cargo run --release -p sigil-verify --example throughput [-- --seconds S] [--only I]
//!
//! The variants run in alternating short rounds so that a machine whose speed drifts (a busy VM
//! host) affects them alike; compare the ratios.

use std::path::Path;
use std::time::{Duration, Instant};

use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{AnyBundle, Bundle, parse_any};
use sigil_formats::trust_root::TrustedRoot;
use sigil_verify::{
    Artifact, BatchItem, Matcher, Options, Requirement, TrustMaterial, verify_bundle,
    verify_bundles,
};

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const CASES: [&str; 5] = [
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-v0.3-new-mediaType",
    "happy-path-intoto-in-dsse-v3",
];

/// A measured variant: label, whether the verified-signature cache is on, and the work.
type Variant<'a> = (&'static str, bool, &'a dyn Fn(&Case));

struct Case {
    json: String,
    bundle: Bundle,
    artifact: Vec<u8>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let root_json =
        std::fs::read_to_string(data.join("trust/public-good/trusted_root.json")).unwrap();
    let a_txt = std::fs::read(data.join("conformance/a.txt")).unwrap();
    let cases: Vec<Case> = CASES
        .iter()
        .map(|name| {
            let dir = data.join("conformance/bundle-verify").join(name);
            let json = std::fs::read_to_string(dir.join("bundle.sigstore.json")).unwrap();
            let AnyBundle::Sigstore(b) = parse_any(json.as_bytes()).unwrap() else {
                panic!("{name}")
            };
            let artifact = std::fs::read(dir.join("artifact")).unwrap_or_else(|_| a_txt.clone());
            Case {
                json,
                bundle: *b,
                artifact,
            }
        })
        .collect();
    let trust = TrustMaterial::new(TrustedRoot::parse(root_json.as_bytes()).unwrap());
    let req = Requirement::Identity {
        identity: Matcher::Exact(ID.into()),
        issuer: Matcher::Exact(ISSUER.into()),
    };

    // Sigil as a caller uses it: parse the JSON, hash the artefact, verify.
    let sigil_once = |c: &Case| {
        let AnyBundle::Sigstore(b) = parse_any(c.json.as_bytes()).unwrap() else {
            panic!()
        };
        let art = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, &c.artifact)]);
        let r = verify_bundle(&b, &art, &trust, &req, &Options::default());
        assert!(r.verified(), "{:?}", r.first_failure());
    };
    // Every bundle as if seen first: the trust root's own CA links are taken as given.
    let distinct_once = |c: &Case| {
        sigil_crypto::cache::clear();
        sigil_once(c);
    };
    let their_root = sigstore_trust_root::TrustedRoot::from_json(&root_json).unwrap();
    let verifier = sigstore_verify::Verifier::new(&their_root).unwrap();
    let policy = sigstore_verify::VerificationPolicy::new(ID, ISSUER);
    let theirs_once = |c: &Case| {
        let b = sigstore_types::Bundle::from_json(&c.json).unwrap();
        verifier.verify(&c.artifact, &b, &policy).unwrap();
    };

    let variants: [Variant<'_>; 4] = [
        (
            "sigil, cache off (every signature verified)",
            false,
            &sigil_once,
        ),
        (
            "sigil, distinct bundles (only CA links shared)",
            true,
            &distinct_once,
        ),
        ("sigil, cache on (re-verification)", true, &sigil_once),
        ("sigstore-verify 0.15.1", true, &theirs_once),
    ];
    // `--only I` runs variant I alone (for a profiler).
    let only: Option<usize> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok());
    let rounds = 20;
    let slice = Duration::from_secs_f64(seconds / rounds as f64);
    let mut counts = [0usize; 4];
    let mut times = [Duration::ZERO; 4];
    for _ in 0..rounds {
        for (i, (_, cache, f)) in variants.iter().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            sigil_crypto::cache::set_enabled(*cache);
            let start = Instant::now();
            while start.elapsed() < slice {
                for c in &cases {
                    f(c);
                    counts[i] += 1;
                }
            }
            times[i] += start.elapsed();
        }
    }
    sigil_crypto::cache::set_enabled(true);
    let rate: Vec<f64> = (0..4)
        .map(|i| counts[i] as f64 / times[i].as_secs_f64().max(1e-9))
        .collect();
    if only.is_some() {
        for (i, (label, _, _)) in variants.iter().enumerate() {
            if counts[i] > 0 {
                println!("  {label:<48} {:>9.0} bundles/s", rate[i]);
            }
        }
        return;
    }
    println!("in-process, one core, {rounds} interleaved rounds:");
    for (i, (label, _, _)) in variants.iter().enumerate() {
        println!("  {label:<48} {:>9.0} bundles/s", rate[i]);
    }
    println!(
        "  ratio to sigstore-verify: cache off {:.2}, distinct {:.2}, cache on {:.2}",
        rate[0] / rate[3],
        rate[1] / rate[3],
        rate[2] / rate[3]
    );

    // The batch API, cache off so that every signature is really verified.
    sigil_crypto::cache::set_enabled(false);
    let items: Vec<BatchItem> = (0..1000)
        .map(|i| {
            let c = &cases[i % cases.len()];
            BatchItem {
                bundle: c.bundle.clone(),
                artifact: Artifact::from_digests(vec![Digest::of(
                    HashAlgorithm::Sha256,
                    &c.artifact,
                )]),
                requirement: req.clone(),
            }
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut batch = [Duration::ZERO; 2];
    for _ in 0..3 {
        for (j, threads) in [1, cores].into_iter().enumerate() {
            let start = Instant::now();
            assert!(
                verify_bundles(&items, &trust, &Options::default(), threads)
                    .iter()
                    .all(|r| r.verified())
            );
            batch[j] += start.elapsed();
        }
    }
    sigil_crypto::cache::set_enabled(true);
    let (one, all) = (
        3000.0 / batch[0].as_secs_f64(),
        3000.0 / batch[1].as_secs_f64(),
    );
    println!(
        "batch API, cache off: 1 thread {one:.0} bundles/s, {cores} threads {all:.0} bundles/s, scaling {:.2}",
        all / one
    );
}

//! In-process verification throughput on the Sigstore conformance keyless happy-path bundles,
//! for Sigil and (in the same run) the sigstore-verify crate. One thread unless --threads N.
//!
//! cargo run --release -p sigil-verify --example throughput [-- --seconds S --threads N]

use std::path::Path;
use std::time::{Duration, Instant};

use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{AnyBundle, Bundle, parse_any};
use sigil_formats::trust_root::TrustedRoot;
use sigil_verify::{Artifact, Matcher, Options, Requirement, TrustMaterial, verify_bundle};

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Case {
    name: String,
    json: String,
    bundle: Bundle,
    artifact: Vec<u8>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str, d: f64| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let seconds = arg("--seconds", 3.0);
    let threads = arg("--threads", 1.0) as usize;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let root_json =
        std::fs::read_to_string(data.join("trust/public-good/trusted_root.json")).unwrap();
    let a_txt = std::fs::read(data.join("conformance/a.txt")).unwrap();
    // Keyless happy paths that verify against the public-good root with the default identity.
    let mut cases = Vec::new();
    for name in [
        "happy-path-v0.1",
        "happy-path-v0.2",
        "happy-path-v0.3",
        "happy-path-v0.3-new-mediaType",
        "happy-path-intoto-in-dsse-v3",
    ] {
        let dir = data.join("conformance/bundle-verify").join(name);
        let json = std::fs::read_to_string(dir.join("bundle.sigstore.json")).unwrap();
        let AnyBundle::Sigstore(b) = parse_any(json.as_bytes()).unwrap() else {
            panic!()
        };
        let artifact = std::fs::read(dir.join("artifact")).unwrap_or_else(|_| a_txt.clone());
        cases.push(Case {
            name: name.into(),
            json,
            bundle: *b,
            artifact,
        });
    }
    let trust = TrustMaterial::new(TrustedRoot::parse(root_json.as_bytes()).unwrap());
    let req = Requirement::Identity {
        identity: Matcher::Exact(ID.into()),
        issuer: Matcher::Exact(ISSUER.into()),
    };
    for c in &cases {
        let art = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, &c.artifact)]);
        let r = verify_bundle(&c.bundle, &art, &trust, &req, &Options::default());
        assert!(r.verified(), "{}: {:?}", c.name, r.first_failure());
    }

    let run = |label: &str, f: &(dyn Fn(&Case) + Sync)| -> f64 {
        let deadline = Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let total: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut n = 0usize;
                        while start.elapsed() < deadline {
                            for c in &cases {
                                f(c);
                                n += 1;
                            }
                        }
                        n
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        let rate = total as f64 / start.elapsed().as_secs_f64();
        println!("{label:<48} {rate:>9.0} bundles/s  ({threads} thread(s), {total} verifications)");
        rate
    };

    // Sigil: parse the bundle JSON and hash the artefact each time, as a caller would.
    let sigil_once = |c: &Case| {
        let AnyBundle::Sigstore(b) = parse_any(c.json.as_bytes()).unwrap() else {
            panic!()
        };
        let art = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, &c.artifact)]);
        assert!(verify_bundle(&b, &art, &trust, &req, &Options::default()).verified());
    };
    sigil_crypto::cache::set_enabled(false);
    let cold = run("sigil, cache off (every signature verified)", &sigil_once);
    if args.iter().any(|a| a == "--cold-only") {
        return;
    }
    // The batch API over both cores, cache off so every signature is really verified.
    let items: Vec<sigil_verify::BatchItem> = (0..1200)
        .map(|i| {
            let c = &cases[i % cases.len()];
            sigil_verify::BatchItem {
                bundle: c.bundle.clone(),
                artifact: Artifact::from_digests(vec![Digest::of(
                    HashAlgorithm::Sha256,
                    &c.artifact,
                )]),
                requirement: req.clone(),
            }
        })
        .collect();
    let mut rates = Vec::new();
    for t in [1, 2] {
        let start = Instant::now();
        let reports = sigil_verify::verify_bundles(&items, &trust, &Options::default(), t);
        assert!(reports.iter().all(|r| r.verified()));
        let rate = items.len() as f64 / start.elapsed().as_secs_f64();
        println!(
            "{:<48} {rate:>9.0} bundles/s",
            format!("sigil batch API, cache off, {t} thread(s)")
        );
        rates.push(rate);
    }
    println!(
        "batch scaling 2 threads / 1 thread: {:.2}",
        rates[1] / rates[0]
    );
    sigil_crypto::cache::set_enabled(true);
    let sigil = run("sigil, verified-signature cache on", &sigil_once);

    let their_root = sigstore_trust_root::TrustedRoot::from_json(&root_json).unwrap();
    let verifier = sigstore_verify::Verifier::new(&their_root).unwrap();
    let policy = sigstore_verify::VerificationPolicy::new(ID, ISSUER);
    let theirs = run("sigstore-verify 0.15.1 (parse + verify)", &|c: &Case| {
        let b = sigstore_types::Bundle::from_json(&c.json).unwrap();
        verifier.verify(&c.artifact, &b, &policy).unwrap();
    });
    println!(
        "ratio sigil (cache on) / sigstore-verify:  {:.2}",
        sigil / theirs
    );
    println!(
        "ratio sigil (cache off) / sigstore-verify: {:.2}",
        cold / theirs
    );
}

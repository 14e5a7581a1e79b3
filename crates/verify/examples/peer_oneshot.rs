//! One verification per process with the sigstore-verify crate (sigstore-rust), the peer that
//! `bench/verify.sh` times end to end beside `sigil verify-bundle`.
//!
//! peer_oneshot TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER   (exit 0 verified, 1 not)

fn main() -> std::process::ExitCode {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [root, bundle, artifact, identity, issuer] = a.as_slice() else {
        eprintln!("usage: peer_oneshot TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER");
        return std::process::ExitCode::from(2);
    };
    let run = || -> Result<(), String> {
        let root = std::fs::read_to_string(root).map_err(|e| e.to_string())?;
        let root = sigstore_trust_root::TrustedRoot::from_json(&root).map_err(|e| e.to_string())?;
        let json = std::fs::read_to_string(bundle).map_err(|e| e.to_string())?;
        let bundle = sigstore_types::Bundle::from_json(&json).map_err(|e| e.to_string())?;
        let artifact = std::fs::read(artifact).map_err(|e| e.to_string())?;
        let verifier = sigstore_verify::Verifier::new(&root).map_err(|e| e.to_string())?;
        let policy = sigstore_verify::VerificationPolicy::new(identity, issuer);
        verifier
            .verify(&artifact, &bundle, &policy)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(1)
        }
    }
}

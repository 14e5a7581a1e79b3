//! A program built on Sigil's libraries alone (no `sigil` binary): it verifies that an image is
//! signed with a key, then signs a release file with the same key into a Sigstore bundle — the
//! two halves of a release gate.
//!
//! ```text
//! COSIGN_PASSWORD=... cargo run -p sigil-image --example sign_and_verify -- \
//!     cosign.key registry.example/app:v1 app.tar.gz
//! ```
//!
//! The signatures are checked without a transparency log (as with `--private-infrastructure`);
//! add `Policy::logs` to require one. Writes `app.tar.gz.sigstore.json`.

use std::path::Path;

use sigil_crypto::SigningKey;
use sigil_image::{ImageVerdict, Policy, Wanted};
use sigil_oci::{Registry, RegistryOptions};
use sigil_sign::Signer;

/// Verifies `image`'s signatures with `key`'s public half, then signs `blob` with `key`;
/// returns the image's verdict and the blob's bundle (JSON).
pub fn run(
    registry: &Registry,
    key: &SigningKey,
    image: &str,
    blob: &Path,
) -> Result<(ImageVerdict, String), Box<dyn std::error::Error>> {
    let policy = Policy::new(key.public_key().clone(), Wanted::Signatures);
    let verdict = sigil_image::verify_image(registry, &policy, image);
    let file = std::fs::File::open(blob)?;
    let digest = sigil_crypto::hash::hash_reader(key.signing_hash(), file, |_| {})?;
    let signed = sigil_sign::blob::sign_digest(key, &digest, None)?;
    Ok((verdict, signed.bundle.to_json()))
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key_path, image, blob] = args.as_slice() else {
        return Err("usage: sign_and_verify COSIGN.KEY IMAGE FILE".into());
    };
    let pem = std::fs::read(key_path)?;
    let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
    let key = sigil_crypto::keyfile::EncryptedKeyFile::parse(&pem)?.decrypt(password.as_bytes())?;
    let registry = Registry::new(&RegistryOptions::default())?;
    let (verdict, bundle) = run(&registry, &key, image, Path::new(blob))?;
    match &verdict.failure {
        None => println!(
            "{image}: {} signature(s) verified ({} registry requests)",
            verdict
                .manifests
                .iter()
                .map(|(_, f)| f.verified.len())
                .sum::<usize>(),
            verdict.requests.total()
        ),
        Some(why) => return Err(format!("{image}: {why}").into()),
    }
    let out = format!("{blob}.sigstore.json");
    std::fs::write(&out, bundle)?;
    println!("wrote {out}");
    Ok(())
}

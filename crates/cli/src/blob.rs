//! `sign-blob` and `verify-blob` with keys.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use sigil_crypto::hash::{hash_reader, hash_reader_multi};
use sigil_crypto::{Digest, HashAlgorithm, SignatureError};
use sigil_formats::bundle::{self, AnyBundle, Bundle};
use sigil_formats::signature::{MAX_SIGNATURE_FILE_LEN, decode_signature, encode_signature};

use crate::cli::{OutputFormat, SignBlob, VerifyBlob};
use crate::support::{
    AtomicOutputs, Input, VerificationFailed, load_public_key, load_signing_key, print_json,
    progress, read_limited,
};

pub fn sign(args: SignBlob) -> Result<()> {
    // Check the input before asking for a password.
    let input = Input::open(&args.file)?;
    let key = load_signing_key(&args.key)?;
    let algorithm = key.algorithm().signing_hash();
    let pb = progress(input.len(), "hashing");
    let digest = hash_reader(algorithm, input.reader(), |n| pb.inc(n))
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    pb.finish_and_clear();
    let signature = key.sign_digest(&digest)?;
    let b64 = encode_signature(&signature);
    let entry = if args.tlog_upload {
        let proposed = crate::rekor::hashedrekord(&signature, key.public_key(), &digest);
        let e = crate::rekor::upload(&args.rekor_url, &proposed)?;
        eprintln!("tlog entry created with index: {}", e.log_index.0);
        Some(e)
    } else {
        None
    };

    let mut outputs = AtomicOutputs::new(true);
    if let Some(path) = &args.output_signature {
        outputs.add(path, b64.as_bytes(), 0o644)?;
    }
    if let Some(path) = &args.bundle {
        let mut b = Bundle::message_signature_with_key(
            key.public_key().hint(),
            algorithm.sigstore_name(),
            digest.as_bytes().to_vec(),
            signature,
        );
        b.verification_material.tlog_entries.extend(entry);
        outputs.add(path, b.to_json().as_bytes(), 0o644)?;
    }
    outputs.commit()?;
    match &args.output_signature {
        Some(path) => eprintln!("Wrote signature to file {}", path.display()),
        None => println!("{b64}"),
    }
    if let Some(path) = &args.bundle {
        eprintln!("Wrote bundle to file {}", path.display());
    }
    Ok(())
}

/// The signature and what came with it.
struct Evidence {
    kind: &'static str,
    signature: Vec<u8>,
    /// The digest a bundle claims for the artefact.
    claimed: Option<Digest>,
}

/// How a `verify-blob` is checked: by the full engine, or as a key signature.
enum Route {
    /// Certificates and log entries are evidence only the engine can weigh.
    Engine(Box<sigil_formats::bundle::Bundle>),
    /// A key-signed signature (detached, or a bundle without log entries).
    KeyOnly(Evidence),
}

/// Reads the signature or bundle once and decides how to verify it.
fn route(args: &VerifyBlob) -> Result<Route> {
    if let Some(path) = &args.signature {
        let bytes = read_limited(path, MAX_SIGNATURE_FILE_LEN, "signature")?;
        let signature =
            decode_signature(&bytes).with_context(|| format!("signature {}", path.display()))?;
        return Ok(Route::KeyOnly(Evidence {
            kind: "signature",
            signature,
            claimed: None,
        }));
    }
    let path = args
        .bundle
        .as_ref()
        .ok_or_else(|| anyhow!("either --signature or --bundle is required"))?;
    let identity = args.signer.certificate_identity.is_some()
        || args.signer.certificate_identity_regexp.is_some();
    let bytes = read_limited(path, bundle::MAX_BUNDLE_LEN, "bundle")?;
    match bundle::parse_any(&bytes).with_context(|| format!("bundle {}", path.display()))? {
        AnyBundle::Sigstore(b) => {
            let vm = &b.verification_material;
            if identity
                || !vm.tlog_entries.is_empty()
                || vm.certificate.is_some()
                || vm.x509_certificate_chain.is_some()
            {
                return Ok(Route::Engine(b));
            }
            let Some(ms) = &b.message_signature else {
                bail!(
                    "bundle {} holds a DSSE envelope (an attestation), not a message signature",
                    path.display()
                );
            };
            let claimed = match &ms.message_digest {
                Some(d) => {
                    let alg = HashAlgorithm::from_sigstore_name(&d.algorithm).ok_or_else(|| {
                        anyhow!(
                            "bundle {}: unsupported messageDigest algorithm {:?}",
                            path.display(),
                            d.algorithm
                        )
                    })?;
                    Some(Digest::from_bytes(alg, &d.digest.0).ok_or_else(|| {
                        anyhow!(
                            "bundle {}: the {} messageDigest has {} bytes, expected {}",
                            path.display(),
                            alg,
                            d.digest.0.len(),
                            alg.output_len()
                        )
                    })?)
                }
                None => None,
            };
            Ok(Route::KeyOnly(Evidence {
                kind: "sigstore-bundle",
                signature: ms.signature.0.clone(),
                claimed,
            }))
        }
        // cosign's old format: with a certificate or a Rekor entry, verify it as the v0.1 bundle
        // it is equivalent to, so that the SET and the certificate are checked.
        AnyBundle::Cosign(c) if identity || c.rekor_bundle.is_some() => {
            Ok(Route::Engine(Box::new(
                c.to_sigstore()
                    .with_context(|| format!("bundle {}", path.display()))?,
            )))
        }
        AnyBundle::Cosign(c) => Ok(Route::KeyOnly(Evidence {
            kind: "cosign-bundle",
            signature: decode_signature(c.base64_signature.as_bytes())
                .with_context(|| format!("bundle {}: base64Signature", path.display()))?,
            claimed: None,
        })),
    }
}

pub fn verify(args: VerifyBlob) -> Result<()> {
    let evidence = match route(&args)? {
        Route::Engine(b) => {
            let trust = crate::bundle_cmd::trust_material(&args.signer)?;
            let req = crate::bundle_cmd::requirement(&args.signer)?;
            let file = args.file.to_string_lossy().into_owned();
            let artifact = crate::bundle_cmd::artifact(&file, &b)?;
            let options = sigil_verify::Options {
                require_tlog: !args.signer.insecure_ignore_tlog,
                predicate_type: None,
            };
            let report = sigil_verify::verify_bundle(&b, &artifact, &trust, &req, &options);
            return crate::bundle_cmd::finish(&report, args.output, &file);
        }
        Route::KeyOnly(evidence) => evidence,
    };
    let key_ref = args
        .signer
        .key
        .as_deref()
        .ok_or_else(|| anyhow!("--key is required to verify a key-signed signature"))?;
    let key = load_public_key(key_ref)?;
    let input = Input::open(&args.file)?;
    let algorithms = key.algorithm().accepted_hashes();
    let pb = progress(input.len(), "hashing");
    let digests = hash_reader_multi(algorithms, input.reader(), |n| pb.inc(n))
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    pb.finish_and_clear();

    let outcome = check(&key, &evidence, &digests);
    let file = args.file.display().to_string();
    if args.output == OutputFormat::Json {
        print_json(&json!({
            "verified": outcome.is_ok(),
            "file": file,
            "evidence": evidence.kind,
            "key": {"algorithm": key.algorithm().to_string(), "hint": key.hint()},
            "digest": digests[0].to_string(),
            "checks": [
                {"name": "digest", "ok": outcome.as_ref().map(|_| true).unwrap_or_else(|f| !f.digest),
                 "detail": outcome.as_ref().err().filter(|f| f.digest).map(|f| f.message.clone())},
                {"name": "signature", "ok": outcome.is_ok(),
                 "detail": outcome.as_ref().err().filter(|f| !f.digest).map(|f| f.message.clone())},
                {"name": "transparency-log", "ok": null, "detail": "no entries (bundles with log entries go through the full verifier)"},
            ],
            "error": outcome.as_ref().err().map(|f| f.message.clone()),
        }))?;
    }
    match outcome {
        Ok(()) => {
            if args.output == OutputFormat::Text {
                eprintln!("Verified OK");
            }
            Ok(())
        }
        Err(f) => Err(VerificationFailed(format!("{file}: {}", f.message)).into()),
    }
}

struct Failure {
    /// True when the bundle's digest did not match the file (as opposed to the signature).
    digest: bool,
    message: String,
}

fn check(key: &sigil_crypto::PublicKey, ev: &Evidence, digests: &[Digest]) -> Result<(), Failure> {
    if let Some(claimed) = &ev.claimed {
        let Some(computed) = digests
            .iter()
            .find(|d| d.algorithm() == claimed.algorithm())
        else {
            return Err(Failure {
                digest: true,
                message: format!(
                    "the bundle's digest is {}, but a {} key signs {} digests",
                    claimed.algorithm(),
                    key.algorithm(),
                    key.algorithm().signing_hash()
                ),
            });
        };
        if computed != claimed {
            return Err(Failure {
                digest: true,
                message: format!(
                    "the bundle was made for other content: it names {claimed}, but the file is {computed}"
                ),
            });
        }
    }
    let mut last: Option<SignatureError> = None;
    for d in digests {
        if ev
            .claimed
            .as_ref()
            .is_some_and(|c| c.algorithm() != d.algorithm())
        {
            continue;
        }
        match key.verify_digest(d, &ev.signature) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(Failure {
        digest: false,
        message: last.map_or_else(|| "no digest to check".to_owned(), |e| e.to_string()),
    })
}

//! Container images: `sign`, `verify`, `attest`, `verify-attestation`, `tree`, `download`,
//! `clean` and `copy`, in cosign's storage layout.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sigil_crypto::hash::hex_decode;
use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use sigil_formats::bundle::{self, Bundle, Envelope};
use sigil_formats::dsse::Statement;
use sigil_oci::attach::{self, Attached, Source, Written};
use sigil_oci::manifest::{self as mf, Descriptor, Manifest};
use sigil_oci::{Attachment, ImageRef, Registry, RegistryError, Repo};
use sigil_verify::image::{ImageClaims, check_simple_signing, check_statement};
use sigil_verify::{Artifact, Options, Requirement, TrustMaterial, verify_bundle};

use crate::attest::{read_predicate, resolve_type};
use crate::cli::{
    AttestImage, Clean, CleanType, CopyImage, DownloadAttestation, DownloadCmd, OutputFormat,
    ReferrersMode, SignImage, Tree, VerifyAttestation, VerifyImage,
};
use crate::oci_cmd::{ImageFailure, registry};
use crate::support::{load_public_key, load_signing_key, print_json, read_limited};

/// The predicate type cosign gives the statement it signs for an image in bundle form.
pub const COSIGN_SIGN_PREDICATE: &str = sigil_formats::dsse::COSIGN_SIGN_PREDICATE;
/// Exit code: the image has no signatures (cosign's 10).
pub const EXIT_NO_SIGNATURES: u8 = 10;
/// Exit code: signatures exist, none verifies (cosign's 12).
pub const EXIT_NO_MATCHING: u8 = 12;

fn trust() -> &'static TrustMaterial {
    static T: OnceLock<TrustMaterial> = OnceLock::new();
    T.get_or_init(TrustMaterial::public_good)
}

use sigil_oci::attach::{Target, targets};

fn digest_of(d: &str) -> Result<Digest> {
    let hex = d
        .strip_prefix("sha256:")
        .ok_or_else(|| anyhow!("{d} is not a sha256 digest"))?;
    hex_decode(hex)
        .and_then(|b| Digest::from_bytes(HashAlgorithm::Sha256, &b))
        .ok_or_else(|| anyhow!("{d} is not a sha256 digest"))
}

// ----------------------------------------------------------------------------------------
// sign

fn image_options(
    mode: ReferrersMode,
    recursive: bool,
    annotations: BTreeMap<String, String>,
    identity: Option<String>,
) -> sigil_sign::image::ImageOptions {
    sigil_sign::image::ImageOptions {
        layout: match mode {
            ReferrersMode::Legacy => sigil_sign::image::Layout::Legacy,
            ReferrersMode::Oci11 => sigil_sign::image::Layout::Referrers,
        },
        recursive,
        annotations,
        identity,
    }
}

pub fn sign(args: SignImage) -> Result<()> {
    let images: Vec<ImageRef> = args
        .images
        .iter()
        .map(|i| ImageRef::parse(i))
        .collect::<Result<_, _>>()?;
    let registry = registry(&args.registry)?.writing();
    let key = load_signing_key(&args.key)?;
    let log = crate::rekor::upload_log_if(args.tlog.tlog_upload, &args.tlog.rekor_url)?;
    let options = image_options(
        args.registry_referrers_mode,
        args.recursive,
        args.annotations.iter().cloned().collect(),
        args.sign_container_identity.clone(),
    );
    let mut report = Vec::new();
    for image in &images {
        for s in sigil_sign::image::sign(&registry, image, &key, &options, log.as_ref())? {
            report.push(written_json(image, &s.target, &s.written));
        }
    }
    print_written(args.output, &report, "signature")
}

fn written_json(image: &ImageRef, t: &Target, w: &Written) -> Value {
    match w {
        Written::Added {
            reference,
            manifest,
        } => json!({"image": image.with_digest(&t.digest), "platform": t.platform,
                    "written": true, "location": reference, "manifest": manifest}),
        Written::AlreadyPresent { reference } => json!({"image": image.with_digest(&t.digest),
                    "platform": t.platform, "written": false, "location": reference}),
    }
}

fn print_written(output: OutputFormat, report: &[Value], what: &str) -> Result<()> {
    match output {
        OutputFormat::Json => print_json(&json!({ "results": report })),
        OutputFormat::Text => {
            for r in report {
                let image = r["image"].as_str().unwrap_or_default();
                let location = r["location"].as_str().unwrap_or_default();
                if r["written"] == true {
                    errln!("Pushed {what} for {image} to {location}");
                } else {
                    errln!("{image} already carries this {what} at {location}; nothing written");
                }
            }
            Ok(())
        }
    }
}

// ----------------------------------------------------------------------------------------
// attest

pub fn attest(args: AttestImage) -> Result<()> {
    let predicate_type = resolve_type(&args.type_)?;
    let predicate = read_predicate(&args.type_, &args.predicate)?;
    let images: Vec<ImageRef> = args
        .images
        .iter()
        .map(|i| ImageRef::parse(i))
        .collect::<Result<_, _>>()?;
    let registry = registry(&args.registry)?.writing();
    let key = load_signing_key(&args.key)?;
    let log = crate::rekor::upload_log_if(args.tlog.tlog_upload, &args.tlog.rekor_url)?;
    let options = image_options(
        args.registry_referrers_mode,
        args.recursive,
        BTreeMap::new(),
        None,
    );
    let mut report = Vec::new();
    for image in &images {
        let signed = sigil_sign::image::attest(
            &registry,
            image,
            &key,
            &predicate_type,
            &predicate,
            &options,
            log.as_ref(),
        )?;
        for s in signed {
            report.push(written_json(image, &s.target, &s.written));
        }
    }
    print_written(args.output, &report, "attestation")
}

// ----------------------------------------------------------------------------------------
// verify and verify-attestation

/// One verified signature or attestation.
struct Verified {
    source: Source,
    /// The simple-signing payload or the in-toto statement.
    payload: Value,
    /// The DSSE envelope (attestations).
    envelope: Option<Value>,
}

/// What was found for one manifest.
#[derive(Default)]
struct Findings {
    verified: Vec<Verified>,
    rejected: Vec<String>,
    /// Predicate types of the attestations that were not of the type looked for.
    other_types: std::collections::BTreeSet<String>,
}

impl Findings {
    fn seen(&self) -> usize {
        self.verified.len() + self.rejected.len()
    }
}

/// The log entry a layer carries in cosign's `dev.sigstore.cosign/bundle` annotation, as a
/// bundle log entry (its SET stands in for an inclusion proof, as in cosign); `None` when the
/// layer has no such annotation.
fn layer_tlog_entry(
    layer: &Descriptor,
) -> Result<Option<sigil_formats::bundle::TransparencyLogEntry>, String> {
    let Some(ann) = layer.annotation(mf::ANNOTATION_BUNDLE) else {
        return Ok(None);
    };
    let rekor: Value =
        serde_json::from_str(ann).map_err(|e| format!("the bundle annotation is not JSON: {e}"))?;
    let old = json!({"base64Signature": "", "rekorBundle": rekor}).to_string();
    match bundle::parse_any(old.as_bytes()).map_err(|e| e.to_string())? {
        bundle::AnyBundle::Cosign(c) => c
            .to_sigstore()
            .map_err(|e| e.to_string())?
            .verification_material
            .tlog_entries
            .into_iter()
            .next()
            .map(Some)
            .ok_or_else(|| "the bundle annotation holds no log entry".to_owned()),
        bundle::AnyBundle::Sigstore(_) => Err("the bundle annotation is not cosign's".into()),
    }
}

/// Verifies `b` with the layer's own log entry, or (when it carries none) with the entry found
/// in the log at `--rekor-url` for `search` and the key.
fn check_with_entry(
    layer: &Descriptor,
    key: &PublicKey,
    logs: Logs<'_>,
    search: &Digest,
    evidence: &Bundle,
    verify: impl Fn(&Bundle) -> sigil_verify::Report,
) -> Result<(), String> {
    // cosign's annotation carries a SET, no inclusion proof: a v0.1 bundle's evidence.
    let report = match layer_tlog_entry(layer)? {
        Some(entry) => verify(&crate::logreq::with_entry(evidence, entry)),
        None => crate::logreq::verify_unlogged(logs.rekor_url, search, key, evidence, &verify)
            .map_err(|e| {
                format!(
                    "no transparency log entry (no dev.sigstore.cosign/bundle annotation): {e:#}"
                )
            })?,
    };
    match crate::logreq::explain(&report) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// The logs every signature must be recorded in: the trust root's, and the log where an entry
/// a signature does not carry is looked up.
#[derive(Clone, Copy)]
struct Logs<'a> {
    trust: &'a TrustMaterial,
    rekor_url: &'a str,
}

/// Runs the engine on `b` against the logs of `trust` (log entry, SET or proof, checkpoint).
fn check_logged(
    key: &PublicKey,
    b: &Bundle,
    artifact: &Artifact,
    trust: &TrustMaterial,
    predicate_type: Option<&str>,
) -> sigil_verify::Report {
    verify_bundle(
        b,
        artifact,
        trust,
        &Requirement::Key(key.clone()),
        &Options {
            require_tlog: true,
            predicate_type: predicate_type.map(str::to_owned),
        },
    )
}

/// A legacy (simple-signing) signature layer: signature by the key, then the claims, then (when
/// logs are required) its log entry.
fn check_legacy(
    key: &PublicKey,
    a: &Attached,
    claims: &ImageClaims,
    tlog: Option<Logs<'_>>,
) -> Result<Value, String> {
    let sig = a
        .layer
        .annotation(mf::ANNOTATION_SIGNATURE)
        .ok_or("the layer has no dev.cosignproject.cosign/signature annotation")?;
    let sig = B64
        .decode(sig.trim())
        .map_err(|e| format!("the signature annotation is not base64: {e}"))?;
    key.verify(&a.data, &sig)
        .map_err(|e| format!("signature: {e}"))?;
    check_simple_signing(&a.data, claims).map_err(|e| e.to_string())?;
    if let Some(logs) = tlog {
        let alg = key.algorithm().signing_hash();
        let digest = Digest::of(alg, &a.data);
        let b = Bundle::message_signature_with_key(
            key.hint(),
            alg.sigstore_name(),
            digest.as_bytes().to_vec(),
            sig,
        );
        let digests = [
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .map(|h| Digest::of(h, &a.data))
        .collect();
        let artifact = Artifact::from_digests(digests);
        // cosign's annotation carries a SET, no inclusion proof: a v0.1 bundle's evidence.
        check_with_entry(&a.layer, key, logs, &digest, &b, |b| {
            check_logged(key, b, &artifact, logs.trust, None)
        })?;
    }
    serde_json::from_slice(&a.data).map_err(|e| format!("payload: {e}"))
}

/// A DSSE envelope (from `.att` or a bundle referrer): signature, predicate type and subject
/// digest by the engine, then the statement's claims.
fn check_dsse(
    key: &PublicKey,
    bundle: &Bundle,
    predicate_type: &str,
    claims: &ImageClaims,
    tlog: Option<Logs<'_>>,
) -> Result<(Value, Value), String> {
    let subject = digest_of(&claims.digest).map_err(|e| e.to_string())?;
    let report = dsse_report(key, bundle, predicate_type, &subject, tlog);
    if let Some(why) = crate::logreq::explain(&report) {
        return Err(why);
    }
    dsse_claims(bundle, claims)
}

/// The engine's verdict on a DSSE bundle about the image: signature, predicate type, subject
/// digest, and (when `tlog` is given) its log entry against those logs.
fn dsse_report(
    key: &PublicKey,
    bundle: &Bundle,
    predicate_type: &str,
    subject: &Digest,
    tlog: Option<Logs<'_>>,
) -> sigil_verify::Report {
    let artifact = Artifact::from_digests(vec![subject.clone()]);
    let options = Options {
        require_tlog: tlog.is_some(),
        predicate_type: Some(predicate_type.to_owned()),
    };
    verify_bundle(
        bundle,
        &artifact,
        match tlog {
            Some(l) => l.trust,
            None => trust(),
        },
        &Requirement::Key(key.clone()),
        &options,
    )
}

/// The statement's claims about the image, once the engine verified the envelope; the payload
/// and the envelope as printed.
fn dsse_claims(bundle: &Bundle, claims: &ImageClaims) -> Result<(Value, Value), String> {
    let envelope = bundle
        .dsse_envelope
        .as_ref()
        .ok_or("the bundle holds a message signature, not a DSSE envelope")?;
    let statement = Statement::parse(&envelope.payload.0).map_err(|e| e.to_string())?;
    check_statement(&statement, claims).map_err(|e| e.to_string())?;
    let payload = serde_json::from_slice(&envelope.payload.0).map_err(|e| e.to_string())?;
    Ok((
        payload,
        serde_json::to_value(envelope).map_err(|e| e.to_string())?,
    ))
}

fn check_referrer_bundle(
    key: &PublicKey,
    a: &Attached,
    predicate_type: &str,
    claims: &ImageClaims,
    tlog: Option<Logs<'_>>,
) -> Option<Result<Verified, String>> {
    if let Source::Referrer { annotations, .. } = &a.source
        && let Some(t) = annotations.get(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE)
        && t != predicate_type
    {
        return None;
    }
    let bundle = match bundle::parse_any(&a.data) {
        Ok(bundle::AnyBundle::Sigstore(b)) => b,
        Ok(_) => return Some(Err("not a Sigstore bundle".into())),
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(
        check_dsse(key, &bundle, predicate_type, claims, tlog).map(|(payload, envelope)| {
            Verified {
                source: a.source.clone(),
                payload,
                envelope: Some(envelope),
            }
        }),
    )
}

fn find_signatures(
    registry: &Registry,
    image: &ImageRef,
    key: &PublicKey,
    claims: &ImageClaims,
    tlog: Option<Logs<'_>>,
) -> Result<Findings, RegistryError> {
    let mut f = Findings::default();
    let legacy = attach::read_tag(
        registry,
        image,
        &claims.digest,
        Attachment::Signature,
        |l| l.media_type == mf::SIMPLE_SIGNING,
    )?;
    for a in legacy {
        match check_legacy(key, &a, claims, tlog) {
            Ok(payload) => f.verified.push(Verified {
                source: a.source,
                payload,
                envelope: None,
            }),
            Err(e) => f.rejected.push(format!("{}: {e}", a.source.reference())),
        }
    }
    // The tag scheme is where Sigil and cosign v2 write; referrers are read when it holds no
    // signature that verifies.
    if !f.verified.is_empty() {
        return Ok(f);
    }
    let referrers = attach::read_referrers(
        registry,
        image,
        &claims.digest,
        &[mf::SIGSTORE_BUNDLE_V03, mf::COSIGN_SIG_ARTIFACT],
    )?;
    for a in referrers {
        let outcome = match &a.source {
            Source::Referrer { artifact_type, .. } if artifact_type == mf::COSIGN_SIG_ARTIFACT => {
                if a.layer.media_type != mf::SIMPLE_SIGNING {
                    continue;
                }
                check_legacy(key, &a, claims, tlog).map(|payload| Verified {
                    source: a.source.clone(),
                    payload,
                    envelope: None,
                })
            }
            _ => match check_referrer_bundle(key, &a, COSIGN_SIGN_PREDICATE, claims, tlog) {
                Some(r) => r,
                None => continue,
            },
        };
        match outcome {
            Ok(v) => f.verified.push(v),
            Err(e) => f.rejected.push(format!("{}: {e}", a.source.reference())),
        }
    }
    Ok(f)
}

fn find_attestations(
    registry: &Registry,
    image: &ImageRef,
    key: &PublicKey,
    predicate_type: &str,
    claims: &ImageClaims,
    tlog: Option<Logs<'_>>,
) -> Result<Findings, RegistryError> {
    let mut f = Findings::default();
    let others = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let legacy = attach::read_tag(
        registry,
        image,
        &claims.digest,
        Attachment::Attestation,
        |l| {
            if l.media_type != mf::DSSE_ENVELOPE {
                return false;
            }
            match l.annotation(mf::ANNOTATION_PREDICATE_TYPE) {
                Some(t) if t != predicate_type => {
                    others.borrow_mut().insert(t.to_owned());
                    false
                }
                _ => true,
            }
        },
    )?;
    f.other_types = others.into_inner();
    for a in legacy {
        let outcome = serde_json::from_slice::<Envelope>(&a.data)
            .map_err(|e| format!("not a DSSE envelope: {e}"))
            .and_then(|env| {
                let b = Bundle::dsse_with_key(String::new(), env);
                let Some(logs) = tlog else {
                    return check_dsse(key, &b, predicate_type, claims, None);
                };
                // The entry: the layer's annotation, else the log's, found by the image's
                // digest (a dsse entry is indexed under its subjects) and the key; the engine
                // runs once, with it.
                let subject = digest_of(&claims.digest).map_err(|e| e.to_string())?;
                check_with_entry(&a.layer, key, logs, &subject, &b, |c| {
                    dsse_report(key, c, predicate_type, &subject, Some(logs))
                })?;
                dsse_claims(&b, claims)
            });
        match outcome {
            Ok((payload, envelope)) => f.verified.push(Verified {
                source: a.source,
                payload,
                envelope: Some(envelope),
            }),
            Err(e) => f.rejected.push(format!("{}: {e}", a.source.reference())),
        }
    }
    if !f.verified.is_empty() {
        return Ok(f);
    }
    for a in attach::read_referrers(registry, image, &claims.digest, &[mf::SIGSTORE_BUNDLE_V03])? {
        if let Source::Referrer { annotations, .. } = &a.source
            && let Some(t) = annotations.get(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE)
            && t != predicate_type
            && t != COSIGN_SIGN_PREDICATE
        {
            f.other_types.insert(t.clone());
        }
        match check_referrer_bundle(key, &a, predicate_type, claims, tlog) {
            Some(Ok(v)) => f.verified.push(v),
            Some(Err(e)) => f.rejected.push(format!("{}: {e}", a.source.reference())),
            None => {}
        }
    }
    Ok(f)
}

/// The outcome for one image argument.
struct ImageOutcome {
    image: String,
    digest: Option<String>,
    /// Per manifest (the image, then its platforms with --recursive).
    manifests: Vec<(Target, Findings)>,
    error: Option<(u8, String)>,
}

struct VerifyJob<'a> {
    registry: &'a Registry,
    key: &'a PublicKey,
    recursive: bool,
    allowed: &'a [String],
    annotations: &'a BTreeMap<String, String>,
    /// `None` for signatures; the predicate type for attestations.
    predicate_type: Option<&'a str>,
    /// The logs every signature must be recorded in, when required.
    tlog: Option<Logs<'a>>,
}

fn verify_image(job: &VerifyJob<'_>, arg: &str) -> ImageOutcome {
    let mut out = ImageOutcome {
        image: arg.to_owned(),
        digest: None,
        manifests: Vec::new(),
        error: None,
    };
    let run = |out: &mut ImageOutcome| -> Result<()> {
        let image = ImageRef::parse(arg)?;
        let targets: Vec<Target> = match (image.digest(), job.recursive) {
            // A digest reference needs no round trip unless its platforms are wanted.
            (Some(d), false) => vec![Target {
                digest: d.to_owned(),
                media_type: String::new(),
                size: 0,
                platform: None,
            }],
            _ => targets(job.registry, &image, job.recursive)?,
        };
        out.digest = Some(targets[0].digest.clone());
        for t in targets {
            let claims = ImageClaims {
                digest: t.digest.clone(),
                repository: image.repository_name(),
                allowed_references: job.allowed.to_vec(),
                annotations: job.annotations.clone(),
            };
            let f = match job.predicate_type {
                None => find_signatures(job.registry, &image, job.key, &claims, job.tlog)?,
                Some(p) => find_attestations(job.registry, &image, job.key, p, &claims, job.tlog)?,
            };
            out.manifests.push((t, f));
        }
        Ok(())
    };
    if let Err(e) = run(&mut out) {
        let code = crate::oci_cmd::exit_code(&e).unwrap_or(crate::support::EXIT_ERROR);
        out.error = Some((code, format!("{e:#}")));
        return out;
    }
    let what = if job.predicate_type.is_some() {
        "attestations"
    } else {
        "signatures"
    };
    for (t, f) in &out.manifests {
        let name = match &t.platform {
            Some(p) => format!("{} ({p})", t.digest),
            None => t.digest.clone(),
        };
        if f.seen() == 0 {
            let message = match job.predicate_type {
                None => format!("no {what} found for {name}"),
                Some(t) if f.other_types.is_empty() => {
                    format!("no attestations of type {t} found for {name} (none of any type)")
                }
                Some(t) => format!(
                    "no attestations of type {t} found for {name}; it has attestations of type {} (pass --type)",
                    f.other_types.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            out.error = Some((EXIT_NO_SIGNATURES, message));
            break;
        }
        if f.verified.is_empty() {
            out.error = Some((
                EXIT_NO_MATCHING,
                format!("no matching {what} for {name}: {}", f.rejected.join("; ")),
            ));
            break;
        }
    }
    out
}

/// Verifies every image on `workers` threads sharing one registry client (one connection pool,
/// one token per repository).
fn verify_all(job: &VerifyJob<'_>, images: &[String], workers: usize) -> Vec<ImageOutcome> {
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<ImageOutcome>>> =
        images.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, images.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(arg) = images.get(i) else { break };
                    let o = verify_image(job, arg);
                    *slots[i]
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(o);
                }
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|m| {
            m.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
        .collect()
}

fn report_outcomes(
    outcomes: &[ImageOutcome],
    output: OutputFormat,
    registry: &Registry,
    attestations: bool,
) -> Result<()> {
    match output {
        OutputFormat::Json => {
            let images: Vec<Value> = outcomes
                .iter()
                .map(|o| {
                    json!({
                        "image": o.image,
                        "digest": o.digest,
                        "verified": o.error.is_none(),
                        "exitCode": o.error.as_ref().map_or(0, |e| e.0),
                        "error": o.error.as_ref().map(|e| &e.1),
                        "manifests": o.manifests.iter().map(|(t, f)| json!({
                            "digest": t.digest,
                            "platform": t.platform,
                            "verified": f.verified.iter().map(|v| json!({
                                "source": v.source.kind(),
                                "location": v.source.reference(),
                                "payload": v.payload,
                            })).collect::<Vec<_>>(),
                            "rejected": f.rejected,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            print_json(&json!({"images": images, "registryRequests": registry.stats()}))?;
        }
        OutputFormat::Text => {
            for o in outcomes {
                if let Some((_, e)) = &o.error {
                    // One image's failure is printed once, by the caller; with several, each
                    // is printed here and the caller prints a summary.
                    if outcomes.len() > 1 {
                        errln!("Error: {}", with_image(&o.image, e));
                    }
                    continue;
                }
                errln!("\nVerification for {} --", o.image);
                errln!(
                    "The following checks were performed on each of these {}:",
                    if attestations {
                        "attestations"
                    } else {
                        "signatures"
                    }
                );
                errln!("  - The cosign claims were validated");
                errln!("  - The signatures were verified against the specified public key");
                let lines: Vec<&Value> = o
                    .manifests
                    .iter()
                    .flat_map(|(_, f)| &f.verified)
                    .map(|v| {
                        if attestations {
                            v.envelope.as_ref().unwrap_or(&v.payload)
                        } else {
                            &v.payload
                        }
                    })
                    .collect();
                if attestations {
                    for l in lines {
                        outln!("{l}");
                    }
                } else {
                    outln!("{}", Value::Array(lines.into_iter().cloned().collect()));
                }
            }
        }
    }
    if let Some(o) = outcomes.iter().find(|o| o.error.is_some()) {
        let (code, msg) = o.error.clone().unwrap_or_default();
        let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
        let message = if outcomes.len() > 1 && output == OutputFormat::Text {
            format!(
                "{failed} of {} images did not verify (the exit code is {}'s)",
                outcomes.len(),
                o.image
            )
        } else {
            with_image(&o.image, &msg)
        };
        return Err(ImageFailure { code, message }.into());
    }
    Ok(())
}

/// `image: message`, unless the message already names the image.
fn with_image(image: &str, msg: &str) -> String {
    if msg.starts_with(image) {
        msg.to_owned()
    } else {
        format!("{image}: {msg}")
    }
}

/// The trust root whose logs signatures must be recorded in (`--trusted-root`, else the
/// embedded public-good root); `None` when the verifier waived the log.
fn required_logs(
    root: &Option<std::path::PathBuf>,
    tlog: &crate::cli::TlogArgs,
) -> Result<Option<TrustMaterial>> {
    if !tlog.required() {
        return Ok(None);
    }
    let Some(path) = root else {
        return Ok(Some(trust().clone()));
    };
    let bytes = read_limited(
        path,
        sigil_formats::trust_root::MAX_TRUSTED_ROOT_LEN,
        "trusted root",
    )?;
    let root = sigil_formats::trust_root::TrustedRoot::parse(&bytes)
        .with_context(|| format!("trusted root {}", path.display()))?;
    Ok(Some(TrustMaterial::new(root)))
}

pub fn verify(args: VerifyImage) -> Result<()> {
    let registry = registry(&args.registry)?;
    let key = load_public_key(&args.key)?;
    let trust = required_logs(&args.trusted_root, &args.tlog)?;
    let tlog = trust.as_ref().map(|trust| Logs {
        trust,
        rekor_url: &args.tlog.rekor_url,
    });
    let annotations: BTreeMap<String, String> = args.annotations.iter().cloned().collect();
    let job = VerifyJob {
        tlog,
        registry: &registry,
        key: &key,
        recursive: args.recursive,
        allowed: &args.allow_reference,
        annotations: &annotations,
        predicate_type: None,
    };
    let outcomes = verify_all(&job, &args.images, args.max_workers);
    report_outcomes(&outcomes, args.output, &registry, false)
}

pub fn verify_attestation(args: VerifyAttestation) -> Result<()> {
    let predicate_type = resolve_type(&args.type_)?;
    let registry = registry(&args.registry)?;
    let key = load_public_key(&args.key)?;
    let trust = required_logs(&args.trusted_root, &args.tlog)?;
    let tlog = trust.as_ref().map(|trust| Logs {
        trust,
        rekor_url: &args.tlog.rekor_url,
    });
    let annotations = BTreeMap::new();
    let job = VerifyJob {
        tlog,
        registry: &registry,
        key: &key,
        recursive: args.recursive,
        allowed: &args.allow_reference,
        annotations: &annotations,
        predicate_type: Some(&predicate_type),
    };
    let outcomes = verify_all(&job, &args.images, args.max_workers);
    report_outcomes(&outcomes, args.output, &registry, true)
}

// ----------------------------------------------------------------------------------------
// tree, download, clean, copy

fn resolve_image(registry: &Registry, arg: &str) -> Result<(ImageRef, String)> {
    let image = ImageRef::parse(arg)?;
    let digest = registry.resolve(&image)?;
    Ok((image, digest))
}

pub fn tree(args: crate::cli::Tree) -> Result<()> {
    let Tree {
        registry: r,
        output,
        image,
    } = args;
    let registry = registry(&r)?;
    let (image, digest) = resolve_image(&registry, &image)?;
    let mut sections = Vec::new();
    for (kind, label) in [
        (Attachment::Signature, "Signatures"),
        (Attachment::Attestation, "Attestations"),
        (Attachment::Sbom, "SBOMs"),
    ] {
        let at = attach::attachment_ref(&image, &digest, kind)?;
        if let Some(f) = registry.get_manifest(Repo::from(&at), at.reference())? {
            let layers: Vec<Value> = match f.manifest {
                Manifest::Image(m) => m
                    .layers
                    .iter()
                    .map(|l| {
                        json!({"digest": l.digest, "mediaType": l.media_type, "size": l.size,
                                     "predicateType": l.annotation(mf::ANNOTATION_PREDICATE_TYPE)})
                    })
                    .collect(),
                Manifest::Index(_) => Vec::new(),
            };
            sections.push(json!({"kind": label, "location": at.to_string(), "layers": layers}));
        }
    }
    let refs = attach::referrers(&registry, &image, &digest, &[])?;
    let referrers: Vec<Value> = refs
        .iter()
        .map(|d| json!({"digest": d.digest, "artifactType": d.artifact_type, "annotations": d.annotations}))
        .collect();
    match output {
        OutputFormat::Json => print_json(&json!({
            "image": image.with_digest(&digest), "attachments": sections, "referrers": referrers
        })),
        OutputFormat::Text => {
            outln!("Supply chain artifacts for {}", image.with_digest(&digest));
            if sections.is_empty() && referrers.is_empty() {
                outln!("└── (none)");
            }
            for s in &sections {
                outln!(
                    "└── {} at {}",
                    s["kind"].as_str().unwrap_or_default(),
                    s["location"].as_str().unwrap_or_default()
                );
                for l in s["layers"].as_array().into_iter().flatten() {
                    let extra = l["predicateType"]
                        .as_str()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default();
                    outln!(
                        "    └── {}{extra}",
                        l["digest"].as_str().unwrap_or_default()
                    );
                }
            }
            if !referrers.is_empty() {
                outln!("└── Referrers");
                for r in &refs {
                    outln!(
                        "    └── {} {}",
                        r.digest,
                        r.artifact_type.as_deref().unwrap_or("(no artifact type)")
                    );
                }
            }
            Ok(())
        }
    }
}

pub fn download(cmd: DownloadCmd) -> Result<()> {
    match cmd {
        DownloadCmd::Signature(a) => {
            let registry = registry(&a.registry)?;
            let (image, digest) = resolve_image(&registry, &a.image)?;
            let mut found =
                attach::read_tag(&registry, &image, &digest, Attachment::Signature, |l| {
                    l.media_type == mf::SIMPLE_SIGNING
                })?;
            found.extend(
                attach::read_referrers(&registry, &image, &digest, &[mf::COSIGN_SIG_ARTIFACT])?
                    .into_iter()
                    .filter(|a| a.layer.media_type == mf::SIMPLE_SIGNING),
            );
            if found.is_empty() {
                return Err(ImageFailure {
                    code: EXIT_NO_SIGNATURES,
                    message: format!("no signatures found for {}", image.with_digest(&digest)),
                }
                .into());
            }
            for a in found {
                let ann = |k: &str| a.layer.annotation(k).map(str::to_owned);
                let bundle: Value = ann(mf::ANNOTATION_BUNDLE)
                    .and_then(|b| serde_json::from_str(&b).ok())
                    .unwrap_or(Value::Null);
                outln!(
                    "{}",
                    json!({
                        "Base64Signature": ann(mf::ANNOTATION_SIGNATURE).unwrap_or_default(),
                        "Payload": B64.encode(a.data.as_slice()),
                        "Cert": ann(mf::ANNOTATION_CERTIFICATE),
                        "Chain": ann(mf::ANNOTATION_CHAIN),
                        "Bundle": bundle,
                        "RFC3161Timestamp": ann(mf::ANNOTATION_RFC3161),
                    })
                );
            }
            Ok(())
        }
        DownloadCmd::Attestation(DownloadAttestation {
            registry: r,
            predicate_type,
            image,
        }) => {
            let want = predicate_type.as_deref().map(resolve_type).transpose()?;
            let registry = registry(&r)?;
            let (image, digest) = resolve_image(&registry, &image)?;
            let mut n = 0;
            for a in attach::read_tag(&registry, &image, &digest, Attachment::Attestation, |l| {
                l.media_type == mf::DSSE_ENVELOPE
                    && want
                        .as_deref()
                        .is_none_or(|w| l.annotation(mf::ANNOTATION_PREDICATE_TYPE) == Some(w))
            })? {
                outln!("{}", String::from_utf8_lossy(&a.data).trim());
                n += 1;
            }
            for a in attach::read_referrers(&registry, &image, &digest, &[mf::SIGSTORE_BUNDLE_V03])?
            {
                if let Source::Referrer { annotations, .. } = &a.source {
                    let pt = annotations.get(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE);
                    // Image signatures in bundle form are not attestations.
                    if pt.map(String::as_str) == Some(COSIGN_SIGN_PREDICATE)
                        || want.as_ref().is_some_and(|w| pt != Some(w))
                    {
                        continue;
                    }
                }
                if let Ok(bundle::AnyBundle::Sigstore(b)) = bundle::parse_any(&a.data)
                    && let Some(env) = &b.dsse_envelope
                {
                    outln!("{}", serde_json::to_string(env)?);
                    n += 1;
                }
            }
            if n == 0 {
                return Err(ImageFailure {
                    code: EXIT_NO_SIGNATURES,
                    message: format!("no attestations found for {}", image.with_digest(&digest)),
                }
                .into());
            }
            Ok(())
        }
        DownloadCmd::Sbom(a) => {
            let registry = registry(&a.registry)?;
            let (image, digest) = resolve_image(&registry, &a.image)?;
            let found = attach::read_tag(&registry, &image, &digest, Attachment::Sbom, |_| true)?;
            if found.is_empty() {
                return Err(ImageFailure {
                    code: EXIT_NO_SIGNATURES,
                    message: format!("no SBOM attached to {}", image.with_digest(&digest)),
                }
                .into());
            }
            for a in found {
                crate::console::out_bytes(&a.data);
            }
            Ok(())
        }
    }
}

pub fn clean(args: Clean) -> Result<()> {
    let registry = registry(&args.registry)?.writing();
    let (image, digest) = resolve_image(&registry, &args.image)?;
    let kinds: &[Attachment] = match args.type_ {
        CleanType::Signature => &[Attachment::Signature],
        CleanType::Attestation => &[Attachment::Attestation],
        CleanType::Sbom => &[Attachment::Sbom],
        CleanType::All => &[
            Attachment::Signature,
            Attachment::Attestation,
            Attachment::Sbom,
        ],
    };
    let mut deleted = Vec::new();
    for kind in kinds {
        let at = attach::attachment_ref(&image, &digest, *kind)?;
        if let Some(h) = registry.head_manifest(Repo::from(&at), at.reference())?
            && registry.delete_manifest(Repo::from(&at), &h.digest)?
        {
            deleted.push(at.to_string());
        }
    }
    // Referrers: bundle referrers are signatures when they carry cosign's sign predicate,
    // attestations otherwise.
    let wanted = |d: &Descriptor| -> bool {
        let pt = d.annotation(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE);
        match d.artifact_type.as_deref() {
            Some(mf::COSIGN_SIG_ARTIFACT) => kinds.contains(&Attachment::Signature),
            Some(mf::COSIGN_ATT_ARTIFACT) => kinds.contains(&Attachment::Attestation),
            Some(mf::SIGSTORE_BUNDLE_V03) => {
                if pt == Some(COSIGN_SIGN_PREDICATE) {
                    kinds.contains(&Attachment::Signature)
                } else {
                    kinds.contains(&Attachment::Attestation)
                }
            }
            _ => false,
        }
    };
    let gone: Vec<Descriptor> = attach::referrers(&registry, &image, &digest, &[])?
        .into_iter()
        .filter(|d| wanted(d))
        .collect();
    for d in &gone {
        registry.delete_manifest(Repo::from(&image), &d.digest)?;
        deleted.push(image.with_digest(&d.digest));
    }
    if !gone.is_empty() && registry.referrers(Repo::from(&image), &digest)?.is_none() {
        attach::update_fallback_index(&registry, &image, &digest, |i| {
            let before = i.manifests.len();
            i.manifests
                .retain(|m| !gone.iter().any(|g| g.digest == m.digest));
            i.manifests.len() != before
        })?;
    }
    match args.output {
        OutputFormat::Json => {
            print_json(&json!({"image": image.with_digest(&digest), "deleted": deleted}))
        }
        OutputFormat::Text => {
            if deleted.is_empty() {
                errln!("Nothing to delete for {}", image.with_digest(&digest));
            }
            for d in deleted {
                errln!("Deleted {d}");
            }
            Ok(())
        }
    }
}

pub fn copy(args: CopyImage) -> Result<()> {
    let registry = registry(&args.registry)?;
    let src = ImageRef::parse(&args.source)?;
    let mut dst = ImageRef::parse(&args.destination)?;
    // A bare repository destination keeps the source's tag.
    if dst.digest().is_none() && dst.tag().is_none() {
        dst = dst.at(src.tag().or(src.digest()).unwrap_or("latest"));
    }
    let attachments: Vec<Attachment> = if args.sig_only {
        vec![Attachment::Signature]
    } else if args.only.is_empty() {
        vec![
            Attachment::Signature,
            Attachment::Attestation,
            Attachment::Sbom,
        ]
    } else {
        args.only
            .iter()
            .map(|o| match o.trim() {
                "sig" => Ok(Attachment::Signature),
                "att" => Ok(Attachment::Attestation),
                "sbom" => Ok(Attachment::Sbom),
                other => Err(anyhow!("--only {other:?}: expected sig, att or sbom")),
            })
            .collect::<Result<_>>()?
    };
    let report = sigil_oci::copy::copy(
        &registry,
        &src,
        &dst,
        &sigil_oci::copy::CopyOptions {
            attachments,
            referrers: !args.sig_only,
            force: args.force,
        },
    )?;
    match args.output {
        OutputFormat::Json => print_json(
            &json!({"source": src.to_string(), "destination": dst.to_string(), "report": report}),
        ),
        OutputFormat::Text => {
            errln!(
                "Copied {} to {} ({} manifests, {} blobs copied, {} already there)",
                src.with_digest(&report.digest),
                dst,
                report.manifests,
                report.blobs_copied,
                report.blobs_skipped
            );
            for a in report.attachments.iter().chain(&report.referrers) {
                errln!("  with {a}");
            }
            Ok(())
        }
    }
}

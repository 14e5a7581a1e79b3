//! Container images: `sign`, `verify`, `attest`, `verify-attestation`, `tree`, `download`,
//! `clean` and `copy`, in cosign's storage layout.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sigil_image::{Failure, ImageVerdict, Logs, Policy, Wanted};
use sigil_oci::attach::{self, Target, Written};
use sigil_oci::manifest::{self as mf};
use sigil_oci::{Attachment, ImageRef, Registry, RegistryError};

use crate::attest::{read_predicate, resolve_type};
use crate::cli::{
    AttestImage, Clean, CleanType, CopyImage, DownloadAttestation, DownloadCmd, OutputFormat,
    ReferrersMode, SignImage, Tree, VerifyAttestation, VerifyImage,
};
use crate::oci_cmd::{ImageFailure, registry};
use crate::support::print_json;

/// Exit code: the image has no signatures (cosign's 10).
pub const EXIT_NO_SIGNATURES: u8 = 10;
/// Exit code: signatures exist, none verifies (cosign's 12).
pub const EXIT_NO_MATCHING: u8 = 12;
/// Exit code: an identity is required and no signature carries a certificate (cosign's 13).
pub const EXIT_NO_CERTIFICATE: u8 = 13;

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
        timestamp: None,
    }
}

pub fn sign(args: SignImage) -> Result<()> {
    let images: Vec<ImageRef> = args
        .images
        .iter()
        .map(|i| ImageRef::parse(i))
        .collect::<Result<_, _>>()?;
    let registry = registry(&args.registry)?.writing();
    let crate::support::Signing {
        signer: key,
        log,
        tsa,
    } = crate::support::signing(args.key.as_deref(), &args.certificate, &args.tlog)?;
    let options = image_options(
        args.registry_referrers_mode,
        args.recursive,
        args.annotations.iter().cloned().collect(),
        args.sign_container_identity.clone(),
    );
    let options = sigil_sign::image::ImageOptions {
        timestamp: tsa,
        ..options
    };
    let mut report = Vec::new();
    for image in &images {
        for s in sigil_sign::image::sign(&registry, image, key.as_ref(), &options, log.as_ref())? {
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
    let crate::support::Signing {
        signer: key,
        log,
        tsa,
    } = crate::support::signing(args.key.as_deref(), &args.certificate, &args.tlog)?;
    let options = image_options(
        args.registry_referrers_mode,
        args.recursive,
        BTreeMap::new(),
        None,
    );
    let options = sigil_sign::image::ImageOptions {
        timestamp: tsa,
        ..options
    };
    let mut report = Vec::new();
    for image in &images {
        let signed = sigil_sign::image::attest(
            &registry,
            image,
            key.as_ref(),
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

/// The exit code of an image that did not verify: cosign's 10 (no signatures), 12 (none
/// matching), 13 (none carries a certificate, when an identity is required), 11 (no such
/// image), 14 (registry unreachable), else 3.
fn failure_code(f: &Failure) -> u8 {
    match f {
        Failure::NoSignatures { .. } => EXIT_NO_SIGNATURES,
        Failure::NoMatching { rejected, .. }
            if !rejected.is_empty()
                && rejected
                    .iter()
                    .all(|r| r.reason == sigil_image::Reason::NoCertificate) =>
        {
            EXIT_NO_CERTIFICATE
        }
        Failure::NoMatching { .. } => EXIT_NO_MATCHING,
        Failure::Registry(RegistryError::NoSuchImage { .. }) => crate::oci_cmd::EXIT_NO_SUCH_TAG,
        Failure::Registry(RegistryError::Unreachable { .. }) => {
            crate::oci_cmd::EXIT_REGISTRY_UNREACHABLE
        }
        Failure::Registry(_) => crate::support::EXIT_ERROR,
    }
}

/// The failure's message with its causes, as the other errors are printed.
fn failure_message(f: &Failure) -> String {
    anyhow::Chain::new(f).fold(String::new(), |mut s, c| {
        let t = c.to_string();
        if !s.contains(&t) {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&t);
        }
        s
    })
}

fn report_outcomes(
    outcomes: &[ImageVerdict],
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
                        "verified": o.failure.is_none(),
                        "exitCode": o.failure.as_ref().map_or(0, failure_code),
                        "error": o.failure.as_ref().map(failure_message),
                        "rejections": o.manifests.iter().flat_map(|(_, f)| &f.rejected).collect::<Vec<_>>(),
                        "registryRequests": o.requests,
                        "manifests": o.manifests.iter().map(|(t, f)| json!({
                            "digest": t.digest,
                            "platform": t.platform,
                            "verified": f.verified.iter().map(|v| json!({
                                "source": v.source.kind(),
                                "location": v.source.reference(),
                                "payload": v.payload,
                            })).collect::<Vec<_>>(),
                            "rejected": f.rejected.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            print_json(&json!({"images": images, "registryRequests": registry.stats()}))?;
        }
        OutputFormat::Text => {
            for o in outcomes {
                if let Some(f) = &o.failure {
                    // One image's failure is printed once, by the caller; with several, each
                    // is printed here and the caller prints a summary.
                    if outcomes.len() > 1 {
                        errln!("Error: {}", with_image(&o.image, &failure_message(f)));
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
    if let Some((o, f)) = outcomes
        .iter()
        .find_map(|o| o.failure.as_ref().map(|f| (o, f)))
    {
        let (code, msg) = (failure_code(f), failure_message(f));
        let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
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

/// The image policy from the verifier's flags: who must have signed (`--key`, or the
/// certificate identity flags), the trust root (`--trusted-root`, `--staging`, else the
/// embedded public-good root) whose logs signatures must be recorded in (`--rekor-url` for
/// entries signatures do not carry) unless the verifier waived the log, and whose CAs and CT
/// logs a signing certificate is checked against.
fn image_policy(signer: &crate::cli::SignerArgs, wanted: Wanted) -> Result<Policy> {
    let mut policy = Policy::requiring(crate::bundle_cmd::requirement(signer)?, wanted);
    let trust = crate::bundle_cmd::trust_material(signer)?;
    policy.require_sct = !signer.insecure_ignore_sct;
    policy.require_timestamp = signer.use_signed_timestamps;
    policy.certificate_extensions = signer.certificate_extensions();
    if signer.tlog.required() {
        policy.logs = Some(Logs {
            trust,
            rekor_url: signer.tlog.rekor_url.clone(),
        });
    } else {
        policy.certificate_trust = Some(trust);
    }
    Ok(policy)
}

pub fn verify(args: VerifyImage) -> Result<()> {
    let registry = registry(&args.registry)?;
    let mut policy = image_policy(&args.signer, Wanted::Signatures)?;
    policy.recursive = args.recursive;
    policy.allowed_references = args.allow_reference.clone();
    policy.annotations = args.annotations.iter().cloned().collect();
    let verdicts = sigil_image::verify_images(&registry, &policy, &args.images, args.max_workers);
    report_outcomes(&verdicts, args.output, &registry, false)
}

pub fn verify_attestation(args: VerifyAttestation) -> Result<()> {
    let predicate_type = resolve_type(&args.type_)?;
    let registry = registry(&args.registry)?;
    let mut policy = image_policy(&args.signer, Wanted::Attestations(predicate_type))?;
    policy.recursive = args.recursive;
    policy.allowed_references = args.allow_reference.clone();
    let verdicts = sigil_image::verify_images(&registry, &policy, &args.images, args.max_workers);
    report_outcomes(&verdicts, args.output, &registry, true)
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
    let inv = sigil_oci::inventory::inventory(&registry, &image, &digest)?;
    let sections: Vec<Value> = inv
        .tags
        .iter()
        .map(|t| {
            let label = match t.kind {
                Attachment::Signature => "Signatures",
                Attachment::Attestation => "Attestations",
                Attachment::Sbom => "SBOMs",
            };
            let layers: Vec<Value> = t
                .layers
                .iter()
                .map(|l| {
                    json!({"digest": l.digest, "mediaType": l.media_type, "size": l.size,
                           "predicateType": l.annotation(mf::ANNOTATION_PREDICATE_TYPE)})
                })
                .collect();
            json!({"kind": label, "location": t.location, "layers": layers})
        })
        .collect();
    let refs = inv.referrers;
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
            let found = sigil_oci::inventory::signatures(&registry, &image, &digest)?;
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
            let found =
                sigil_oci::inventory::attestations(&registry, &image, &digest, want.as_deref())?;
            for envelope in &found {
                outln!("{}", String::from_utf8_lossy(envelope).trim());
            }
            let n = found.len();
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
    let deleted = sigil_oci::inventory::clean(&registry, &image, &digest, kinds)?;
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

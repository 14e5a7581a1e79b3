//! Image verification as a library, for `sigil verify`, `sigil verify-attestation`, the
//! admission webhook and every service that decides on images: resolve the image (and with
//! `recursive` its index's manifests), discover its signatures or attestations (cosign's tag
//! scheme first, then OCI 1.1 referrers), verify each through `sigil-verify` (the log entry
//! from cosign's annotation, or looked up in the log when the verifier requires one), and
//! return a typed [`ImageVerdict`] per image: what was found, what verified, why each that did
//! not verify failed ([`Reason`]), and which registry requests it cost.
//!
//! # Example
//!
//! ```no_run
//! use sigil_image::{Policy, Wanted, verify_image};
//! use sigil_oci::{Registry, RegistryOptions};
//!
//! let registry = Registry::new(&RegistryOptions::default())?;
//! let key = sigil_crypto::PublicKey::from_pem(&std::fs::read("cosign.pub")?)?;
//! let policy = Policy::new(key, Wanted::Signatures);
//! let verdict = verify_image(&registry, &policy, "registry.example/app:v1");
//! match &verdict.failure {
//!     None => println!("verified {}", verdict.digest.unwrap_or_default()),
//!     Some(why) => println!("refused: {why}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod policy;
pub mod sbom;
mod verdict;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use sigil_formats::bundle::{self, Bundle, Envelope};
use sigil_formats::dsse::{COSIGN_SIGN_PREDICATE, Statement};
use sigil_oci::attach::{self, Attached, Source, Target};
use sigil_oci::manifest::{self as mf, Descriptor};
use sigil_oci::{Attachment, ImageRef, Registry, RegistryError};
use sigil_verify::image::{ImageClaims, check_simple_signing, check_statement};
use sigil_verify::{Artifact, CheckName, Options, Report, Requirement, TrustMaterial};

pub use verdict::{Failure, Findings, ImageVerdict, Reason, Rejected, Verified};

/// What to look for on an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Signatures (simple signing, or cosign v3's bundle-form signature statements).
    Signatures,
    /// Attestations with this predicate type.
    Attestations(String),
}

/// Where signatures are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discovery {
    /// cosign's tag scheme, then (when nothing there verifies) OCI 1.1 referrers: what
    /// `sigil verify` reads.
    #[default]
    TagsThenReferrers,
    /// The tag scheme only (a policy's `signatureFormat: legacy`, its default).
    Tags,
    /// Sigstore-bundle referrers only (`signatureFormat: bundle`).
    Referrers,
}

/// The logs every signature must be recorded in: the trust root's, and the log where an entry
/// a signature does not carry is looked up.
#[derive(Debug, Clone)]
pub struct Logs {
    /// The trust root whose logs count.
    pub trust: TrustMaterial,
    /// The log (Rekor v1 API) that is searched for entries signatures do not carry.
    pub rekor_url: String,
}

/// What a signature must satisfy to count.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Who must have signed: a key, or (keyless) a certificate for one of the identities,
    /// chaining to the trust root's CAs (cosign's certificate annotations on tag-scheme
    /// layers, the bundle's certificate on referrers).
    pub requirement: Requirement,
    /// Signatures or attestations of one type.
    pub wanted: Wanted,
    /// Verify every manifest an index lists too.
    pub recursive: bool,
    /// Other repositories a signature may name as its `docker-reference` (`*` for any).
    pub allowed_references: Vec<String>,
    /// Annotations every signature must carry.
    pub annotations: BTreeMap<String, String>,
    /// The logs signatures must be recorded in; `None` when the verifier waived the log
    /// (`--insecure-ignore-tlog`, `--private-infrastructure`). When given, their trust root
    /// also names the CAs and CT logs a signing certificate is checked against.
    pub logs: Option<Logs>,
    /// The trust root for signing certificates when no logs are required (default: Sigstore
    /// public-good).
    pub certificate_trust: Option<TrustMaterial>,
    /// Require a verified SCT in a signing certificate (`false`: cosign's
    /// `--insecure-ignore-sct`, a policy's `insecureIgnoreSCT`).
    pub require_sct: bool,
    /// Certificate identities whose signatures never count (an OrgPolicy's
    /// `denyIdentities`): a signature whose certificate names one is rejected even when it
    /// verifies.
    pub denied_identities: Vec<sigil_verify::Identity>,
    /// Where the signatures are read from: beside the image (the default), or another
    /// repository and a tag prefix (a policy's `source`).
    pub location: attach::Location,
    /// Require a verified RFC 3161 timestamp (cosign's `dev.sigstore.cosign/rfc3161timestamp`
    /// annotation, a bundle's timestamps) from a timestamp authority of the trust root.
    pub require_timestamp: bool,
    /// Where signatures are looked for.
    pub discovery: Discovery,
    /// Certificate extensions signing certificates must carry (OID, value): cosign's
    /// `--certificate-github-workflow-*` flags.
    pub certificate_extensions: Vec<(String, String)>,
}

impl Policy {
    /// A policy requiring `key`'s signatures, nothing else (no log: add [`Policy::logs`]).
    pub fn new(key: PublicKey, wanted: Wanted) -> Self {
        Self::requiring(Requirement::Key(key), wanted)
    }

    /// A policy requiring signatures that satisfy `requirement` (a key, or identities:
    /// add [`Policy::logs`], whose entries give the certificate's signing time).
    pub fn requiring(requirement: Requirement, wanted: Wanted) -> Self {
        Self {
            requirement,
            wanted,
            recursive: false,
            allowed_references: Vec::new(),
            annotations: BTreeMap::new(),
            logs: None,
            certificate_trust: None,
            require_sct: true,
            denied_identities: Vec::new(),
            location: attach::Location::default(),
            require_timestamp: false,
            discovery: Discovery::default(),
            certificate_extensions: Vec::new(),
        }
    }

    /// The trust root the engine checks with: the required logs', else the one given for
    /// certificates, else public-good.
    fn trust(&self) -> &TrustMaterial {
        self.logs
            .as_ref()
            .map(|l| &l.trust)
            .or(self.certificate_trust.as_ref())
            .unwrap_or_else(|| public_good())
    }

    fn options(&self, predicate_type: Option<&str>) -> Options {
        Options {
            require_tlog: self.logs.is_some(),
            predicate_type: predicate_type.map(str::to_owned),
            require_sct: self.require_sct,
            require_timestamp: self.require_timestamp,
            certificate_extensions: self.certificate_extensions.clone(),
        }
    }

    fn what(&self) -> &'static str {
        match self.wanted {
            Wanted::Signatures => "signatures",
            Wanted::Attestations(_) => "attestations",
        }
    }
}

/// Verifies one image argument (a reference by tag or digest) against `policy`.
pub fn verify_image(registry: &Registry, policy: &Policy, arg: &str) -> ImageVerdict {
    let before = sigil_oci::client::thread_stats();
    let mut out = ImageVerdict {
        image: arg.to_owned(),
        digest: None,
        manifests: Vec::new(),
        failure: None,
        requests: Default::default(),
    };
    let run = |out: &mut ImageVerdict| -> Result<(), RegistryError> {
        let image = ImageRef::parse(arg)?;
        let targets: Vec<Target> = match (image.digest(), policy.recursive) {
            // A digest reference needs no round trip unless its platforms are wanted (or the
            // answer is local: saved evidence says whether it holds the image).
            (Some(d), false) if !registry.is_offline() => vec![Target {
                digest: d.to_owned(),
                media_type: String::new(),
                size: 0,
                platform: None,
            }],
            _ => attach::targets(registry, &image, policy.recursive)?,
        };
        out.digest = targets.first().map(|t| t.digest.clone());
        for t in targets {
            let claims = ImageClaims {
                digest: t.digest.clone(),
                repository: image.repository_name(),
                allowed_references: policy.allowed_references.clone(),
                annotations: policy.annotations.clone(),
            };
            let f = match &policy.wanted {
                Wanted::Signatures => find_signatures(registry, &image, policy, &claims)?,
                Wanted::Attestations(p) => find_attestations(registry, &image, policy, p, &claims)?,
            };
            out.manifests.push((t, f));
        }
        Ok(())
    };
    if let Err(e) = run(&mut out) {
        out.failure = Some(Failure::Registry(e));
    } else {
        for (t, f) in &out.manifests {
            if f.seen() == 0 {
                out.failure = Some(Failure::NoSignatures {
                    what: policy.what(),
                    manifest: t.name(),
                    predicate_type: match &policy.wanted {
                        Wanted::Signatures => None,
                        Wanted::Attestations(p) => Some(p.clone()),
                    },
                    other_types: f.other_types.clone(),
                });
                break;
            }
            if f.verified.is_empty() {
                out.failure = Some(Failure::NoMatching {
                    what: policy.what(),
                    manifest: t.name(),
                    rejected: f.rejected.clone(),
                });
                break;
            }
        }
    }
    out.requests = sigil_oci::client::thread_stats().since(&before);
    out
}

/// Verifies every image on `workers` threads sharing one registry client (one connection pool,
/// one token per repository); the verdicts in the order of `images`.
pub fn verify_images(
    registry: &Registry,
    policy: &Policy,
    images: &[String],
    workers: usize,
) -> Vec<ImageVerdict> {
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<ImageVerdict>>> =
        images.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, images.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(arg) = images.get(i) else { break };
                    let v = verify_image(registry, policy, arg);
                    *slots[i]
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(v);
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

fn public_good() -> &'static TrustMaterial {
    static T: std::sync::OnceLock<TrustMaterial> = std::sync::OnceLock::new();
    T.get_or_init(TrustMaterial::public_good)
}

fn digest_of(d: &str) -> Result<Digest, Reason> {
    let bad = || Reason::Claim {
        detail: format!("{d} is not a sha256 digest"),
    };
    let hex = d.strip_prefix("sha256:").ok_or_else(bad)?;
    sigil_crypto::hash::hex_decode(hex)
        .and_then(|b| Digest::from_bytes(HashAlgorithm::Sha256, &b))
        .ok_or_else(bad)
}

/// The engine's first failure as a reason (naming the waiver flags for a missing entry).
fn explain(report: &Report) -> Result<(), Reason> {
    let Some((check, why)) = report.first_failure() else {
        return Ok(());
    };
    let detail = if check == CheckName::TlogEntry && why.starts_with(sigil_verify::NO_TLOG_ENTRY) {
        format!("{why} ({})", sigil_rekor::lookup::WAIVER_HINT)
    } else {
        why.to_owned()
    };
    Err(Reason::Check {
        check,
        detail,
        cause: report.first_reason().cloned(),
    })
}

/// What signed a tag-scheme layer: the verifier's key, or the certificate cosign's annotation
/// carries (when an identity is required).
enum Material {
    Key(PublicKey),
    Certificate { der: Vec<u8>, key: PublicKey },
}

impl Material {
    fn of(policy: &Policy, layer: &Descriptor) -> Result<Self, Reason> {
        if let Requirement::Key(k) = &policy.requirement {
            return Ok(Self::Key(k.clone()));
        }
        let pem = layer
            .annotation(mf::ANNOTATION_CERTIFICATE)
            .ok_or(Reason::NoCertificate)?;
        let bad = |e: sigil_pki::cert::CertError| Reason::Certificate {
            detail: e.to_string(),
        };
        let cert = sigil_pki::cert::Certificate::from_pem(pem.as_bytes()).map_err(bad)?;
        let key = cert.public_key().map_err(bad)?;
        Ok(Self::Certificate {
            der: cert.der().to_vec(),
            key,
        })
    }

    fn key(&self) -> &PublicKey {
        match self {
            Self::Key(k) | Self::Certificate { key: k, .. } => k,
        }
    }

    fn message_bundle(&self, digest: &Digest, signature: Vec<u8>) -> Bundle {
        let alg = digest.algorithm().sigstore_name();
        let d = digest.as_bytes().to_vec();
        match self {
            Self::Key(k) => Bundle::message_signature_with_key(k.hint(), alg, d, signature),
            Self::Certificate { der, .. } => {
                Bundle::message_signature_with_certificate(der.clone(), alg, d, signature)
            }
        }
    }

    fn dsse_bundle(&self, envelope: Envelope) -> Bundle {
        match self {
            Self::Key(_) => Bundle::dsse_with_key(String::new(), envelope),
            Self::Certificate { der, .. } => Bundle::dsse_with_certificate(der.clone(), envelope),
        }
    }
}

/// The log entry a layer carries in cosign's `dev.sigstore.cosign/bundle` annotation, as a
/// bundle log entry (its SET stands in for an inclusion proof, as in cosign); `None` when the
/// layer has no such annotation.
fn layer_tlog_entry(
    layer: &Descriptor,
) -> Result<Option<sigil_formats::bundle::TransparencyLogEntry>, Reason> {
    let Some(ann) = layer.annotation(mf::ANNOTATION_BUNDLE) else {
        return Ok(None);
    };
    let bad = |detail: String| Reason::BundleAnnotation { detail };
    let rekor: Value = serde_json::from_str(ann)
        .map_err(|e| bad(format!("the bundle annotation is not JSON: {e}")))?;
    let old = json!({"base64Signature": "", "rekorBundle": rekor}).to_string();
    match bundle::parse_any(old.as_bytes()).map_err(|e| bad(e.to_string()))? {
        bundle::AnyBundle::Cosign(c) => c
            .to_sigstore()
            .map_err(|e| bad(e.to_string()))?
            .verification_material
            .tlog_entries
            .into_iter()
            .next()
            .map(Some)
            .ok_or_else(|| bad("the bundle annotation holds no log entry".to_owned())),
        bundle::AnyBundle::Sigstore(_) => Err(bad("the bundle annotation is not cosign's".into())),
    }
}

/// Verifies `evidence` with the layer's own log entry, or (when it carries none) with the
/// entry found in the log for `search` and the key.
fn check_with_entry(
    layer: &Descriptor,
    key: &PublicKey,
    logs: &Logs,
    search: &Digest,
    evidence: &Bundle,
    verify: impl Fn(&Bundle) -> Report,
) -> Result<(), Reason> {
    // cosign's annotation carries a SET, no inclusion proof: a v0.1 bundle's evidence.
    let report = match layer_tlog_entry(layer)? {
        Some(entry) => verify(&sigil_rekor::lookup::with_entry(evidence, entry)),
        None => {
            sigil_rekor::lookup::verify_unlogged(&logs.rekor_url, search, key, evidence, &verify)
                .map_err(|e| match e {
                    e @ sigil_rekor::lookup::LookupError::NoEntry { .. } => {
                        Reason::LogEntryMissing {
                            detail: e.to_string(),
                        }
                    }
                    e => Reason::LogUnavailable {
                        detail: e.to_string(),
                    },
                })?
        }
    };
    explain(&report)
}

/// A simple-signing signature layer: signature by the key (or, keyless, the certificate's
/// chain, SCT and identity through the engine), then the claims, then (when logs are
/// required) its log entry.
fn check_legacy(policy: &Policy, a: &Attached, claims: &ImageClaims) -> Result<Value, Reason> {
    let material = Material::of(policy, &a.layer)?;
    let key = material.key();
    let sig = a
        .layer
        .annotation(mf::ANNOTATION_SIGNATURE)
        .ok_or(Reason::NoSignatureAnnotation)?;
    let sig = B64
        .decode(sig.trim())
        .map_err(|e| Reason::SignatureNotBase64 {
            detail: e.to_string(),
        })?;
    key.verify(&a.data, &sig)
        .map_err(|e| Reason::SignatureInvalid {
            detail: e.to_string(),
        })?;
    check_simple_signing(&a.data, claims).map_err(|e| Reason::Claim {
        detail: e.to_string(),
    })?;
    let keyless = matches!(material, Material::Certificate { .. });
    if policy.logs.is_some() || keyless || policy.require_timestamp {
        let alg = key.algorithm().signing_hash();
        let digest = Digest::of(alg, &a.data);
        let b = with_layer_timestamp(policy, &a.layer, material.message_bundle(&digest, sig))?;
        let digests = [
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .map(|h| Digest::of(h, &a.data))
        .collect();
        let artifact = Artifact::from_digests(digests);
        let verify = |b: &Bundle| {
            sigil_verify::verify_bundle(
                b,
                &artifact,
                policy.trust(),
                &policy.requirement,
                &policy.options(None),
            )
        };
        match &policy.logs {
            Some(logs) => check_with_entry(&a.layer, key, logs, &digest, &b, verify)?,
            // Keyless without a required log: the carried entry (if any) still dates the
            // signature within the certificate's validity.
            None => explain(&verify(&with_layer_entry(&a.layer, b.clone())?))?,
        }
        check_denied(policy, &b)?;
    }
    serde_json::from_slice(&a.data).map_err(|e| Reason::Payload {
        detail: e.to_string(),
    })
}

/// A verified signature's certificate must not name a denied identity.
fn check_denied(policy: &Policy, bundle: &Bundle) -> Result<(), Reason> {
    if policy.denied_identities.is_empty() {
        return Ok(());
    }
    let vm = &bundle.verification_material;
    let Some(der) = vm.certificate.as_ref().map(|c| &c.raw_bytes.0).or_else(|| {
        vm.x509_certificate_chain
            .as_ref()?
            .certificates
            .first()
            .map(|c| &c.raw_bytes.0)
    }) else {
        return Ok(());
    };
    // The engine verified this certificate already; one that does not parse cannot be here.
    let Ok(cert) = sigil_pki::cert::Certificate::from_der(der) else {
        return Ok(());
    };
    let sans: Vec<String> = cert
        .subject_alternative_names()
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.value().map(str::to_owned))
        .collect();
    let issuer = cert.fulcio_issuer().ok().flatten().unwrap_or_default();
    for d in &policy.denied_identities {
        if let Some(san) = sans.iter().find(|s| d.subject.matches(s))
            && d.issuer.matches(&issuer)
        {
            return Err(Reason::IdentityDenied {
                identity: san.clone(),
                issuer,
            });
        }
    }
    Ok(())
}

/// `b` with the RFC 3161 timestamp cosign's `dev.sigstore.cosign/rfc3161timestamp` annotation
/// carries (`{"SignedRFC3161Timestamp": base64}`), when the verifier uses timestamps (as
/// cosign reads them only with `--use-signed-timestamps`).
fn with_layer_timestamp(
    policy: &Policy,
    layer: &Descriptor,
    mut b: Bundle,
) -> Result<Bundle, Reason> {
    let Some(ann) = layer
        .annotation(mf::ANNOTATION_RFC3161)
        .filter(|_| policy.require_timestamp)
    else {
        return Ok(b);
    };
    let bad = |detail: String| Reason::Malformed {
        detail: format!("the {} annotation: {detail}", mf::ANNOTATION_RFC3161),
    };
    let v: Value = serde_json::from_str(ann).map_err(|e| bad(e.to_string()))?;
    let der = v["SignedRFC3161Timestamp"]
        .as_str()
        .ok_or_else(|| bad("no SignedRFC3161Timestamp".into()))
        .and_then(|t| B64.decode(t.trim()).map_err(|e| bad(e.to_string())))?;
    b.verification_material.timestamp_verification_data =
        Some(sigil_formats::bundle::TimestampVerificationData {
            rfc3161_timestamps: vec![sigil_formats::bundle::Rfc3161Timestamp {
                signed_timestamp: sigil_formats::bundle::Bytes(der),
            }],
        });
    Ok(b)
}

/// `b` with the entry the layer's bundle annotation carries, if any.
fn with_layer_entry(layer: &Descriptor, b: Bundle) -> Result<Bundle, Reason> {
    Ok(match layer_tlog_entry(layer)? {
        Some(e) => sigil_rekor::lookup::with_entry(&b, e),
        None => b,
    })
}

/// The engine's verdict on a DSSE bundle about the image: signature, predicate type, subject
/// digest, and (when logs are required) its log entry against those logs.
fn dsse_report(
    policy: &Policy,
    bundle: &Bundle,
    predicate_type: &str,
    subject: &Digest,
    logs: Option<&Logs>,
) -> Report {
    let artifact = Artifact::from_digests(vec![subject.clone()]);
    let mut options = policy.options(Some(predicate_type));
    options.require_tlog = logs.is_some();
    sigil_verify::verify_bundle(
        bundle,
        &artifact,
        policy.trust(),
        &policy.requirement,
        &options,
    )
}

/// The statement's claims about the image, once the engine verified the envelope; the payload
/// and the envelope as reported.
fn dsse_claims(bundle: &Bundle, claims: &ImageClaims) -> Result<(Value, Value), Reason> {
    let malformed = |detail: String| Reason::Malformed { detail };
    let envelope = bundle.dsse_envelope.as_ref().ok_or_else(|| {
        malformed("the bundle holds a message signature, not a DSSE envelope".into())
    })?;
    let statement = Statement::parse(&envelope.payload.0).map_err(|e| malformed(e.to_string()))?;
    check_statement(&statement, claims).map_err(|e| Reason::Claim {
        detail: e.to_string(),
    })?;
    let payload =
        serde_json::from_slice(&envelope.payload.0).map_err(|e| malformed(e.to_string()))?;
    Ok((
        payload,
        serde_json::to_value(envelope).map_err(|e| malformed(e.to_string()))?,
    ))
}

/// A DSSE envelope (from `.att` or a bundle referrer) whose bundle carries its own entry (or
/// none is required): signature, predicate type and subject digest by the engine, then the
/// statement's claims.
fn check_dsse(
    policy: &Policy,
    bundle: &Bundle,
    predicate_type: &str,
    claims: &ImageClaims,
) -> Result<(Value, Value), Reason> {
    let subject = digest_of(&claims.digest)?;
    explain(&dsse_report(
        policy,
        bundle,
        predicate_type,
        &subject,
        policy.logs.as_ref(),
    ))?;
    check_denied(policy, bundle)?;
    dsse_claims(bundle, claims)
}

fn check_referrer_bundle(
    policy: &Policy,
    a: &Attached,
    predicate_type: &str,
    claims: &ImageClaims,
) -> Option<Result<Verified, Reason>> {
    if let Source::Referrer { annotations, .. } = &a.source
        && let Some(t) = annotations.get(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE)
        && t != predicate_type
    {
        return None;
    }
    let bundle = match bundle::parse_any(&a.data) {
        Ok(bundle::AnyBundle::Sigstore(b)) => b,
        Ok(_) => {
            return Some(Err(Reason::Malformed {
                detail: "not a Sigstore bundle".into(),
            }));
        }
        Err(e) => {
            return Some(Err(Reason::Malformed {
                detail: e.to_string(),
            }));
        }
    };
    Some(
        check_dsse(policy, &bundle, predicate_type, claims).map(|(payload, envelope)| Verified {
            source: a.source.clone(),
            payload,
            envelope: Some(envelope),
        }),
    )
}

fn rejected(a: &Attached, reason: Reason) -> Rejected {
    Rejected {
        location: a.source.reference().to_owned(),
        reason,
    }
}

fn find_signatures(
    registry: &Registry,
    image: &ImageRef,
    policy: &Policy,
    claims: &ImageClaims,
) -> Result<Findings, RegistryError> {
    let mut f = Findings::default();
    let legacy = if policy.discovery == Discovery::Referrers {
        Vec::new()
    } else {
        attach::read_tag_at(
            registry,
            &policy
                .location
                .tag(image, &claims.digest, Attachment::Signature)?,
            |l| l.media_type == mf::SIMPLE_SIGNING,
        )?
    };
    for a in legacy {
        match check_legacy(policy, &a, claims) {
            Ok(payload) => f.verified.push(Verified {
                source: a.source,
                payload,
                envelope: None,
            }),
            Err(e) => f.rejected.push(rejected(&a, e)),
        }
    }
    // The tag scheme is where Sigil and cosign v2 write; referrers are read when it holds no
    // signature that verifies.
    if !f.verified.is_empty() || policy.discovery == Discovery::Tags {
        return Ok(f);
    }
    let referrers = attach::read_referrers(
        registry,
        &policy.location.repository_of(image)?,
        &claims.digest,
        &[mf::SIGSTORE_BUNDLE_V03, mf::COSIGN_SIG_ARTIFACT],
    )?;
    for a in referrers {
        let outcome = match &a.source {
            Source::Referrer { artifact_type, .. } if artifact_type == mf::COSIGN_SIG_ARTIFACT => {
                if a.layer.media_type != mf::SIMPLE_SIGNING {
                    continue;
                }
                check_legacy(policy, &a, claims).map(|payload| Verified {
                    source: a.source.clone(),
                    payload,
                    envelope: None,
                })
            }
            _ => match check_referrer_bundle(policy, &a, COSIGN_SIGN_PREDICATE, claims) {
                Some(r) => r,
                None => continue,
            },
        };
        match outcome {
            Ok(v) => f.verified.push(v),
            Err(e) => f.rejected.push(rejected(&a, e)),
        }
    }
    Ok(f)
}

fn find_attestations(
    registry: &Registry,
    image: &ImageRef,
    policy: &Policy,
    predicate_type: &str,
    claims: &ImageClaims,
) -> Result<Findings, RegistryError> {
    let mut f = Findings::default();
    let others = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let skip_tags = policy.discovery == Discovery::Referrers;
    let legacy = if skip_tags {
        Vec::new()
    } else {
        attach::read_tag_at(
            registry,
            &policy
                .location
                .tag(image, &claims.digest, Attachment::Attestation)?,
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
        )?
    };
    f.other_types = others.into_inner();
    for a in legacy {
        let outcome = serde_json::from_slice::<Envelope>(&a.data)
            .map_err(|e| Reason::Malformed {
                detail: format!("not a DSSE envelope: {e}"),
            })
            .and_then(|env| {
                let material = Material::of(policy, &a.layer)?;
                let b = with_layer_timestamp(policy, &a.layer, material.dsse_bundle(env))?;
                let Some(logs) = &policy.logs else {
                    let b = match material {
                        Material::Key(_) => b,
                        Material::Certificate { .. } => with_layer_entry(&a.layer, b)?,
                    };
                    return check_dsse(policy, &b, predicate_type, claims);
                };
                // The entry: the layer's annotation, else the log's, found by the image's
                // digest (a dsse entry is indexed under its subjects) and the key; the engine
                // runs once, with it.
                let subject = digest_of(&claims.digest)?;
                check_with_entry(&a.layer, material.key(), logs, &subject, &b, |c| {
                    dsse_report(policy, c, predicate_type, &subject, Some(logs))
                })?;
                check_denied(policy, &b)?;
                dsse_claims(&b, claims)
            });
        match outcome {
            Ok((payload, envelope)) => f.verified.push(Verified {
                source: a.source,
                payload,
                envelope: Some(envelope),
            }),
            Err(e) => f.rejected.push(rejected(&a, e)),
        }
    }
    if !f.verified.is_empty() || policy.discovery == Discovery::Tags {
        return Ok(f);
    }
    let at = policy.location.repository_of(image)?;
    for a in attach::read_referrers(registry, &at, &claims.digest, &[mf::SIGSTORE_BUNDLE_V03])? {
        if let Source::Referrer { annotations, .. } = &a.source
            && let Some(t) = annotations.get(mf::ANNOTATION_BUNDLE_PREDICATE_TYPE)
            && t != predicate_type
            && t != COSIGN_SIGN_PREDICATE
        {
            f.other_types.insert(t.clone());
        }
        match check_referrer_bundle(policy, &a, predicate_type, claims) {
            Some(Ok(v)) => f.verified.push(v),
            Some(Err(e)) => f.rejected.push(rejected(&a, e)),
            None => {}
        }
    }
    Ok(f)
}

//! The verification steps. Each records a named check; the first failure ends verification.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use sigil_formats::bundle::{Bundle, BundleVersion, TransparencyLogEntry};
use sigil_formats::dsse::{self, Statement};
use sigil_formats::rekor::{self, EntryBody, Verifier};
use sigil_formats::time::Timestamp;
use sigil_formats::trust_root::{LogInstance, TrustedRoot};
use sigil_pki::cert::{Certificate, OID_EKU_CODE_SIGNING};
use sigil_pki::chain::{Purpose, verify_chain};
use sigil_tlog::checkpoint::{Checkpoint, NoteVerifier};
use sigil_tlog::merkle;

use crate::report::{CheckName as C, Failure, Reason, Report};

/// A value in double quotes with JSON's escapes, for messages (never Rust's `Debug` text).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Values as a JSON list, for messages.
fn quoted_list(items: &[&str]) -> String {
    serde_json::Value::from(items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).to_string()
}

const PUBLIC_GOOD: &[u8] = include_bytes!("../roots/public-good.json");
const STAGING: &[u8] = include_bytes!("../roots/staging.json");

/// A trust root prepared for verification: parsed keys and checkpoint verifiers, built once and
/// reused for every bundle.
#[derive(Debug, Clone)]
pub struct TrustMaterial {
    root: TrustedRoot,
    tlog_keys: Vec<Option<PublicKey>>,
    note_verifiers: Vec<(usize, NoteVerifier)>,
}

impl TrustMaterial {
    /// Prepares a trust root.
    pub fn new(root: TrustedRoot) -> Self {
        let tlog_keys: Vec<Option<PublicKey>> = root
            .tlogs
            .iter()
            .map(|l| PublicKey::from_spki_der(&l.public_key).ok())
            .collect();
        let note_verifiers = root
            .tlogs
            .iter()
            .zip(&tlog_keys)
            .enumerate()
            .filter_map(|(i, (l, k))| Some((i, NoteVerifier::new(l.origin(), k.clone()?))))
            .collect();
        Self {
            root,
            tlog_keys,
            note_verifiers,
        }
    }

    /// Sigstore's public-good trust root, embedded in the binary (nothing is fetched).
    pub fn public_good() -> Self {
        Self::new(
            TrustedRoot::parse(PUBLIC_GOOD).unwrap_or_else(|e| unreachable!("embedded root: {e}")),
        )
    }

    /// Sigstore's staging trust root, embedded in the binary.
    pub fn staging() -> Self {
        Self::new(
            TrustedRoot::parse(STAGING).unwrap_or_else(|e| unreachable!("embedded root: {e}")),
        )
    }

    /// The underlying trust root.
    pub fn root(&self) -> &TrustedRoot {
        &self.root
    }
}

/// A string requirement: exact, or a regular expression (unanchored, as cosign's `-regexp` flags).
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Must equal.
    Exact(String),
    /// Must match.
    Regex(regex::Regex),
}

impl Matcher {
    /// Whether `s` satisfies the requirement.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Self::Exact(e) => e == s,
            Self::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(e) => f.write_str(&quoted(e)),
            Self::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Requirement {
    /// A specific key.
    Key(PublicKey),
    /// A Fulcio certificate for this identity (SAN) and OIDC issuer.
    Identity {
        /// The SAN (email or URI).
        identity: Matcher,
        /// The OIDC issuer.
        issuer: Matcher,
    },
    /// A Fulcio certificate for any one of these identities (a policy's `identities[]`).
    AnyIdentity(Vec<Identity>),
}

/// One identity a certificate may carry: its SAN and its OIDC issuer.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The SAN (email or URI).
    pub subject: Matcher,
    /// The OIDC issuer.
    pub issuer: Matcher,
}

/// The artefact's digests (at least SHA-256; others when the bundle names another hash).
#[derive(Debug, Clone)]
pub struct Artifact {
    digests: Vec<Digest>,
}

impl Artifact {
    /// From digests computed by the caller (or given as `sha256:<hex>`).
    pub fn from_digests(digests: Vec<Digest>) -> Self {
        Self { digests }
    }

    /// The digest of `alg`, if known.
    pub fn digest(&self, alg: HashAlgorithm) -> Option<&Digest> {
        self.digests.iter().find(|d| d.algorithm() == alg)
    }
}

/// How the engine's tlog-entry failure for evidence without any entry begins.
pub const NO_TLOG_ENTRY: &str = "the bundle has no transparency log entry";

/// Verification options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Require a verified transparency log entry when the trust root lists logs (cosign's
    /// default; `--insecure-ignore-tlog` or `--private-infrastructure` turn it off). The
    /// caller decides it; what the bundle carries never does.
    pub require_tlog: bool,
    /// For DSSE bundles: the in-toto predicate type the statement must have.
    pub predicate_type: Option<String>,
    /// Require a verified SCT in a signing certificate (cosign's default;
    /// `--insecure-ignore-sct`, a policy's `insecureIgnoreSCT` turn it off).
    pub require_sct: bool,
    /// Require a verified RFC 3161 timestamp from one of the trust root's timestamp
    /// authorities (a policy's `rfc3161timestamp`, cosign's `--use-signed-timestamps`).
    pub require_timestamp: bool,
    /// Fulcio certificate extensions the signing certificate must carry with exactly these
    /// values, as (dotted OID, value): cosign's `--certificate-github-workflow-*` flags. The
    /// legacy GitHub extensions (1.3.6.1.4.1.57264.1.2 to .6) hold raw bytes, the later ones a
    /// DER UTF8String; both are compared as text.
    pub certificate_extensions: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            require_tlog: true,
            predicate_type: None,
            require_sct: true,
            certificate_extensions: Vec::new(),
            require_timestamp: false,
        }
    }
}

/// Who signed, once the material is understood.
enum Signer {
    Key(PublicKey),
    Cert {
        leaf: Box<Certificate>,
        key: PublicKey,
    },
}

impl Signer {
    fn key(&self) -> &PublicKey {
        match self {
            Self::Key(k) | Self::Cert { key: k, .. } => k,
        }
    }
}

/// What the bundle signed.
enum Content<'a> {
    Message {
        signature: &'a [u8],
        digest: Option<Digest>,
    },
    Dsse {
        payload_type: &'a str,
        payload: &'a [u8],
        signature: &'a [u8],
    },
}

macro_rules! step {
    ($report:expr, $name:expr, $e:expr) => {
        match $e {
            Ok(detail) => $report.pass($name, detail),
            Err(why) => {
                $report.fail($name, why);
                return;
            }
        }
    };
}

/// Verifies a bundle; the report names every check and the first failure.
pub fn verify_bundle(
    bundle: &Bundle,
    artifact: &Artifact,
    trust: &TrustMaterial,
    requirement: &Requirement,
    options: &Options,
) -> Report {
    let mut report = Report::default();
    run(&mut report, bundle, artifact, trust, requirement, options);
    report
}

fn run(
    report: &mut Report,
    bundle: &Bundle,
    artifact: &Artifact,
    trust: &TrustMaterial,
    requirement: &Requirement,
    options: &Options,
) {
    let version = match check_bundle(bundle) {
        Ok(v) => {
            report.pass(C::Bundle, format!("{v} bundle"));
            v
        }
        Err(why) => {
            report.fail(C::Bundle, why);
            return;
        }
    };
    let vm = &bundle.verification_material;

    // Material and requirement.
    let signer = match (requirement, &vm.public_key, leaf_der(bundle)) {
        (Requirement::Key(k), Some(_), None) => {
            report.pass(C::Material, format!("key {}", k.hint()));
            Signer::Key(k.clone())
        }
        (Requirement::Key(_), _, Some(_)) => {
            report.fail(
                C::Material,
                "the bundle carries a certificate, but a key was given to verify with",
            );
            return;
        }
        (Requirement::Identity { .. } | Requirement::AnyIdentity(_), Some(_), None) => {
            report.fail(
                C::Material,
                "the bundle is signed with a key, but no key was given (pass --key)",
            );
            return;
        }
        (Requirement::Identity { .. } | Requirement::AnyIdentity(_), _, Some(der)) => {
            match Certificate::from_der(der).and_then(|c| Ok((c.public_key()?, c))) {
                Ok((key, leaf)) => {
                    report.pass(C::Material, "leaf certificate");
                    Signer::Cert {
                        leaf: Box::new(leaf),
                        key,
                    }
                }
                Err(e) => {
                    report.fail(
                        C::Material,
                        format!("the bundle's certificate is unusable: {e}"),
                    );
                    return;
                }
            }
        }
        _ => {
            report.fail(
                C::Material,
                "the bundle has no verification material (key or certificate)",
            );
            return;
        }
    };

    // Signature and artefact.
    let content = match (&bundle.message_signature, &bundle.dsse_envelope) {
        (Some(ms), _) => {
            let digest = match &ms.message_digest {
                Some(d) => match HashAlgorithm::from_sigstore_name(&d.algorithm)
                    .and_then(|a| Digest::from_bytes(a, &d.digest.0))
                {
                    Some(d) => Some(d),
                    None => {
                        report.fail(
                            C::Bundle,
                            format!("unsupported or malformed messageDigest ({})", d.algorithm),
                        );
                        return;
                    }
                },
                None => None,
            };
            Content::Message {
                signature: &ms.signature.0,
                digest,
            }
        }
        (None, Some(env)) => {
            let Some(sig) = env.signatures.first() else {
                report.fail(C::Bundle, "the DSSE envelope has no signatures");
                return;
            };
            Content::Dsse {
                payload_type: &env.payload_type,
                payload: &env.payload.0,
                signature: &sig.sig.0,
            }
        }
        (None, None) => unreachable!("check_bundle requires content"),
    };
    match &content {
        Content::Message { signature, digest } => {
            let alg = digest
                .as_ref()
                .map_or(HashAlgorithm::Sha256, Digest::algorithm);
            let Some(actual) = artifact.digest(alg) else {
                report.fail(
                    C::Artifact,
                    format!("the bundle signs a {alg} digest, which is not known for the artefact"),
                );
                return;
            };
            if let Some(claimed) = digest {
                step!(
                    report,
                    C::Artifact,
                    if claimed == actual {
                        Ok(format!("artefact is {actual}"))
                    } else {
                        Err(format!(
                            "the bundle was made for other content: its messageDigest is {claimed}, but the artefact is {actual}"
                        ))
                    }
                );
            } else {
                report.pass(C::Artifact, format!("artefact is {actual}"));
            }
            step!(
                report,
                C::Signature,
                signer
                    .key()
                    .verify_digest(actual, signature)
                    .map(|_| format!("signed by {}", signer.key().algorithm()))
                    .map_err(|e| e.to_string())
            );
        }
        Content::Dsse {
            payload_type,
            payload,
            signature,
        } => {
            let pae = dsse::pae(payload_type, payload);
            // Pure Ed25519 (Sigstore's PKIX_ED25519) or, for cosign keys, Ed25519ph; other keys
            // verify the same either way.
            let key = signer.key();
            let ok = key.verify_message(&pae, signature).or_else(|e| {
                if key.algorithm() == sigil_crypto::KeyAlgorithm::Ed25519 {
                    key.verify(&pae, signature)
                } else {
                    Err(e)
                }
            });
            step!(
                report,
                C::Signature,
                ok.map(|_| "DSSE envelope signature".to_owned())
                    .map_err(|e| format!("the DSSE envelope signature does not verify: {e}"))
            );
            step!(
                report,
                C::Artifact,
                check_statement(
                    payload_type,
                    payload,
                    artifact,
                    options.predicate_type.as_deref()
                )
            );
        }
    }

    // Transparency log.
    let mut times: Vec<(Timestamp, &'static str)> = Vec::new();
    // Logs of entries without a SET (Rekor v2): their key's window is checked against the
    // verified timestamp times below.
    let mut unstamped_logs: Vec<usize> = Vec::new();
    let need_tlog = options.require_tlog && !trust.root.tlogs.is_empty();
    if vm.tlog_entries.is_empty() {
        if need_tlog {
            report.fail(
                C::TlogEntry,
                Failure::new(
                    Reason::LogEntryMissing,
                    format!("{NO_TLOG_ENTRY}, and the verifier requires one"),
                ),
            );
            return;
        }
        report.skip(C::TlogEntry, "no transparency log entry");
    }
    for entry in &vm.tlog_entries {
        let Some(log_index) = trust.root.tlogs.iter().position(|l| {
            l.log_id == entry.log_id.key_id.0
                || l.checkpoint_key_id.as_deref() == Some(&entry.log_id.key_id.0[..])
        }) else {
            report.fail(
                C::TlogEntry,
                format!(
                    "the entry comes from a log the trust root does not know (log ID {})",
                    STANDARD.encode(&entry.log_id.key_id.0)
                ),
            );
            return;
        };
        let log = &trust.root.tlogs[log_index];
        step!(
            report,
            C::TlogEntry,
            check_entry_body(entry, &content, &signer, artifact)
        );
        match &entry.inclusion_proof {
            Some(proof) => {
                let leaf = merkle::leaf_hash(&entry.canonicalized_body.0);
                let hashes: Result<Vec<merkle::Hash>, _> = proof
                    .hashes
                    .iter()
                    .map(|h| <[u8; 32]>::try_from(h.0.as_slice()))
                    .collect();
                let root: Result<merkle::Hash, _> = proof.root_hash.0.as_slice().try_into();
                let r = match (
                    hashes,
                    root,
                    u64::try_from(proof.log_index.0),
                    u64::try_from(proof.tree_size.0),
                ) {
                    (Ok(h), Ok(root), Ok(i), Ok(n)) => {
                        merkle::verify_inclusion(i, n, &leaf, &h, &root)
                            .map(|_| format!("entry {i} of {n}"))
                            .map_err(|e| e.to_string())
                    }
                    _ => Err("the inclusion proof has malformed hashes or a negative index".into()),
                };
                step!(report, C::InclusionProof, r);
                match &proof.checkpoint {
                    Some(cp) => step!(
                        report,
                        C::Checkpoint,
                        check_checkpoint(&cp.envelope, proof, log_index, trust)
                    ),
                    None if version >= BundleVersion::V02 => {
                        report.fail(
                            C::Checkpoint,
                            "the inclusion proof has no checkpoint (required from bundle v0.2)",
                        );
                        return;
                    }
                    None => report.skip(C::Checkpoint, "v0.1 bundle without checkpoint"),
                }
            }
            None if version >= BundleVersion::V02 => {
                report.fail(
                    C::InclusionProof,
                    "the log entry has no inclusion proof (required from bundle v0.2)",
                );
                return;
            }
            None => report.skip(
                C::InclusionProof,
                "v0.1 bundle: the signed entry timestamp stands in for the proof",
            ),
        }
        match &entry.inclusion_promise {
            Some(set) => {
                let Some(key) = &trust.tlog_keys[log_index] else {
                    report.fail(
                        C::SignedEntryTimestamp,
                        format!("the trust root's key for {} is unusable", log.base_url),
                    );
                    return;
                };
                step!(
                    report,
                    C::SignedEntryTimestamp,
                    check_set(entry, &set.signed_entry_timestamp.0, log, key)
                );
                let t = Timestamp::from_unix(entry.integrated_time.0);
                if !log.validity.contains(t) {
                    report.fail(
                        C::TlogEntry,
                        format!(
                            "the log {} was not trusted at the entry's integrated time {}",
                            log.base_url,
                            t.to_rfc3339()
                        ),
                    );
                    return;
                }
                times.push((t, "signed entry timestamp"));
            }
            None if entry.inclusion_proof.is_none() => {
                report.fail(
                    C::SignedEntryTimestamp,
                    "the log entry has neither an inclusion proof nor a signed entry timestamp",
                );
                return;
            }
            None => {
                unstamped_logs.push(log_index);
                report.skip(C::SignedEntryTimestamp, "no signed entry timestamp")
            }
        }
    }

    // RFC 3161 timestamps.
    let stamped = match &content {
        Content::Message { signature, .. } | Content::Dsse { signature, .. } => *signature,
    };
    let tokens = vm
        .timestamp_verification_data
        .as_ref()
        .map(|t| t.rfc3161_timestamps.as_slice())
        .unwrap_or_default();
    if tokens.is_empty() {
        if options.require_timestamp {
            report.fail(
                C::Timestamp,
                "the signature has no RFC 3161 timestamp, and the verifier requires one",
            );
            return;
        }
        report.skip(C::Timestamp, "no RFC 3161 timestamp");
    }
    for token in tokens {
        match sigil_pki::tsa::verify_timestamp(
            &token.signed_timestamp.0,
            stamped,
            &trust.root.timestamp_authorities,
        ) {
            Ok(v) => {
                report.pass(
                    C::Timestamp,
                    format!("timestamped at {}", v.time.to_rfc3339()),
                );
                times.push((v.time, "RFC 3161 timestamp"));
            }
            Err(e) => {
                report.fail(C::Timestamp, e.to_string());
                return;
            }
        }
    }

    // A log key is trusted only within its window: entries without a SET are dated by the
    // verified RFC 3161 timestamps.
    for i in &unstamped_logs {
        let log = &trust.root.tlogs[*i];
        let stamped: Vec<Timestamp> = times
            .iter()
            .filter(|(_, src)| *src == "RFC 3161 timestamp")
            .map(|(t, _)| *t)
            .collect();
        if !stamped.is_empty() && !stamped.iter().any(|t| log.validity.contains(*t)) {
            report.fail(
                C::TlogEntry,
                format!(
                    "the log {} was not trusted at the timestamp time {}",
                    log.base_url,
                    stamped[0].to_rfc3339()
                ),
            );
            return;
        }
    }

    let Signer::Cert { leaf, .. } = &signer else {
        return;
    };
    if times.is_empty() {
        report.fail(C::VerifiedTime, "no trusted time for the signature: the bundle has neither a signed entry timestamp nor an RFC 3161 timestamp");
        return;
    }
    report.pass(
        C::VerifiedTime,
        times
            .iter()
            .map(|(t, src)| format!("{} ({src})", t.to_rfc3339()))
            .collect::<Vec<_>>()
            .join(", "),
    );

    // The certificate at every verified time.
    for (t, src) in &times {
        if !leaf.valid_at(*t) {
            let (at, not_before, not_after) = (
                t.to_rfc3339(),
                leaf.not_before().to_rfc3339(),
                leaf.not_after().to_rfc3339(),
            );
            let detail = format!(
                "the {src} time {at} is outside the certificate's validity {not_before} .. {not_after}"
            );
            report.fail(
                C::CertificateValidity,
                Failure::new(
                    Reason::CertificateExpired {
                        at,
                        not_before,
                        not_after,
                    },
                    detail,
                ),
            );
            return;
        }
    }
    report.pass(
        C::CertificateValidity,
        "every verified time is within the certificate's validity",
    );
    let mut issuer = None;
    for (t, _) in &times {
        let mut reasons = Vec::new();
        let found = trust.root.certificate_authorities.iter().find_map(|ca| {
            if !ca.validity.contains(*t) {
                reasons.push(format!(
                    "{} not valid at {}",
                    ca.uri.as_deref().unwrap_or("a CA"),
                    t.to_rfc3339()
                ));
                return None;
            }
            verify_chain(leaf, &ca.chain, *t, Purpose::CodeSigning)
                .map_err(|e| reasons.push(e.to_string()))
                .ok()
        });
        match found {
            Some(i) => issuer = Some(i),
            None => {
                report.fail(
                    C::CertificateChain,
                    format!(
                        "the certificate does not chain to a trusted CA at {}: {}",
                        t.to_rfc3339(),
                        if reasons.is_empty() {
                            "the trust root lists no CA".into()
                        } else {
                            reasons.join("; ")
                        }
                    ),
                );
                return;
            }
        }
    }
    report.pass(
        C::CertificateChain,
        "chains to a trusted CA at every verified time",
    );
    let Some(issuer) = issuer else { return };
    step!(report, C::CertificateUsage, check_usage(leaf));
    if options.require_sct {
        step!(
            report,
            C::Sct,
            sigil_pki::sct::verify_embedded_scts(leaf, &issuer, &trust.root.ctlogs)
                .map(|s| format!("{} SCT(s) verified", s.len()))
                .map_err(|e| e.to_string())
        );
    } else {
        report.skip(C::Sct, "waived by the verifier (insecure-ignore-sct)");
    }
    match requirement {
        Requirement::Identity { identity, issuer } => {
            let one = [Identity {
                subject: identity.clone(),
                issuer: issuer.clone(),
            }];
            step!(report, C::Identity, check_identity(leaf, &one));
        }
        Requirement::AnyIdentity(ids) => {
            step!(report, C::Identity, check_identity(leaf, ids));
        }
        Requirement::Key(_) => {}
    }
    if !options.certificate_extensions.is_empty() {
        step!(
            report,
            C::Identity,
            check_extensions(leaf, &options.certificate_extensions)
        );
    }
}

/// A Fulcio extension's value as text: a DER UTF8String's contents, else the raw bytes (the
/// legacy extensions).
fn extension_text(leaf: &Certificate, oid: &str) -> Option<String> {
    let v = leaf.extension_value(oid)?;
    let inner = sigil_pki::tlv::read_only(v, 0x0c).map_or(v, |t| t.value);
    Some(String::from_utf8_lossy(inner).into_owned())
}

fn check_extensions(leaf: &Certificate, wanted: &[(String, String)]) -> Result<String, Failure> {
    for (oid, want) in wanted {
        let got = extension_text(leaf, oid);
        if got.as_deref() != Some(want.as_str()) {
            let shown = got.clone().unwrap_or_default();
            return Err(Failure::new(
                Reason::ExtensionMismatch {
                    oid: oid.clone(),
                    wanted: want.clone(),
                    got: shown,
                },
                match got {
                    Some(g) => format!(
                        "the certificate's extension {oid} is {} (expected {})",
                        quoted(&g),
                        quoted(want)
                    ),
                    None => format!(
                        "the certificate has no extension {oid} (expected {})",
                        quoted(want)
                    ),
                },
            ));
        }
    }
    Ok(format!(
        "{} certificate extension(s) as required",
        wanted.len()
    ))
}

fn leaf_der(bundle: &Bundle) -> Option<&[u8]> {
    let vm = &bundle.verification_material;
    vm.certificate
        .as_ref()
        .map(|c| c.raw_bytes.0.as_slice())
        .or_else(|| {
            vm.x509_certificate_chain
                .as_ref()?
                .certificates
                .first()
                .map(|c| c.raw_bytes.0.as_slice())
        })
}

fn check_bundle(bundle: &Bundle) -> Result<BundleVersion, String> {
    let v = bundle.validate().map_err(|e| e.to_string())?;
    let vm = &bundle.verification_material;
    let kinds = [
        vm.public_key.is_some(),
        vm.certificate.is_some(),
        vm.x509_certificate_chain.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if kinds > 1 {
        return Err("the bundle has more than one kind of verification material".into());
    }
    if let Some(chain) = &vm.x509_certificate_chain {
        if chain.certificates.is_empty() {
            return Err("the bundle's x509CertificateChain has no certificates".into());
        }
        for c in &chain.certificates[1..] {
            let cert = Certificate::from_der(&c.raw_bytes.0)
                .map_err(|e| format!("a certificate in the bundle's chain is malformed: {e}"))?;
            if cert.is_self_issued() {
                return Err("the bundle's certificate chain contains a root certificate; roots must come from the trust root".into());
            }
        }
    }
    if v >= BundleVersion::V03 && vm.x509_certificate_chain.is_some() {
        return Err("a v0.3 bundle carries its signing certificate as `certificate`; x509CertificateChain is not allowed from v0.3".into());
    }
    for e in &vm.tlog_entries {
        if e.log_index.0 < 0 {
            return Err(format!(
                "a log entry has a negative logIndex ({})",
                e.log_index.0
            ));
        }
        if let Some(p) = &e.inclusion_proof {
            if p.log_index.0 < 0 {
                return Err(format!(
                    "a log entry's inclusionProof has a negative logIndex ({})",
                    p.log_index.0
                ));
            }
            if p.tree_size.0 < 0 {
                return Err(format!(
                    "a log entry's inclusionProof has a negative treeSize ({})",
                    p.tree_size.0
                ));
            }
        }
        if e.integrated_time.0 < 0 {
            return Err("a log entry has a negative integrated time".into());
        }
    }
    if bundle
        .message_signature
        .as_ref()
        .is_some_and(|m| m.signature.0.is_empty())
    {
        return Err("the message signature is empty".into());
    }
    Ok(v)
}

fn check_statement(
    payload_type: &str,
    payload: &[u8],
    artifact: &Artifact,
    predicate_type: Option<&str>,
) -> Result<String, Failure> {
    if payload_type != dsse::IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "the DSSE payload type is {}, not an in-toto statement",
            quoted(payload_type)
        )
        .into());
    }
    let st = Statement::parse(payload).map_err(|e| e.to_string())?;
    if let Some(want) = predicate_type {
        if st.predicate_type != want {
            return Err(Failure::new(
                Reason::PredicateTypeMismatch {
                    wanted: want.to_owned(),
                    got: st.predicate_type.clone(),
                },
                format!(
                    "the statement's predicate type is {}, but {} is required",
                    quoted(&st.predicate_type),
                    quoted(want)
                ),
            ));
        }
    }
    let d = artifact
        .digest(HashAlgorithm::Sha256)
        .ok_or("the artefact's sha256 digest is unknown")?;
    if st.has_subject_digest("sha256", &d.to_hex()) {
        Ok(format!(
            "the statement ({}) names the artefact {d}",
            st.predicate_type
        ))
    } else {
        Err(format!("no subject of the in-toto statement has the artefact's digest {d}").into())
    }
}

fn verifier_matches(v: &Verifier, signer: &Signer) -> bool {
    let (cert_der, key_der) = match signer {
        Signer::Cert { leaf, .. } => (Some(leaf.der().to_vec()), None),
        Signer::Key(k) => (None, Some(k.spki_der().to_vec())),
    };
    match v {
        Verifier::CertificateDer(d) => cert_der.as_deref() == Some(d),
        Verifier::PublicKeyDer(d) => key_der.as_deref() == Some(d),
        Verifier::Pem(pem) => match sigil_crypto::pem::decode(pem) {
            Ok(b) if b.label == "CERTIFICATE" => cert_der.as_deref() == Some(&b.contents[..]),
            Ok(b) if b.label == "PUBLIC KEY" => key_der.as_deref() == Some(&b.contents[..]),
            _ => false,
        },
    }
}

fn check_entry_body(
    entry: &TransparencyLogEntry,
    content: &Content<'_>,
    signer: &Signer,
    artifact: &Artifact,
) -> Result<String, String> {
    let kv = &entry.kind_version;
    let body = rekor::parse_body(&entry.canonicalized_body.0, &kv.kind, &kv.version)
        .map_err(|e| e.to_string())?;
    let what = format!("{} {} entry {}", kv.kind, kv.version, entry.log_index.0);
    match (&body, content) {
        (
            EntryBody::HashedRekord {
                signature,
                verifier,
                digest_algorithm,
                digest,
                ..
            },
            Content::Message { signature: sig, .. },
        ) => {
            let actual = artifact.digest(*digest_algorithm).ok_or_else(|| format!("the entry records a {digest_algorithm} digest, which is not known for the artefact"))?;
            if actual.as_bytes() != digest.as_slice() {
                return Err(format!(
                    "the log entry is for other content: it records {digest_algorithm}:{}, the artefact is {actual}",
                    sigil_crypto::hash::hex_lower(digest)
                ));
            }
            if signature != sig {
                return Err("the log entry records a different signature than the bundle".into());
            }
            if !verifier_matches(verifier, signer) {
                return Err(
                    "the log entry records a different signing certificate or key than the bundle"
                        .into(),
                );
            }
        }
        (
            EntryBody::HashedRekord {
                signature,
                verifier,
                digest_algorithm,
                digest,
                ..
            },
            Content::Dsse {
                payload_type,
                payload,
                signature: sig,
            },
        ) => {
            let want = Digest::of(*digest_algorithm, &dsse::pae(payload_type, payload));
            if want.as_bytes() != digest.as_slice() {
                return Err("the log entry records a different DSSE envelope (its digest is not the digest of this envelope's PAE)".into());
            }
            if signature != sig {
                return Err(
                    "the log entry records a different signature than the DSSE envelope's".into(),
                );
            }
            if !verifier_matches(verifier, signer) {
                return Err(
                    "the log entry records a different signing certificate or key than the bundle"
                        .into(),
                );
            }
        }
        (
            EntryBody::Dsse {
                payload_hash,
                signatures,
            },
            Content::Dsse {
                payload, signature, ..
            },
        ) => {
            if Digest::of(payload_hash.0, payload).as_bytes() != payload_hash.1.as_slice() {
                return Err("the log entry records a different DSSE payload".into());
            }
            if !signatures
                .iter()
                .any(|(s, v)| s == signature && verifier_matches(v, signer))
            {
                return Err(
                    "the log entry does not record this envelope's signature and signer".into(),
                );
            }
        }
        (
            EntryBody::Intoto {
                payload_type: pt,
                payload: p,
                payload_hash,
                signatures,
            },
            Content::Dsse {
                payload_type,
                payload,
                signature,
            },
        ) => {
            if pt != payload_type {
                return Err(
                    "the log entry records a different in-toto envelope (payload type)".into(),
                );
            }
            // The payload itself when the body keeps it; Rekor's canonical form keeps only its
            // hash. Whatever is recorded must name this envelope's payload.
            if p.as_deref().is_some_and(|p| p != *payload) {
                return Err("the log entry records a different in-toto envelope payload".into());
            }
            if let Some((alg, h)) = payload_hash
                && Digest::of(*alg, payload).as_bytes() != h.as_slice()
            {
                return Err(
                    "the log entry's payloadHash is not the hash of this envelope's payload".into(),
                );
            }
            if !signatures
                .iter()
                .any(|(s, v)| s == signature && verifier_matches(v, signer))
            {
                return Err(
                    "the log entry does not record this envelope's signature and signer".into(),
                );
            }
        }
        _ => {
            return Err(format!(
                "a {} {} entry cannot record this kind of bundle content",
                kv.kind, kv.version
            ));
        }
    }
    Ok(what)
}

fn check_checkpoint(
    envelope: &str,
    proof: &sigil_formats::bundle::InclusionProof,
    log_index: usize,
    trust: &TrustMaterial,
) -> Result<String, String> {
    let own: Vec<NoteVerifier> = trust
        .note_verifiers
        .iter()
        .filter(|(i, _)| *i == log_index)
        .map(|(_, v)| v.clone())
        .collect();
    let cp = Checkpoint::verify_envelope(envelope, &own).map_err(|e| e.to_string())?;
    if cp.root_hash.as_slice() != proof.root_hash.0.as_slice()
        || i64::try_from(cp.size).ok() != Some(proof.tree_size.0)
    {
        return Err(format!(
            "the checkpoint (size {}) does not match the inclusion proof's root hash and tree size {}",
            cp.size, proof.tree_size.0
        ));
    }
    Ok(format!("{} at size {}", cp.origin, cp.size))
}

fn check_set(
    entry: &TransparencyLogEntry,
    set: &[u8],
    log: &LogInstance,
    key: &PublicKey,
) -> Result<String, String> {
    sigil_tlog::set::verify(
        key,
        set,
        &STANDARD.encode(&entry.canonicalized_body.0),
        entry.integrated_time.0,
        &sigil_crypto::hash::hex_lower(&log.log_id),
        u64::try_from(entry.log_index.0).map_err(|_| "the entry's log index is negative")?,
    )
    .map_err(|e| match e {
        sigil_tlog::set::SetError::Invalid => format!(
            "the signed entry timestamp does not verify with the key of {}",
            log.base_url
        ),
        other => other.to_string(),
    })?;
    Ok(format!(
        "integrated at {}",
        Timestamp::from_unix(entry.integrated_time.0).to_rfc3339()
    ))
}

fn check_usage(leaf: &Certificate) -> Result<String, String> {
    if !leaf
        .has_digital_signature_usage()
        .map_err(|e| e.to_string())?
    {
        return Err("the certificate's key usage does not include digitalSignature".into());
    }
    if !leaf
        .extended_key_usages()
        .map_err(|e| e.to_string())?
        .iter()
        .any(|e| e == OID_EKU_CODE_SIGNING)
    {
        return Err("the certificate's extended key usage does not include code signing".into());
    }
    if leaf.is_ca().map_err(|e| e.to_string())? {
        return Err("the signing certificate is a CA certificate".into());
    }
    Ok("digitalSignature, codeSigning".into())
}

fn check_identity(leaf: &Certificate, wanted: &[Identity]) -> Result<String, Failure> {
    let sans = leaf
        .subject_alternative_names()
        .map_err(|e| e.to_string())?;
    let found: Vec<&str> = sans.iter().filter_map(|s| s.value()).collect();
    let iss = leaf.fulcio_issuer().map_err(|e| e.to_string())?;
    let describe =
        |f: &dyn Fn(&Identity) -> String| wanted.iter().map(f).collect::<Vec<_>>().join(" or ");
    // The first identity whose subject matches a SAN and whose issuer matches.
    let subject_ok: Vec<&Identity> = wanted
        .iter()
        .filter(|w| found.iter().any(|s| w.subject.matches(s)))
        .collect();
    if subject_ok.is_empty() {
        let expected = describe(&|w| w.subject.to_string());
        return Err(Failure::new(
            Reason::IdentityMismatch {
                wanted: expected.clone(),
                got: found.iter().map(|s| (*s).to_owned()).collect(),
            },
            format!(
                "the certificate's identity {} does not match the expected {expected}",
                quoted_list(&found)
            ),
        ));
    }
    let matched = iss
        .as_deref()
        .and_then(|i| subject_ok.iter().find(|w| w.issuer.matches(i)));
    let Some(w) = matched else {
        let got = iss.unwrap_or_default();
        let expected = subject_ok
            .iter()
            .map(|w| w.issuer.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        let detail = if got.is_empty() {
            "the certificate has no OIDC issuer extension".to_owned()
        } else {
            format!(
                "the certificate's OIDC issuer {} does not match the expected {expected}",
                quoted(&got)
            )
        };
        return Err(Failure::new(
            Reason::IssuerMismatch {
                wanted: expected,
                got,
            },
            detail,
        ));
    };
    let san = found
        .iter()
        .find(|s| w.subject.matches(s))
        .copied()
        .unwrap_or_default();
    Ok(format!("{san} from {}", iss.unwrap_or_default()))
}

/// One verification of a batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// The bundle.
    pub bundle: Bundle,
    /// The artefact's digests.
    pub artifact: Artifact,
    /// Who must have signed.
    pub requirement: Requirement,
}

/// Verifies many bundles on `threads` threads (0: every core) with one trust root and one
/// verified-signature cache; reports come back in input order.
pub fn verify_bundles(
    items: &[BatchItem],
    trust: &TrustMaterial,
    options: &Options,
    threads: usize,
) -> Vec<Report> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let threads = threads.clamp(1, items.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut reports: Vec<Option<Report>> = vec![None; items.len()];
    let done: Vec<Vec<(usize, Report)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(it) = items.get(i) else { break };
                        out.push((
                            i,
                            verify_bundle(
                                &it.bundle,
                                &it.artifact,
                                trust,
                                &it.requirement,
                                options,
                            ),
                        ));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in done.into_iter().flatten() {
        reports[i] = Some(r);
    }
    reports.into_iter().map(Option::unwrap_or_default).collect()
}

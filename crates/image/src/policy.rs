//! The policy engine's verifications against a registry: `sigil-policy` decides, this module
//! checks each authority on an image with [`crate::verify_image`] and answers with the typed
//! reason ([`Checker`](sigil_policy::eval::Checker)). As in policy-controller, a `key` authority
//! without `ctlog` requires no log entry; with `ctlog` it requires one, found in that log and
//! verified against the trust root. A `keyless` authority requires a certificate for one of
//! its identities, chaining to the CAs of its TrustRoot (`trustRootRef`), of its `ca-cert`,
//! or of the default trust root, with an SCT unless `insecureIgnoreSCT`, and always a log
//! entry (the certificate lives ten minutes: the entry is the trusted time of the signature).
//! With `rfc3161timestamp`, a timestamp from a timestamp authority of the TrustRoot it names
//! is required too. What this verifier cannot check (KMS keys, Secrets, pull secrets, remote
//! or ConfigMap policies) fails the authority with that reason: a policy is never passed on a
//! check not made.

use sigil_crypto::PublicKey;
use sigil_oci::{Registry, RegistryError};
use sigil_policy::cip::{self, Authority, KeyData, Policy as Cip};
use sigil_policy::eval::Checked;
use sigil_verify::{Identity, Matcher, Requirement, TrustMaterial};

use crate::{Failure, Logs, Policy, Wanted, verify_image};

/// Checks authorities against images in a registry.
pub struct RegistryChecker<'a> {
    /// The registry client.
    pub registry: &'a Registry,
    /// The trust root whose logs a `ctlog` authority's entries must be in, unless it names
    /// one with `trustRootRef`.
    pub trust: &'a TrustMaterial,
    /// What the policy set's documents prepare once ([`prepare`]): TrustRoots, denied
    /// identities.
    pub prepared: &'a Prepared,
}

/// TrustRoot documents by name, as trust material.
pub type TrustRoots = std::collections::HashMap<String, TrustMaterial>;

/// What a policy set prepares once for every verification it makes.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The TrustRoots, by name, as trust material.
    pub roots: TrustRoots,
    /// Every OrgPolicy's `denyIdentities`: signatures by these never count.
    pub denied_identities: Vec<Identity>,
    /// Every keyless authority's `ca-cert` (by its `data`), read and parsed once: the CA
    /// entries, or why they cannot be used.
    pub ca_certs: std::collections::HashMap<String, Result<Vec<Ca>, String>>,
}

type Ca = sigil_formats::trust_root::Authority;

/// The TrustRoots of a policy set as trust material (each was validated when it loaded) and
/// the identities its OrgPolicies deny: built once per set, not per verification.
pub fn prepare(set: &sigil_policy::cip::PolicySet) -> Prepared {
    let roots = set
        .trust_roots
        .iter()
        .filter_map(|t| {
            let json = t.trusted_root_json().ok()?;
            let root =
                sigil_formats::trust_root::TrustedRoot::parse(json.to_string().as_bytes()).ok()?;
            Some((t.name().to_owned(), TrustMaterial::new(root)))
        })
        .collect();
    // Validated when the documents loaded: every identity has both halves and compiles.
    let denied_identities = set
        .orgs
        .iter()
        .flat_map(|o| &o.spec.deny_identities)
        .filter_map(|i| identity(i).ok())
        .collect();
    let ca_certs = set
        .cips
        .iter()
        .flat_map(|p| &p.doc.spec.authorities)
        .chain(set.orgs.iter().flat_map(|o| &o.spec.authorities))
        .filter_map(|a| a.keyless.as_ref()?.ca_cert.as_ref()?.data.clone())
        .map(|d| {
            let cas = ca_cert_pem(&d).and_then(|pem| ca_cert_authorities(&pem));
            (d, cas)
        })
        .collect();
    Prepared {
        roots,
        denied_identities,
        ca_certs,
    }
}

/// The typed reason of an image's verdict, in kebab-case (`no-signatures`,
/// `signature-invalid`, `registry-unreachable`, ...), and its sentence.
pub fn verdict_reason(f: &Failure) -> (String, String) {
    let kind = match f {
        Failure::NoSignatures { .. } => "no-signatures".to_owned(),
        // The engine's typed reason where a check failed (identity-mismatch, sct-invalid,
        // ...), else the image verifier's.
        Failure::NoMatching { rejected, .. } => rejected
            .first()
            .and_then(|r| match &r.reason {
                crate::Reason::Check { cause: Some(c), .. } => {
                    serde_json::to_value(c).ok()?["kind"]
                        .as_str()
                        .map(str::to_owned)
                }
                other => serde_json::to_value(other).ok()?["reason"]
                    .as_str()
                    .map(str::to_owned),
            })
            .unwrap_or_else(|| "no-matching-signatures".into()),
        Failure::Registry(RegistryError::Unreachable { .. }) => "registry-unreachable".into(),
        Failure::Registry(RegistryError::NoSuchImage { .. }) => "no-such-image".into(),
        Failure::Registry(_) => "registry-error".into(),
    };
    let sentence = match f {
        Failure::Registry(RegistryError::Unreachable { .. }) => {
            format!("registry unreachable: {f}")
        }
        _ => f.to_string(),
    };
    (kind, sentence)
}

fn public_key(data: &KeyData) -> Result<PublicKey, String> {
    let pem = match data {
        KeyData::Pem(p) => p.clone().into_bytes(),
        KeyData::Env(var) => std::env::var(var)
            .map_err(|_| format!("environment variable {var} (key data env://{var}) is not set"))?
            .into_bytes(),
        KeyData::File(path) => {
            use std::io::Read;
            let mut buf = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(64 * 1024).read_to_end(&mut buf))
                .map_err(|e| format!("key file {path}: {e}"))?;
            buf
        }
    };
    PublicKey::from_pem(&pem).map_err(|e| format!("the authority's key: {e}"))
}

/// An attestation's policy (inline Rego or CUE) over one verified statement.
fn policy_verdict(att: &cip::Attestation, statement: &serde_json::Value) -> Result<(), String> {
    match att
        .policy
        .as_ref()
        .map(|p| (p.type_.as_str(), p.data.as_deref()))
    {
        Some(("rego", Some(rego))) => sigil_policy::rego::evaluate(&att.name, rego, statement)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Some(("cue", Some(cue))) => sigil_policy::cue::Policy::parse(cue)
            .map_err(|e| e.to_string())
            .and_then(|c| {
                c.check(statement)
                    .map_err(|v| format!("the CUE policy {} is not satisfied: {v}", att.name))
            }),
        _ => Ok(()),
    }
}

/// A policy's identity as the engine's.
fn identity(i: &cip::Identity) -> Result<Identity, String> {
    let one = |exact: &Option<String>, re: &Option<String>, what: &str| match (exact, re) {
        (Some(e), _) => Ok(Matcher::Exact(e.clone())),
        (None, Some(r)) => regex::Regex::new(r)
            .map(Matcher::Regex)
            .map_err(|e| format!("{what}RegExp: {e}")),
        (None, None) => Err(format!("an identity without {what} or {what}RegExp")),
    };
    Ok(Identity {
        subject: one(&i.subject, &i.subject_regexp, "subject")?,
        issuer: one(&i.issuer, &i.issuer_regexp, "issuer")?,
    })
}

/// A keyless authority's identities as the engine's requirement.
fn identities(k: &cip::Keyless) -> Result<Requirement, String> {
    k.identities
        .iter()
        .map(identity)
        .collect::<Result<Vec<_>, String>>()
        .map(Requirement::AnyIdentity)
}

/// A `ca-cert`'s PEM: inline, `env://VAR`, or (in Sigil's tester) a file.
fn ca_cert_pem(data: &str) -> Result<String, String> {
    let t = data.trim();
    if t.starts_with("-----BEGIN") {
        return Ok(t.to_owned());
    }
    if let Some(var) = t.strip_prefix("env://") {
        return std::env::var(var)
            .map_err(|_| format!("environment variable {var} (ca-cert env://{var}) is not set"));
    }
    use std::io::Read;
    let mut buf = String::new();
    std::fs::File::open(t)
        .and_then(|f| f.take(1024 * 1024).read_to_string(&mut buf))
        .map_err(|e| format!("ca-cert file {t}: {e}"))?;
    Ok(buf)
}

/// The CA certificates of a `ca-cert` (PEM, one or more) as a trust root's CA entry: the
/// intermediates in the order given, then the roots (self-signed), one entry per root.
fn ca_cert_authorities(pem: &str) -> Result<Vec<sigil_formats::trust_root::Authority>, String> {
    let blocks = sigil_crypto::pem::decode_all(pem.as_bytes(), 16)
        .map_err(|e| format!("keyless.ca-cert: {e}"))?;
    let mut roots = Vec::new();
    let mut intermediates = Vec::new();
    for b in blocks {
        if b.label != "CERTIFICATE" {
            return Err(format!(
                "keyless.ca-cert: a {} PEM block, not a CERTIFICATE",
                b.label
            ));
        }
        let c = sigil_pki::cert::Certificate::from_der(&b.contents)
            .map_err(|e| format!("keyless.ca-cert: {e}"))?;
        if c.is_self_issued() {
            roots.push((b.contents, c));
        } else {
            intermediates.push(b.contents);
        }
    }
    if roots.is_empty() {
        return Err("keyless.ca-cert holds no root certificate (a self-signed CA)".into());
    }
    Ok(roots
        .into_iter()
        .map(|(der, c)| {
            let mut chain = intermediates.clone();
            chain.push(der);
            sigil_formats::trust_root::Authority {
                uri: None,
                chain,
                validity: sigil_formats::trust_root::Validity {
                    start: c.not_before(),
                    end: None,
                },
                operator: None,
            }
        })
        .collect())
}

fn unsupported(what: &str) -> Checked {
    Checked::fail(
        "unsupported",
        format!("{what} cannot be checked by this verifier: the authority does not pass"),
    )
}

type Authorised = (Requirement, Option<Logs>, bool);

impl RegistryChecker<'_> {
    /// The trust root a TrustRoot reference names (`None`: the checker's own).
    fn named_trust(
        &self,
        name: Option<&String>,
        field: &str,
    ) -> Result<TrustMaterial, Box<Checked>> {
        match name {
            None => Ok(self.trust.clone()),
            Some(name) => self.prepared.roots.get(name).cloned().ok_or_else(|| {
                Box::new(Checked::fail(
                    "unknown-trust-root",
                    format!("{field} {name:?} names no TrustRoot"),
                ))
            }),
        }
    }

    fn rekor_url(a: &Authority) -> String {
        a.ctlog
            .as_ref()
            .and_then(|l| l.url.clone())
            .unwrap_or_else(|| "https://rekor.sigstore.dev".into())
    }

    /// A `key` authority: the key; a log entry only with `ctlog`.
    fn key_authority(&self, key: &cip::KeyRef, a: &Authority) -> Result<Authorised, Box<Checked>> {
        if key.kms.is_some() {
            return Err(Box::new(unsupported("a KMS key")));
        }
        if key.secret_ref.is_some() {
            return Err(Box::new(unsupported("a key in a Kubernetes Secret")));
        }
        let data = match key.data.as_deref().map(cip::key_data) {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(Box::new(Checked::fail("bad-key", e))),
            None => return Err(Box::new(unsupported("a key without data"))),
        };
        let key = public_key(&data).map_err(|e| Box::new(Checked::fail("bad-key", e)))?;
        let logs = match a.ctlog.as_ref() {
            None => None,
            Some(l) => Some(Logs {
                trust: self.named_trust(l.trust_root_ref.as_ref(), "ctlog.trustRootRef")?,
                rekor_url: Self::rekor_url(a),
            }),
        };
        Ok((Requirement::Key(key), logs, true))
    }

    /// A `keyless` authority: its identities, the CAs of its trust root (`trustRootRef`, else
    /// `ctlog.trustRootRef`, else the checker's) or of its `ca-cert`, and always a log entry.
    fn keyless_authority(
        &self,
        k: &cip::Keyless,
        a: &Authority,
    ) -> Result<Authorised, Box<Checked>> {
        let requirement = identities(k).map_err(|e| Box::new(Checked::fail("bad-identity", e)))?;
        let (name, field) = match (&k.trust_root_ref, a.ctlog.as_ref()) {
            (Some(n), _) => (Some(n), "keyless.trustRootRef"),
            (None, Some(l)) => (l.trust_root_ref.as_ref(), "ctlog.trustRootRef"),
            (None, None) => (None, ""),
        };
        let mut trust = self.named_trust(name, field)?;
        if let Some(ca) = &k.ca_cert {
            let Some(data) = ca.data.as_deref() else {
                return Err(Box::new(unsupported("a ca-cert without data")));
            };
            // Prepared once per policy set; read now only for a set that was not prepared.
            let cas = match self.prepared.ca_certs.get(data) {
                Some(c) => c.clone(),
                None => ca_cert_pem(data).and_then(|pem| ca_cert_authorities(&pem)),
            }
            .map_err(|e| Box::new(Checked::fail("bad-ca-cert", e)))?;
            let mut root = trust.root().clone();
            root.certificate_authorities = cas;
            trust = TrustMaterial::new(root);
        }
        let logs = Logs {
            trust,
            rekor_url: Self::rekor_url(a),
        };
        Ok((
            requirement,
            Some(logs),
            !k.insecure_ignore_sct.unwrap_or(false),
        ))
    }
}

impl sigil_policy::eval::Checker for RegistryChecker<'_> {
    fn resolve(&self, image: &str) -> Result<String, String> {
        let r = sigil_oci::ImageRef::parse(image).map_err(|e| e.to_string())?;
        self.registry.resolve(&r).map_err(|e| e.to_string())
    }

    fn check(&self, image: &str, _policy: &Cip, a: &Authority) -> Checked {
        let location = match a.source.first() {
            None => sigil_oci::attach::Location::default(),
            Some(src) => {
                if !src.signature_pull_secrets.is_empty() {
                    return unsupported("signaturePullSecrets (Kubernetes Secrets)");
                }
                sigil_oci::attach::Location {
                    repository: src.oci.clone(),
                    tag_prefix: src.tag_prefix.clone().unwrap_or_default(),
                }
            }
        };
        let (requirement, mut logs, require_sct) = match (&a.key, &a.keyless) {
            (Some(key), _) => match self.key_authority(key, a) {
                Ok(x) => x,
                Err(c) => return *c,
            },
            (None, Some(k)) => match self.keyless_authority(k, a) {
                Ok(x) => x,
                Err(c) => return *c,
            },
            (None, None) => return unsupported("an authority without key or keyless"),
        };
        // rfc3161timestamp: a timestamp is required, from a timestamp authority of the
        // TrustRoot it names (or the checker's trust root).
        let mut tsa_trust = None;
        if let Some(t) = &a.rfc3161timestamp {
            let named = match self
                .named_trust(t.trust_root_ref.as_ref(), "rfc3161timestamp.trustRootRef")
            {
                Ok(n) => n,
                Err(c) => return *c,
            };
            let tsas = named.root().timestamp_authorities.clone();
            if tsas.is_empty() {
                return Checked::fail(
                    "unknown-trust-root",
                    "rfc3161timestamp names a trust root without timestamp authorities",
                );
            }
            let with_tsas = |t: &TrustMaterial| {
                let mut root = t.root().clone();
                root.timestamp_authorities = tsas.clone();
                TrustMaterial::new(root)
            };
            match &mut logs {
                Some(l) => l.trust = with_tsas(&l.trust),
                None => tsa_trust = Some(named),
            }
        }
        let mut wanted: Vec<(Wanted, Option<&cip::Attestation>)> = Vec::new();
        for att in &a.attestations {
            if let Some(p) = &att.policy
                && (!matches!(p.type_.as_str(), "rego" | "cue") || p.data.is_none())
            {
                return unsupported(&format!(
                    "attestation {}'s {} policy{}",
                    att.name,
                    p.type_,
                    if p.data.is_none() {
                        " (not inline)"
                    } else {
                        ""
                    }
                ));
            }
            let Some(t) = sigil_formats::dsse::predicate_type(&att.predicate_type) else {
                return Checked::fail(
                    "bad-predicate-type",
                    format!(
                        "attestation {}: {:?} is neither a cosign predicate shortcut nor a URI",
                        att.name, att.predicate_type
                    ),
                );
            };
            wanted.push((Wanted::Attestations(t.to_owned()), Some(att)));
        }
        // With attestations, those are what is required (as in policy-controller); otherwise a
        // signature.
        if wanted.is_empty() {
            wanted.push((Wanted::Signatures, None));
        }
        let mut details = Vec::new();
        let mut signatures = Vec::new();
        let mut attestations = serde_json::Map::new();
        for (w, att) in wanted {
            let mut p = Policy::requiring(requirement.clone(), w.clone());
            p.logs = logs.clone();
            p.require_sct = require_sct;
            p.denied_identities = self.prepared.denied_identities.clone();
            p.location = location.clone();
            p.require_timestamp = a.rfc3161timestamp.is_some();
            // policy-controller's signatureFormat: legacy (the default) reads cosign's tags,
            // bundle reads Sigstore-bundle referrers.
            p.discovery = match a.signature_format.as_deref() {
                Some("bundle") => crate::Discovery::Referrers,
                _ => crate::Discovery::Tags,
            };
            p.certificate_trust = tsa_trust.clone();
            let v = verify_image(self.registry, &p, image);
            if let Some(f) = &v.failure {
                let (kind, sentence) = verdict_reason(f);
                return Checked::fail(&kind, sentence);
            }
            let verified: Vec<&crate::Verified> =
                v.manifests.iter().flat_map(|(_, f)| &f.verified).collect();
            match (&w, att) {
                (Wanted::Signatures, _) => {
                    details.push(match &requirement {
                        Requirement::Key(key) => format!(
                            "{} signature(s) verified with key {}",
                            verified.len(),
                            key.hint()
                        ),
                        _ => format!(
                            "{} signature(s) verified for the authority's identities",
                            verified.len()
                        ),
                    });
                    signatures.extend(verified.iter().map(
                        |x| serde_json::json!({"id": x.source.reference(), "payload": x.payload}),
                    ));
                }
                (Wanted::Attestations(t), Some(att)) => {
                    // With a policy, at least one verified attestation must satisfy it.
                    let mut passing: Vec<&crate::Verified> = Vec::new();
                    let mut last = None;
                    for x in &verified {
                        match policy_verdict(att, &x.payload) {
                            Ok(()) => passing.push(x),
                            Err(e) => last = Some(e),
                        }
                    }
                    if passing.is_empty() {
                        let why = last.unwrap_or_else(|| "no attestation satisfies it".to_owned());
                        return Checked::fail(
                            "attestation-policy",
                            format!("attestation {}: {why}", att.name),
                        );
                    }
                    details.push(format!(
                        "{} attestation(s) of type {t} verified",
                        passing.len()
                    ));
                    attestations.insert(
                        att.name.clone(),
                        serde_json::Value::from(
                            passing
                                .iter()
                                .map(|x| serde_json::json!({"id": x.source.reference(), "predicateType": t, "payload": x.payload}))
                                .collect::<Vec<_>>(),
                        ),
                    );
                }
                (Wanted::Attestations(_), None) => {}
            }
        }
        Checked {
            passed: true,
            detail: details.join("; "),
            reason: None,
            evidence: serde_json::json!({"signatures": signatures, "attestations": attestations}),
        }
    }
}

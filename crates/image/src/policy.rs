//! The policy engine's verifications against a registry: `sigil-policy` decides, this module
//! checks each authority on an image with [`crate::verify_image`] and answers with the typed
//! reason ([`Checker`](sigil_policy::eval::Checker)). As in policy-controller, a `key` authority
//! without `ctlog` requires no log entry; with `ctlog` it requires one, found in that log and
//! verified against the trust root. What this verifier cannot check (keyless authorities,
//! KMS keys, Secrets, another signature repository, CUE or Rego attestation policies) fails the
//! authority with that reason: a policy is never passed on a check not made.

use sigil_crypto::PublicKey;
use sigil_oci::{Registry, RegistryError};
use sigil_policy::cip::{self, Authority, KeyData, Policy as Cip};
use sigil_policy::eval::Checked;
use sigil_verify::TrustMaterial;

use crate::{Failure, Logs, Policy, Wanted, verify_image};

/// Checks authorities against images in a registry.
pub struct RegistryChecker<'a> {
    /// The registry client.
    pub registry: &'a Registry,
    /// The trust root whose logs a `ctlog` authority's entries must be in, unless it names
    /// one with `trustRootRef`.
    pub trust: &'a TrustMaterial,
    /// The TrustRoot documents by name ([`trust_roots`]).
    pub roots: &'a TrustRoots,
}

/// TrustRoot documents by name, as trust material.
pub type TrustRoots = std::collections::HashMap<String, TrustMaterial>;

/// The TrustRoots of a policy set as trust material (each was validated when it loaded):
/// built once per set, not per verification.
pub fn trust_roots(set: &sigil_policy::cip::PolicySet) -> TrustRoots {
    set.trust_roots
        .iter()
        .filter_map(|t| {
            let json = t.trusted_root_json().ok()?;
            let root =
                sigil_formats::trust_root::TrustedRoot::parse(json.to_string().as_bytes()).ok()?;
            Some((t.name().to_owned(), TrustMaterial::new(root)))
        })
        .collect()
}

/// The typed reason of an image's verdict, in kebab-case (`no-signatures`,
/// `signature-invalid`, `registry-unreachable`, ...), and its sentence.
pub fn verdict_reason(f: &Failure) -> (String, String) {
    let kind = match f {
        Failure::NoSignatures { .. } => "no-signatures".to_owned(),
        Failure::NoMatching { rejected, .. } => rejected
            .first()
            .and_then(|r| serde_json::to_value(&r.reason).ok())
            .and_then(|v| v["reason"].as_str().map(str::to_owned))
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

fn unsupported(what: &str) -> Checked {
    Checked::fail(
        "unsupported",
        format!("{what} cannot be checked by this verifier: the authority does not pass"),
    )
}

impl sigil_policy::eval::Checker for RegistryChecker<'_> {
    fn resolve(&self, image: &str) -> Result<String, String> {
        let r = sigil_oci::ImageRef::parse(image).map_err(|e| e.to_string())?;
        self.registry.resolve(&r).map_err(|e| e.to_string())
    }

    fn check(&self, image: &str, _policy: &Cip, a: &Authority) -> Checked {
        let Some(key) = &a.key else {
            return unsupported("a keyless authority");
        };
        if key.kms.is_some() {
            return unsupported("a KMS key");
        }
        if key.secret_ref.is_some() {
            return unsupported("a key in a Kubernetes Secret");
        }
        if !a.source.is_empty() {
            return unsupported("a signature source in another repository");
        }
        if a.rfc3161timestamp.is_some() {
            return unsupported("an RFC 3161 timestamp requirement");
        }
        let data = match key.data.as_deref().map(cip::key_data) {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Checked::fail("bad-key", e),
            None => return unsupported("a key without data"),
        };
        let key = match public_key(&data) {
            Ok(k) => k,
            Err(e) => return Checked::fail("bad-key", e),
        };
        let logs = match a.ctlog.as_ref() {
            None => None,
            Some(l) => {
                let trust = match &l.trust_root_ref {
                    None => self.trust.clone(),
                    Some(name) => match self.roots.get(name) {
                        Some(t) => t.clone(),
                        None => {
                            return Checked::fail(
                                "unknown-trust-root",
                                format!("ctlog.trustRootRef {name:?} names no TrustRoot"),
                            );
                        }
                    },
                };
                Some(Logs {
                    trust,
                    rekor_url: l
                        .url
                        .clone()
                        .unwrap_or_else(|| "https://rekor.sigstore.dev".into()),
                })
            }
        };
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
            let mut p = Policy::new(key.clone(), w.clone());
            p.logs = logs.clone();
            let v = verify_image(self.registry, &p, image);
            if let Some(f) = &v.failure {
                let (kind, sentence) = verdict_reason(f);
                return Checked::fail(&kind, sentence);
            }
            let verified: Vec<&crate::Verified> =
                v.manifests.iter().flat_map(|(_, f)| &f.verified).collect();
            match (&w, att) {
                (Wanted::Signatures, _) => {
                    details.push(format!(
                        "{} signature(s) verified with key {}",
                        verified.len(),
                        key.hint()
                    ));
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

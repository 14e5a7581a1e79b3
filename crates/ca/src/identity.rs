//! From a verified OIDC token to a certificate identity, per issuer type as Fulcio maps them
//! (issuer types as in Fulcio's `pkg/identity`): the SAN, the claim the proof of possession signs, the
//! issuer recorded, and the extensions; then the issuance rules.

use std::collections::BTreeMap;

use serde_json::Value;
use sigil_oidc::Token;
use sigil_pki::issue::Extension;

use crate::config::{IssuerConfig, IssuerType};
use crate::template::TemplateError;

/// The subject alternative name a certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanValue {
    /// rfc822Name.
    Email(String),
    /// uniformResourceIdentifier.
    Uri(String),
    /// Fulcio's username otherName (`user!domain`).
    Username(String),
}

impl SanValue {
    /// The identity as verifiers name it (`--certificate-identity`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(s) | Self::Uri(s) | Self::Username(s) => s,
        }
    }

    /// The critical subjectAltName extension.
    pub fn extension(&self) -> Extension {
        match self {
            Self::Email(s) | Self::Uri(s) => Extension::subject_alt_name(s, true),
            Self::Username(s) => Extension::subject_alt_name_username(s, true),
        }
    }
}

/// What a token certifies.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The SAN.
    pub san: SanValue,
    /// The value the proof of possession signs.
    pub challenge: String,
    /// The issuer recorded in 1.3.6.1.4.1.57264.1.1 and .1.8.
    pub issuer: String,
    /// The CI extensions (.1.2–.1.6, .1.9–.1.23) and the token subject (.1.24).
    pub extensions: Vec<Extension>,
}

/// Why a token cannot become an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A claim the issuer type needs is missing or not a string.
    #[error("the token has no {0} claim (this issuer type needs it)")]
    MissingClaim(String),
    /// `email_verified` is not true.
    #[error("the token's email is not verified (email_verified is not true)")]
    EmailNotVerified,
    /// A SPIFFE ID outside the trust domain.
    #[error("the SPIFFE ID {id:?} is not in the trust domain {domain}")]
    TrustDomain {
        /// `sub`.
        id: String,
        /// Configured.
        domain: String,
    },
    /// A URI or username outside the subject domain.
    #[error("the subject {subject:?} is not in the subject domain {domain}")]
    SubjectDomain {
        /// `sub`.
        subject: String,
        /// Configured.
        domain: String,
    },
    /// A CI template could not be applied.
    #[error("{0}")]
    Template(#[from] TemplateError),
    /// The issuance rules do not allow the identity.
    #[error("the issuance rules of {issuer} do not allow {san}")]
    NotAllowed {
        /// The issuer.
        issuer: String,
        /// The identity.
        san: String,
    },
}

fn string_claim(claims: &Value, name: &str) -> Result<String, IdentityError> {
    claims[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| IdentityError::MissingClaim(name.to_owned()))
}

/// A claim by path: `a.b.c`, where a key may itself hold dots (`kubernetes.io.namespace` is
/// `claims["kubernetes.io"]["namespace"]`); the longest key that exists wins at each level.
/// A leading `$.` is allowed (Fulcio's `issuer-claim` form).
pub fn claim_path<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.strip_prefix("$.").unwrap_or(path);
    let Value::Object(map) = claims else {
        return None;
    };
    if let Some(v) = map.get(path) {
        return Some(v);
    }
    let mut cut = path.len();
    while let Some(dot) = path[..cut].rfind('.') {
        if let Some(v) = map.get(&path[..dot]) {
            if let Some(found) = claim_path(v, &path[dot + 1..]) {
                return Some(found);
            }
        }
        cut = dot;
    }
    None
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `scheme://host` of a URI (lowercased host), for domain comparisons.
fn scheme_host(uri: &str) -> Option<(String, String)> {
    let (scheme, rest) = uri.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if scheme.is_empty() || host.is_empty() {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// The identity `token` certifies under `issuer`'s type, checked against its issuance rules.
pub fn principal(issuer: &IssuerConfig, token: &Token) -> Result<Principal, IdentityError> {
    let claims = &token.claims;
    let sub = token.subject.clone();
    let recorded = match &issuer.issuer_claim {
        Some(path) => claim_path(claims, path)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| IdentityError::MissingClaim(path.clone()))?,
        None => token.issuer.clone(),
    };
    let mut extensions = Vec::new();
    let (san, default_challenge) = match issuer.kind {
        IssuerType::Email => {
            let email = string_claim(claims, "email")?;
            if !issuer.skip_email_verification && claims["email_verified"] != Value::Bool(true) {
                return Err(IdentityError::EmailNotVerified);
            }
            (SanValue::Email(email.clone()), email)
        }
        IssuerType::Kubernetes => {
            let k = &claims["kubernetes.io"];
            let ns = k["namespace"]
                .as_str()
                .ok_or_else(|| IdentityError::MissingClaim("kubernetes.io.namespace".into()))?;
            let sa = k["serviceaccount"]["name"].as_str().ok_or_else(|| {
                IdentityError::MissingClaim("kubernetes.io.serviceaccount.name".into())
            })?;
            (
                SanValue::Uri(format!(
                    "https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}"
                )),
                sub.clone(),
            )
        }
        IssuerType::Spiffe => {
            let domain = issuer.spiffe_trust_domain.clone().unwrap_or_default();
            let in_domain = sub
                .strip_prefix("spiffe://")
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(d, path)| d.eq_ignore_ascii_case(&domain) && !path.is_empty());
            if !in_domain {
                return Err(IdentityError::TrustDomain { id: sub, domain });
            }
            (SanValue::Uri(sub.clone()), sub.clone())
        }
        IssuerType::Uri => {
            let domain = issuer.subject_domain.clone().unwrap_or_default();
            match (scheme_host(&sub), scheme_host(&domain)) {
                (Some(a), Some(b)) if a == b => {}
                _ => {
                    return Err(IdentityError::SubjectDomain {
                        subject: sub,
                        domain,
                    });
                }
            }
            (SanValue::Uri(sub.clone()), sub.clone())
        }
        IssuerType::Username => {
            let domain = issuer.subject_domain.clone().unwrap_or_default();
            if sub.is_empty() || sub.contains('!') {
                return Err(IdentityError::SubjectDomain {
                    subject: sub,
                    domain,
                });
            }
            (SanValue::Username(format!("{sub}!{domain}")), sub.clone())
        }
        IssuerType::CiProvider => {
            let Some(ci) = &issuer.ci else {
                return Err(IdentityError::MissingClaim("ci-provider metadata".into()));
            };
            let mut values: BTreeMap<String, String> = ci.defaults.clone();
            if let Value::Object(m) = claims {
                for (k, v) in m {
                    if let Some(t) = as_text(v) {
                        values.insert(k.clone(), t);
                    }
                }
            }
            for (oid, raw, t) in &ci.extensions {
                let v = t.apply(&values)?;
                if v.is_empty() {
                    continue;
                }
                extensions.push(if *raw {
                    Extension::raw(oid, v.as_bytes())
                } else {
                    Extension::utf8(oid, &v)
                });
            }
            (SanValue::Uri(ci.san.apply(&values)?), sub.clone())
        }
    };
    extensions.push(Extension::utf8("1.3.6.1.4.1.57264.1.24", &sub));
    let challenge = match &issuer.challenge_claim {
        Some(c) => claim_path(claims, c)
            .and_then(as_text)
            .ok_or_else(|| IdentityError::MissingClaim(c.clone()))?,
        None => default_challenge,
    };
    let p = Principal {
        san,
        challenge,
        issuer: recorded,
        extensions,
    };
    if !allowed(issuer, &p, token) {
        return Err(IdentityError::NotAllowed {
            issuer: token.issuer.clone(),
            san: p.san.as_str().to_owned(),
        });
    }
    Ok(p)
}

/// Whether the issuance rules allow `p` (no rules: every identity of the issuer).
fn allowed(issuer: &IssuerConfig, p: &Principal, token: &Token) -> bool {
    if issuer.rules.is_empty() {
        return true;
    }
    issuer.rules.iter().any(|rule| {
        rule.fields.iter().all(|(field, matchers)| {
            let value = match field.as_str() {
                "san" => Some(p.san.as_str().to_owned()),
                "subject" => Some(token.subject.clone()),
                path => claim_path(&token.claims, path).and_then(as_text),
            };
            value.is_some_and(|v| matchers.iter().any(|m| m.matches(&v)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_paths_with_dotted_keys() {
        let c = json!({"kubernetes.io": {"namespace": "build", "serviceaccount": {"name": "ci"}},
                       "a": {"b": 1}, "federated_claims": {"connector_id": "https://github.com/login/oauth"}});
        assert_eq!(
            claim_path(&c, "kubernetes.io.namespace"),
            Some(&json!("build"))
        );
        assert_eq!(
            claim_path(&c, "kubernetes.io.serviceaccount.name"),
            Some(&json!("ci"))
        );
        assert_eq!(claim_path(&c, "a.b"), Some(&json!(1)));
        assert_eq!(
            claim_path(&c, "$.federated_claims.connector_id"),
            Some(&json!("https://github.com/login/oauth"))
        );
        assert_eq!(claim_path(&c, "kubernetes.io.pod"), None);
        assert_eq!(claim_path(&c, "nope"), None);
    }

    #[test]
    fn scheme_and_host() {
        assert_eq!(
            scheme_host("https://User@Example.com:8443/x"),
            Some(("https".into(), "example.com:8443".into()))
        );
        assert_eq!(scheme_host("example.com"), None);
    }
}

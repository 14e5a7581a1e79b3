//! OIDC identity tokens for Sigil's services (the keyless CA, the evidence API): an issuer
//! found by the token's `iss` among the configured ones (exact URLs, or meta-issuers whose
//! `*` matches one `[-_a-zA-Z0-9]+` label, anchored at both ends), its keys from discovery
//! (the discovered `issuer` must be the configured one) or given inline, cached and refetched
//! when an unknown key ID arrives (at most once per [`REFRESH_AFTER`]), the signature checked
//! through `sigil-crypto` with an algorithm the issuer lists (never `none` or HMAC), and `exp`,
//! `nbf`, `iat` and `aud` checked with a leeway. Every refusal is a typed [`OidcError`].
//!
//! # Example
//!
//! ```no_run
//! use sigil_oidc::{Issuer, Verifier};
//!
//! let verifier = Verifier::new(vec![Issuer::new("https://token.actions.githubusercontent.com")])?;
//! let token = verifier.verify("eyJhbGciOiJSUzI1NiIs...", 1_780_000_000)?;
//! println!("{} from {}", token.subject, token.issuer);
//! # Ok::<(), sigil_oidc::OidcError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod jws;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use jws::{Jwk, Jwks, Unverified};

/// An unknown key ID refetches the issuer's keys at most this often.
pub const REFRESH_AFTER: Duration = Duration::from_secs(10);
/// The most issuers whose keys are cached (meta-issuers can name many).
pub const MAX_CACHED_ISSUERS: usize = 1024;
/// The largest discovery document or JWKS read.
pub const MAX_DOCUMENT: u64 = 1024 * 1024;

/// Why a token was refused (each a safe, specific reason for the caller's answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// Not a JWS of JSON.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `iss` names no configured issuer.
    #[error("the token's issuer {0:?} is not configured")]
    UnknownIssuer(String),
    /// `alg: none`, HMAC, or an algorithm the issuer does not list.
    #[error(
        "the token's algorithm {0:?} is not accepted (asymmetric algorithms the issuer lists only)"
    )]
    Algorithm(String),
    /// The key named has another algorithm.
    #[error("the key {kid:?} is not a key for {alg}")]
    KeyAlgorithm {
        /// The token's algorithm.
        alg: String,
        /// The key.
        kid: String,
    },
    /// No key with the token's `kid`, even after a refresh.
    #[error("the issuer's keys have no key {0:?}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// Past `exp` (beyond the leeway).
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// Now.
        now: i64,
    },
    /// Before `nbf` or `iat` (beyond the leeway).
    #[error("the token is not valid before {not_before} (now {now})")]
    NotYetValid {
        /// `nbf` or `iat`.
        not_before: i64,
        /// Now.
        now: i64,
    },
    /// `aud` does not name the audience.
    #[error("the token's audience {got:?} does not include {wanted:?}")]
    Audience {
        /// Required.
        wanted: String,
        /// Found.
        got: Vec<String>,
    },
    /// A required claim is missing or of the wrong type.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// Discovery answered with another issuer.
    #[error("discovery at {configured} names the issuer {discovered:?}")]
    DiscoveryMismatch {
        /// Configured.
        configured: String,
        /// Discovered.
        discovered: String,
    },
    /// The keys could not be fetched or read.
    #[error("the issuer's keys: {0}")]
    Jwks(String),
    /// The issuer could not be reached.
    #[error("the issuer {url} is unreachable: {detail}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why.
        detail: String,
    },
    /// A configuration that cannot be used.
    #[error("OIDC configuration: {0}")]
    Config(String),
}

/// A configured issuer.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The issuer URL (`https://…`; `http://` only on loopback), or a meta-issuer pattern with
    /// `*` labels.
    pub url: String,
    /// The audience tokens must carry (`sigstore` by default, as Fulcio).
    pub audience: String,
    /// Keys given inline (clusters whose issuer cannot be reached): discovery is skipped.
    pub jwks: Option<Jwks>,
    /// A CA bundle (PEM) for the issuer's TLS (in-cluster `https://kubernetes.default.svc`).
    pub ca_bundle: Option<Vec<u8>>,
    /// A bearer token sent with discovery and JWKS requests (a service account's token).
    pub bearer_token: Option<String>,
}

impl Issuer {
    /// An issuer at `url` with the `sigstore` audience, keys from discovery.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            audience: "sigstore".into(),
            jwks: None,
            ca_bundle: None,
            bearer_token: None,
        }
    }

    fn is_meta(&self) -> bool {
        self.url.contains('*')
    }
}

/// A verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// Every claim.
    pub claims: Value,
}

struct Cached {
    jwks: Jwks,
    algorithms: Option<Vec<String>>,
    fetched: Instant,
}

/// Verifies tokens for the configured issuers.
pub struct Verifier {
    issuers: Vec<(Issuer, Option<regex::Regex>)>,
    leeway: i64,
    refresh_after: Duration,
    cache: Mutex<HashMap<String, Cached>>,
    clients: Mutex<HashMap<String, reqwest::blocking::Client>>,
}

/// Whether `url` may be fetched: https, or http on loopback.
fn allowed_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// A meta-issuer pattern as a regular expression: each `*` one `[-_a-zA-Z0-9]+` run, the
/// rest literal, anchored at both ends (GHSA-59jp-pj84-45mr).
pub fn meta_regex(pattern: &str) -> Result<regex::Regex, OidcError> {
    let parts: Vec<String> = pattern.split('*').map(regex::escape).collect();
    regex::Regex::new(&format!("^{}$", parts.join("[-_a-zA-Z0-9]+")))
        .map_err(|e| OidcError::Config(e.to_string()))
}

impl Verifier {
    /// A verifier for `issuers` (leeway 60 s).
    pub fn new(issuers: Vec<Issuer>) -> Result<Self, OidcError> {
        let mut out = Vec::new();
        for i in issuers {
            let probe = i.url.replace('*', "x");
            if !allowed_url(&probe) {
                return Err(OidcError::Config(format!(
                    "issuer {}: issuer URLs are https (http only on loopback)",
                    i.url
                )));
            }
            let re = if i.is_meta() {
                Some(meta_regex(&i.url)?)
            } else {
                None
            };
            out.push((i, re));
        }
        Ok(Self {
            issuers: out,
            leeway: 60,
            refresh_after: REFRESH_AFTER,
            cache: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// Sets how often an unknown key ID may refetch an issuer's keys.
    pub fn with_refresh_after(mut self, every: Duration) -> Self {
        self.refresh_after = every;
        self
    }

    /// Sets the clock-skew leeway.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs() as i64;
        self
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn issuer_for(&self, iss: &str) -> Option<&Issuer> {
        self.issuers
            .iter()
            .find(|(i, re)| match re {
                None => i.url == iss,
                Some(re) => re.is_match(iss),
            })
            .map(|(i, _)| i)
    }

    fn client(&self, issuer: &Issuer) -> Result<reqwest::blocking::Client, OidcError> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = clients.get(&issuer.url) {
            return Ok(c.clone());
        }
        let mut b = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &issuer.ca_bundle {
            for c in sigil_crypto::pem::decode_all(pem, 32)
                .map_err(|e| OidcError::Config(format!("issuer {} CA bundle: {e}", issuer.url)))?
            {
                let cert = reqwest::Certificate::from_der(&c.contents).map_err(|e| {
                    OidcError::Config(format!("issuer {} CA bundle: {e}", issuer.url))
                })?;
                b = b.add_root_certificate(cert);
            }
        }
        let c = b.build().map_err(|e| OidcError::Config(e.to_string()))?;
        clients.insert(issuer.url.clone(), c.clone());
        Ok(c)
    }

    fn get_json(&self, issuer: &Issuer, url: &str) -> Result<Value, OidcError> {
        if !allowed_url(url) {
            return Err(OidcError::Jwks(format!(
                "{url}: only https (or http on loopback) is fetched"
            )));
        }
        let unreachable = |detail: String| OidcError::Unreachable {
            url: url.to_owned(),
            detail,
        };
        let mut req = self.client(issuer)?.get(url);
        if let Some(t) = &issuer.bearer_token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().map_err(|e| unreachable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unreachable(format!("answered {}", resp.status())));
        }
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(resp, MAX_DOCUMENT + 1), &mut body)
            .map_err(|e| unreachable(e.to_string()))?;
        if body.len() as u64 > MAX_DOCUMENT {
            return Err(OidcError::Jwks(format!(
                "{url} is over {MAX_DOCUMENT} bytes"
            )));
        }
        serde_json::from_slice(&body).map_err(|e| OidcError::Jwks(format!("{url}: {e}")))
    }

    /// Discovery and keys for the issuer `iss` (a meta-issuer's concrete URL).
    fn fetch(&self, issuer: &Issuer, iss: &str) -> Result<Cached, OidcError> {
        if let Some(jwks) = &issuer.jwks {
            return Ok(Cached {
                jwks: jwks.clone(),
                algorithms: None,
                fetched: Instant::now(),
            });
        }
        let doc = self.get_json(issuer, &format!("{iss}/.well-known/openid-configuration"))?;
        let discovered = doc["issuer"].as_str().unwrap_or_default();
        if discovered.trim_end_matches('/') != iss {
            return Err(OidcError::DiscoveryMismatch {
                configured: iss.to_owned(),
                discovered: discovered.to_owned(),
            });
        }
        let jwks_uri = doc["jwks_uri"]
            .as_str()
            .ok_or_else(|| OidcError::Jwks("discovery names no jwks_uri".into()))?;
        let jwks = self.get_json(issuer, jwks_uri)?;
        let jwks: Jwks = serde_json::from_value(jwks)
            .map_err(|e| OidcError::Jwks(format!("{jwks_uri}: not a JWK set: {e}")))?;
        let algorithms = doc["id_token_signing_alg_values_supported"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            });
        Ok(Cached {
            jwks,
            algorithms,
            fetched: Instant::now(),
        })
    }

    /// Verifies `token` at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Token, OidcError> {
        let t = Unverified::parse(token)?;
        // Refused by name, before any key is looked at.
        if t.alg == "none" || t.alg.starts_with("HS") {
            return Err(OidcError::Algorithm(t.alg.clone()));
        }
        let iss = t.claims["iss"]
            .as_str()
            .ok_or(OidcError::MissingClaim("iss"))?
            .to_owned();
        let issuer = self
            .issuer_for(&iss)
            .ok_or_else(|| OidcError::UnknownIssuer(iss.clone()))?;
        // Keys: cached, fetched on first use, refetched (rate-limited) for an unknown kid. The
        // cache is not locked while an issuer is fetched: a slow or unreachable issuer (a
        // meta-issuer's `iss` is the caller's choice) never holds up the others' tokens.
        let cached = |cache: &HashMap<String, Cached>| -> Option<Result<Jwk, OidcError>> {
            let c = cache.get(&iss)?;
            if let Some(algs) = &c.algorithms
                && !algs.contains(&t.alg)
            {
                return Some(Err(OidcError::Algorithm(t.alg.clone())));
            }
            match c.jwks.find(t.kid.as_deref()) {
                Some(k) => Some(Ok(k.clone())),
                None if c.fetched.elapsed() < self.refresh_after || issuer.jwks.is_some() => Some(
                    Err(OidcError::UnknownKey(t.kid.clone().unwrap_or_default())),
                ),
                None => None,
            }
        };
        let found = cached(&self.lock_cache());
        let key = match found {
            Some(k) => k?,
            None => {
                let fresh = self.fetch(issuer, &iss)?;
                let mut cache = self.lock_cache();
                if cache.len() >= MAX_CACHED_ISSUERS && !cache.contains_key(&iss) {
                    // Meta-issuers make the key space the callers': drop the oldest.
                    if let Some(oldest) = cache
                        .iter()
                        .min_by_key(|(_, c)| c.fetched)
                        .map(|(k, _)| k.clone())
                    {
                        cache.remove(&oldest);
                    }
                }
                cache.insert(iss.clone(), fresh);
                cached(&cache).unwrap_or_else(|| {
                    Err(OidcError::UnknownKey(t.kid.clone().unwrap_or_default()))
                })?
            }
        };
        if let Some(a) = &key.alg
            && *a != t.alg
        {
            return Err(OidcError::KeyAlgorithm {
                alg: t.alg.clone(),
                kid: key.kid.clone().unwrap_or_default(),
            });
        }
        t.verify(&key)?;
        let c = &t.claims;
        let exp = c["exp"].as_i64().ok_or(OidcError::MissingClaim("exp"))?;
        if now > exp + self.leeway {
            return Err(OidcError::Expired { exp, now });
        }
        for field in ["nbf", "iat"] {
            if let Some(nb) = c[field].as_i64()
                && now + self.leeway < nb
            {
                return Err(OidcError::NotYetValid {
                    not_before: nb,
                    now,
                });
            }
        }
        let aud: Vec<String> = match &c["aud"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => return Err(OidcError::MissingClaim("aud")),
        };
        if !aud.contains(&issuer.audience) {
            return Err(OidcError::Audience {
                wanted: issuer.audience.clone(),
                got: aud,
            });
        }
        let subject = c["sub"]
            .as_str()
            .ok_or(OidcError::MissingClaim("sub"))?
            .to_owned();
        Ok(Token {
            issuer: iss,
            subject,
            claims: t.claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_for_http_and_meta_issuers_are_anchored() {
        assert!(allowed_url("https://accounts.example"));
        assert!(allowed_url("http://127.0.0.1:8080/x"));
        assert!(allowed_url("http://localhost:1"));
        assert!(!allowed_url("http://127.evil.example"));
        assert!(!allowed_url("http://issuer.example"));
        let re = meta_regex("https://oidc.eks.*.amazonaws.com/id/*").unwrap();
        assert!(re.is_match("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123"));
        assert!(!re.is_match("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/evil"));
        assert!(!re.is_match("https://oidc.eks.a.b.amazonaws.com/id/X"));
        assert!(!re.is_match("xhttps://oidc.eks.a.amazonaws.com/id/X"));
        assert!(Verifier::new(vec![Issuer::new("http://issuer.example")]).is_err());
    }
}

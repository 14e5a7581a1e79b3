//! JWS compact tokens and JWK keys, verified through `sigil-crypto`: ES256, ES384, RS256 and
//! EdDSA. `none` and the HMAC algorithms are refused by name before any key is looked at (an
//! HMAC "signature" made with a public key as the secret is the classic confusion attack).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::Value;
use sigil_crypto::{KeyAlgorithm, PublicKey};
use sigil_pki::encode as der;

use crate::OidcError;

/// The largest token read.
pub const MAX_TOKEN: usize = 64 * 1024;

/// A token's parts, decoded but not verified.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The header's `alg`.
    pub alg: String,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The claims.
    pub claims: Value,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

fn malformed(detail: &str) -> OidcError {
    OidcError::Malformed(detail.to_owned())
}

impl Unverified {
    /// Splits and decodes a compact JWS (`header.payload.signature`).
    pub fn parse(token: &str) -> Result<Self, OidcError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN {
            return Err(malformed("the token is over 64 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("a JWS has three dot-separated parts"));
        };
        let decode = |x: &str, what: &str| {
            B64URL
                .decode(x)
                .map_err(|e| malformed(&format!("the {what} is not base64url: {e}")))
        };
        let header: Value = serde_json::from_slice(&decode(h, "header")?)
            .map_err(|e| malformed(&format!("the header is not JSON: {e}")))?;
        let claims: Value = serde_json::from_slice(&decode(p, "payload")?)
            .map_err(|e| malformed(&format!("the payload is not JSON: {e}")))?;
        if !claims.is_object() {
            return Err(malformed("the payload is not a JSON object"));
        }
        let alg = header["alg"]
            .as_str()
            .ok_or_else(|| malformed("the header has no alg"))?
            .to_owned();
        if header.get("crit").is_some() {
            return Err(malformed("critical header parameters are not supported"));
        }
        Ok(Self {
            alg,
            kid: header["kid"].as_str().map(str::to_owned),
            claims,
            signing_input: format!("{h}.{p}").into_bytes(),
            signature: decode(s, "signature")?,
        })
    }

    /// Verifies the signature with `key` (its algorithm must be the header's).
    pub fn verify(&self, key: &Jwk) -> Result<(), OidcError> {
        let public = key.public_key()?;
        let (want, der_sig) = match self.alg.as_str() {
            "ES256" => (KeyAlgorithm::EcdsaP256, Some(32)),
            "ES384" => (KeyAlgorithm::EcdsaP384, Some(48)),
            "RS256" => (public.algorithm(), None),
            "EdDSA" => (KeyAlgorithm::Ed25519, None),
            other => return Err(OidcError::Algorithm(other.to_owned())),
        };
        let matches = match self.alg.as_str() {
            "RS256" => matches!(public.algorithm(), KeyAlgorithm::Rsa { .. }),
            _ => public.algorithm() == want,
        };
        if !matches {
            return Err(OidcError::KeyAlgorithm {
                alg: self.alg.clone(),
                kid: key.kid.clone().unwrap_or_default(),
            });
        }
        let sig = match der_sig {
            // JWS ECDSA signatures are r || s; the verifier takes DER.
            Some(n) => {
                if self.signature.len() != 2 * n {
                    return Err(OidcError::Signature);
                }
                let (r, s) = self.signature.split_at(n);
                der::seq(&[&der::uint(r), &der::uint(s)])
            }
            None => self.signature.clone(),
        };
        let ok = if self.alg == "EdDSA" {
            public.verify_message(&self.signing_input, &sig)
        } else {
            public.verify(&self.signing_input, &sig)
        };
        ok.map_err(|_| OidcError::Signature)
    }
}

/// One JSON Web Key (the public members Sigil reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    /// `EC`, `RSA` or `OKP`.
    pub kty: String,
    /// Key ID.
    #[serde(default)]
    pub kid: Option<String>,
    /// `sig` when given.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// The algorithm the key is for, when given.
    #[serde(default)]
    pub alg: Option<String>,
    /// EC / OKP curve.
    #[serde(default)]
    pub crv: Option<String>,
    /// EC x / OKP public key.
    #[serde(default)]
    pub x: Option<String>,
    /// EC y.
    #[serde(default)]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default)]
    pub e: Option<String>,
}

/// A JWK set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwks {
    /// The keys.
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a JWKS document.
    pub fn parse(bytes: &[u8]) -> Result<Self, OidcError> {
        serde_json::from_slice(bytes).map_err(|e| OidcError::Jwks(format!("not a JWK set: {e}")))
    }

    /// The key with `kid` (or the only signing key when the token names none).
    pub fn find(&self, kid: Option<&str>) -> Option<&Jwk> {
        let signing = self
            .keys
            .iter()
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"));
        match kid {
            Some(id) => signing.clone().find(|k| k.kid.as_deref() == Some(id)),
            None => {
                let v: Vec<&Jwk> = signing.collect();
                (v.len() == 1).then(|| v[0])
            }
        }
    }
}

impl Jwk {
    /// The key as a `sigil-crypto` public key.
    pub fn public_key(&self) -> Result<PublicKey, OidcError> {
        let bad = |d: &str| {
            OidcError::Jwks(format!(
                "key {}: {d}",
                self.kid.as_deref().unwrap_or("(no kid)")
            ))
        };
        let field = |v: &Option<String>, name: &str| -> Result<Vec<u8>, OidcError> {
            B64URL
                .decode(v.as_deref().ok_or_else(|| bad(&format!("no {name}")))?)
                .map_err(|_| bad(&format!("{name} is not base64url")))
        };
        let spki = match self.kty.as_str() {
            "EC" => {
                let (curve, len) = match self.crv.as_deref() {
                    Some("P-256") => ("1.2.840.10045.3.1.7", 32),
                    Some("P-384") => ("1.3.132.0.34", 48),
                    _ => return Err(bad("an EC curve other than P-256 or P-384")),
                };
                let (x, y) = (field(&self.x, "x")?, field(&self.y, "y")?);
                if x.len() != len || y.len() != len {
                    return Err(bad("coordinates of the wrong length"));
                }
                let point = [&[4u8][..], &x, &y].concat();
                der::seq(&[
                    &der::seq(&[&der::oid("1.2.840.10045.2.1"), &der::oid(curve)]),
                    &der::bits(&point),
                ])
            }
            "RSA" => {
                let (n, e) = (field(&self.n, "n")?, field(&self.e, "e")?);
                let key = der::seq(&[&der::uint(&n), &der::uint(&e)]);
                der::seq(&[
                    &der::seq(&[&der::oid("1.2.840.113549.1.1.1"), &der::null()]),
                    &der::bits(&key),
                ])
            }
            "OKP" if self.crv.as_deref() == Some("Ed25519") => {
                let x = field(&self.x, "x")?;
                der::seq(&[&der::seq(&[&der::oid("1.3.101.112")]), &der::bits(&x)])
            }
            other => return Err(bad(&format!("key type {other:?} is not supported"))),
        };
        PublicKey::from_spki_der(&spki).map_err(|e| bad(&e.to_string()))
    }
}

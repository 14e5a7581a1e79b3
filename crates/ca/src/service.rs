//! The Fulcio API (`sigil ca serve`, and the CA of `sigil serve`): `POST /api/v2/signingCert`
//! (a CSR, or a public key with a proof of possession; the token in the body or as a bearer
//! token), `GET /api/v2/trustBundle`, `GET /api/v2/configuration`, and the legacy `POST
//! /api/v1/signingCert` (201, a PEM chain, the SCT in an `SCT` header) and `GET
//! /api/v1/rootCert`. Every certificate is logged to a CT log before it is answered: the
//! precertificate with `add-pre-chain` and the SCT embedded (the default), or the final
//! certificate with `add-chain` and the SCT detached. No SCT, no certificate: a CT log that
//! cannot be reached is a 503.
//!
//! Refusals keep Fulcio's body (`{"code":3,"message":"There was an error processing the identity
//! token","details":[]}`) and add `reason` (a stable machine-readable name) and `detail` (what
//! was checked, safe to show to the caller: it names nothing the caller did not send, beyond
//! the configured issuer's public settings).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, PublicKey};
use sigil_oidc::{OidcError, Verifier};
use sigil_pki::issue::{self, Extension};
use sigil_pki::sct::Sct;
use sigil_server::log::ct::CtLog;

use crate::Ca;
use crate::config::Config;
use crate::identity::{self, IdentityError, Principal};

/// The largest request body.
pub const MAX_REQUEST: usize = 128 * 1024;

const TOKEN_MESSAGE: &str = "There was an error processing the identity token";
const KEY_MESSAGE: &str = "The public key supplied in the request could not be parsed";
const INSECURE_KEY_MESSAGE: &str = "The public key supplied in the request is insecure";
const SIGNATURE_MESSAGE: &str = "The signature supplied in the request could not be verified";
const CSR_MESSAGE: &str = "The certificate signing request could not be parsed";
const CT_MESSAGE: &str = "Error entering certificate in CTL";

/// Where certificates are logged.
pub enum CtClient {
    /// A CT log over HTTP (`…/ct/v1/add-pre-chain`).
    Http {
        /// The client.
        client: reqwest::Client,
        /// The log's base URL.
        url: String,
    },
    /// A CT log in this process (`sigil serve`).
    Local(Arc<CtLog>),
}

/// Why a CT log gave no SCT.
#[derive(Debug)]
enum CtFailure {
    /// Not reachable, or not durable: 503.
    Unavailable(String),
    /// It refused the chain: a configuration error, 500.
    Refused(String),
}

impl CtClient {
    /// A CT log at `url`.
    pub fn http(url: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self::Http {
            client,
            url: url.trim_end_matches('/').to_owned(),
        })
    }

    async fn submit(&self, chain: &[Vec<u8>], precert: bool) -> Result<Value, CtFailure> {
        match self {
            Self::Local(ct) => {
                let certs = chain
                    .iter()
                    .map(|c| sigil_pki::cert::Certificate::from_der(c))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| CtFailure::Refused(e.to_string()))?;
                ct.submit_certificates(certs, precert).await.map_err(|r| {
                    if r.status == StatusCode::SERVICE_UNAVAILABLE {
                        CtFailure::Unavailable(r.message)
                    } else {
                        CtFailure::Refused(r.message)
                    }
                })
            }
            Self::Http { client, url } => {
                let encoded: Vec<String> = chain.iter().map(|c| STANDARD.encode(c)).collect();
                let path = if precert {
                    "add-pre-chain"
                } else {
                    "add-chain"
                };
                let resp = client
                    .post(format!("{url}/ct/v1/{path}"))
                    .json(&json!({ "chain": encoded }))
                    .send()
                    .await
                    .map_err(|e| CtFailure::Unavailable(e.to_string()))?;
                let status = resp.status();
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| CtFailure::Unavailable(e.to_string()))?;
                if status.is_server_error() {
                    return Err(CtFailure::Unavailable(format!("answered {status}")));
                }
                if !status.is_success() {
                    return Err(CtFailure::Refused(format!(
                        "answered {status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(512)])
                    )));
                }
                serde_json::from_slice(&body)
                    .map_err(|e| CtFailure::Refused(format!("not an AddChainResponse: {e}")))
            }
        }
    }
}

/// The CA service's state.
pub struct Authority {
    ca: Ca,
    config: Config,
    verifier: Verifier,
    ct: CtClient,
    detached_sct: bool,
}

/// A refusal: the HTTP status and Fulcio's body with Sigil's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// The gRPC code Fulcio's gateway puts in the body (3 invalid argument, 13 internal, 14
    /// unavailable).
    pub code: u8,
    /// Fulcio's message.
    pub message: &'static str,
    /// The stable reason.
    pub reason: &'static str,
    /// What was checked.
    pub detail: String,
}

impl Refusal {
    fn bad(message: &'static str, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: 3,
            message,
            reason,
            detail: detail.into(),
        }
    }

    fn token(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::bad(TOKEN_MESSAGE, reason, detail)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"code": self.code, "message": self.message, "details": [],
               "reason": self.reason, "detail": self.detail})
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// The stable reason for a token refusal, and a detail safe to return.
fn token_refusal(e: &OidcError) -> Refusal {
    let reason = match e {
        OidcError::Malformed(_) => "malformed_token",
        OidcError::UnknownIssuer(_) => "unknown_issuer",
        OidcError::Algorithm(_) | OidcError::KeyAlgorithm { .. } => "algorithm_not_accepted",
        OidcError::UnknownKey(_) => "unknown_key_id",
        OidcError::Signature => "bad_signature",
        OidcError::Expired { .. } => "token_expired",
        OidcError::NotYetValid { .. } => "token_not_yet_valid",
        OidcError::Audience { .. } => "audience_mismatch",
        OidcError::MissingClaim(_) => "missing_claim",
        OidcError::DiscoveryMismatch { .. } => "discovery_mismatch",
        OidcError::Jwks(_) | OidcError::Unreachable { .. } => "jwks_unreachable",
        OidcError::Config(_) => "issuer_misconfigured",
    };
    let detail = match e {
        // The network detail stays in the server: it may name internal hosts.
        OidcError::Jwks(_) | OidcError::Unreachable { .. } => {
            "the issuer's discovery document or keys could not be fetched".to_owned()
        }
        OidcError::Config(_) => "the issuer's configuration cannot be used".to_owned(),
        e => e.to_string(),
    };
    Refusal::token(reason, detail)
}

fn identity_refusal(e: &IdentityError) -> Refusal {
    let reason = match e {
        IdentityError::MissingClaim(_) | IdentityError::Template(_) => "missing_claim",
        IdentityError::EmailNotVerified => "email_not_verified",
        IdentityError::TrustDomain { .. } | IdentityError::SubjectDomain { .. } => {
            "subject_domain_mismatch"
        }
        IdentityError::NotAllowed { .. } => "identity_not_allowed",
    };
    Refusal::token(reason, e.to_string())
}

/// The key to certify and how its possession is proven.
pub enum KeyRequest {
    /// A PEM CSR (its self-signature is the proof).
    Csr(Vec<u8>),
    /// A public key (PEM or DER SPKI) and a signature over the challenge claim.
    PublicKey {
        /// The key.
        content: Vec<u8>,
        /// The proof of possession.
        proof: Vec<u8>,
    },
}

/// An issued certificate.
pub struct Issued {
    /// The chain (leaf, intermediate, root), DER.
    pub chain: Vec<Vec<u8>>,
    /// The detached SCT (an `AddChainResponse`), when the certificate was logged with
    /// `add-chain`.
    pub detached_sct: Option<Value>,
}

fn leaf_key_accepted(k: &PublicKey) -> Result<(), Refusal> {
    match k.algorithm() {
        KeyAlgorithm::EcdsaP256
        | KeyAlgorithm::EcdsaP384
        | KeyAlgorithm::EcdsaP521
        | KeyAlgorithm::Ed25519 => Ok(()),
        KeyAlgorithm::Rsa { bits }
            if (sigil_crypto::keys::RSA_MIN_BITS..=sigil_crypto::keys::RSA_MAX_BITS)
                .contains(&bits) =>
        {
            Ok(())
        }
        KeyAlgorithm::Rsa { bits } => Err(Refusal::bad(
            INSECURE_KEY_MESSAGE,
            "weak_key",
            format!("an RSA key of {bits} bits: certificates are issued for 2048 to 4096 bits"),
        )),
    }
}

fn parse_public_key(content: &[u8]) -> Result<PublicKey, Refusal> {
    let parsed = if content.starts_with(b"-----BEGIN") {
        PublicKey::from_pem(content)
    } else {
        PublicKey::from_spki_der(content)
    };
    parsed.map_err(|e| match e {
        sigil_crypto::KeyError::UnsupportedCurve { .. }
        | sigil_crypto::KeyError::RsaKeySize { .. } => {
            Refusal::bad(INSECURE_KEY_MESSAGE, "weak_key", e.to_string())
        }
        e => Refusal::bad(KEY_MESSAGE, "invalid_public_key", e.to_string()),
    })
}

/// Checks a proof of possession over `challenge` as Fulcio does: ECDSA and RSA over SHA-256
/// (or the key's own hash), Ed25519 over the bytes.
fn proof_ok(key: &PublicKey, challenge: &str, proof: &[u8]) -> bool {
    let m = challenge.as_bytes();
    match key.algorithm() {
        KeyAlgorithm::Ed25519 => key.verify_message(m, proof).is_ok(),
        alg => [HashAlgorithm::Sha256, alg.signing_hash()].iter().any(|h| {
            key.verify_digest_any_hash(&Digest::of(*h, m), proof)
                .is_ok()
        }),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Authority {
    /// A CA answering for `config`'s issuers, logging to `ct`; `leeway` is the clock skew
    /// allowed on token times.
    pub fn new(
        ca: Ca,
        config: Config,
        ct: CtClient,
        leeway: std::time::Duration,
        detached_sct: bool,
    ) -> Result<Self, OidcError> {
        let verifier = Verifier::new(config.oidc_issuers())?.with_leeway(leeway);
        Ok(Self {
            ca,
            config,
            verifier,
            ct,
            detached_sct,
        })
    }

    /// The CA's chain (intermediate, root), DER.
    pub fn ca_chain(&self) -> Vec<Vec<u8>> {
        self.ca.chain_der()
    }

    /// Verifies `token` and maps it to a principal (blocking: discovery and keys may be
    /// fetched).
    pub fn principal(&self, token: &str) -> Result<Principal, Refusal> {
        let t = self
            .verifier
            .verify(token, now())
            .map_err(|e| token_refusal(&e))?;
        let issuer = self
            .config
            .find(&t.issuer)
            .ok_or_else(|| token_refusal(&OidcError::UnknownIssuer(t.issuer.clone())))?;
        identity::principal(issuer, &t).map_err(|e| identity_refusal(&e))
    }

    /// The key of a request, its possession proven for `principal`.
    pub fn requested_key(
        &self,
        principal: &Principal,
        request: &KeyRequest,
    ) -> Result<PublicKey, Refusal> {
        let key = match request {
            KeyRequest::Csr(pem) => {
                use sigil_pki::csr::CsrError;
                match sigil_pki::csr::parse_pem(pem) {
                    Ok(r) => r.public_key,
                    Err(CsrError::Signature) => {
                        return Err(Refusal::bad(
                            SIGNATURE_MESSAGE,
                            "invalid_proof_of_possession",
                            CsrError::Signature.to_string(),
                        ));
                    }
                    Err(e @ CsrError::WeakKey(_)) => {
                        return Err(Refusal::bad(
                            INSECURE_KEY_MESSAGE,
                            "weak_key",
                            e.to_string(),
                        ));
                    }
                    Err(e) => return Err(Refusal::bad(CSR_MESSAGE, "invalid_csr", e.to_string())),
                }
            }
            KeyRequest::PublicKey { content, proof } => {
                let key = parse_public_key(content)?;
                leaf_key_accepted(&key)?;
                if !proof_ok(&key, &principal.challenge, proof) {
                    return Err(Refusal::bad(
                        SIGNATURE_MESSAGE,
                        "invalid_proof_of_possession",
                        "the proof of possession is not a signature over the token's challenge claim by the key",
                    ));
                }
                key
            }
        };
        // A CSR's key was held to the same sizes and curves when the request was parsed.
        Ok(key)
    }

    /// Issues the certificate for `principal` and `key`, logged first.
    pub async fn issue(
        &self,
        principal: &Principal,
        key: &PublicKey,
        detached: bool,
    ) -> Result<Issued, Refusal> {
        let mut extra: Vec<Extension> = principal.extensions.clone();
        extra.insert(0, principal.san.extension());
        let template = self
            .ca
            .leaf_template_with(key, &principal.issuer, now() - 1, extra);
        let internal = |e: issue::IssueError| Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 13,
            message: "error communicating with CA backend",
            reason: "ca_error",
            detail: e.to_string(),
        };
        let ct_refusal = |e: CtFailure| match e {
            CtFailure::Unavailable(d) => Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: 14,
                message: CT_MESSAGE,
                reason: "ct_log_unavailable",
                detail: format!(
                    "the CT log could not log the certificate, so none was issued: {d}"
                ),
            },
            CtFailure::Refused(d) => Refusal {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: 13,
                message: CT_MESSAGE,
                reason: "ct_log_refused",
                detail: format!("the CT log refused the certificate, so none was issued: {d}"),
            },
        };
        let ca_chain = self.ca.chain_der();
        let with_chain = |leaf: Vec<u8>| {
            let mut chain = vec![leaf];
            chain.extend(ca_chain.iter().cloned());
            chain
        };
        if detached || self.detached_sct {
            let leaf = issue::issue(&template, &self.ca.issuer()).map_err(internal)?;
            let chain = with_chain(leaf);
            let sct = self.ct.submit(&chain, false).await.map_err(ct_refusal)?;
            return Ok(Issued {
                chain,
                detached_sct: Some(sct),
            });
        }
        let mut pre = template.clone();
        pre.extensions.push(Extension::ct_poison());
        let precert = issue::issue(&pre, &self.ca.issuer()).map_err(internal)?;
        let answer = self
            .ct
            .submit(&with_chain(precert), true)
            .await
            .map_err(ct_refusal)?;
        let sct: Sct = sigil_pki::sct::from_add_chain_response(&answer)
            .map_err(|e| ct_refusal(CtFailure::Refused(e.to_string())))?;
        let mut fin = template;
        fin.extensions.push(Extension::sct_list(&[sct]));
        let leaf = issue::issue(&fin, &self.ca.issuer()).map_err(internal)?;
        Ok(Issued {
            chain: with_chain(leaf),
            detached_sct: None,
        })
    }

    /// `/api/v2/configuration`.
    pub fn configuration(&self) -> Value {
        let issuers: Vec<Value> = self
            .config
            .issuers
            .iter()
            .map(|i| {
                let mut o = serde_json::Map::new();
                o.insert(
                    if i.meta {
                        "wildcardIssuerUrl"
                    } else {
                        "issuerUrl"
                    }
                    .into(),
                    json!(i.url),
                );
                o.insert("audience".into(), json!(i.client_id));
                o.insert(
                    "challengeClaim".into(),
                    json!(i.challenge_claim.clone().unwrap_or_else(|| {
                        if i.kind == crate::config::IssuerType::Email {
                            "email".into()
                        } else {
                            "sub".into()
                        }
                    })),
                );
                if let Some(d) = &i.spiffe_trust_domain {
                    o.insert("spiffeTrustDomain".into(), json!(d));
                }
                if let Some(d) = &i.subject_domain {
                    o.insert("subjectDomain".into(), json!(d));
                }
                o.insert("issuerType".into(), json!(i.kind.name()));
                Value::Object(o)
            })
            .collect();
        json!({ "issuers": issuers })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V2Request {
    #[serde(default, alias = "credentials")]
    credentials: Option<Credentials>,
    #[serde(default, alias = "public_key_request")]
    public_key_request: Option<PublicKeyRequest>,
    #[serde(default, alias = "certificate_signing_request")]
    certificate_signing_request: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    #[serde(default, alias = "oidc_identity_token")]
    oidc_identity_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyRequest {
    #[serde(default, alias = "public_key")]
    public_key: Option<PublicKeyField>,
    #[serde(default, alias = "proof_of_possession")]
    proof_of_possession: Option<String>,
}

#[derive(Deserialize)]
struct PublicKeyField {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Request {
    #[serde(default)]
    public_key: Option<PublicKeyField>,
    #[serde(default)]
    signed_email_address: Option<String>,
    #[serde(default)]
    certificate_signing_request: Option<String>,
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn b64(field: &'static str, s: &str) -> Result<Vec<u8>, Refusal> {
    STANDARD.decode(s.trim()).map_err(|e| {
        Refusal::bad(
            KEY_MESSAGE,
            "malformed_request",
            format!("{field} is not base64: {e}"),
        )
    })
}

fn malformed(detail: String) -> Refusal {
    Refusal::bad(KEY_MESSAGE, "malformed_request", detail)
}

/// The token, then the key request, of a v2 body.
fn v2_parts(headers: &HeaderMap, body: &[u8]) -> Result<(String, KeyRequest), Refusal> {
    let r: V2Request = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a signingCert request: {e}")))?;
    let token = r
        .credentials
        .and_then(|c| c.oidc_identity_token)
        .filter(|t| !t.is_empty())
        .or_else(|| bearer(headers))
        .ok_or_else(|| {
            Refusal::token(
                "missing_token",
                "no credentials.oidcIdentityToken and no bearer token",
            )
        })?;
    let key = match (r.public_key_request, r.certificate_signing_request) {
        (Some(_), Some(_)) => {
            return Err(malformed(
                "give publicKeyRequest or certificateSigningRequest, not both".into(),
            ));
        }
        (None, Some(csr)) => KeyRequest::Csr(b64("certificateSigningRequest", &csr)?),
        (Some(p), None) => {
            let content = p
                .public_key
                .and_then(|k| k.content)
                .ok_or_else(|| malformed("publicKeyRequest has no publicKey.content".into()))?;
            let proof = p
                .proof_of_possession
                .ok_or_else(|| malformed("publicKeyRequest has no proofOfPossession".into()))?;
            KeyRequest::PublicKey {
                content: content.into_bytes(),
                proof: b64("proofOfPossession", &proof)?,
            }
        }
        (None, None) => {
            return Err(malformed(
                "no publicKeyRequest and no certificateSigningRequest".into(),
            ));
        }
    };
    Ok((token, key))
}

fn v1_parts(headers: &HeaderMap, body: &[u8]) -> Result<(String, KeyRequest), Refusal> {
    let r: V1Request = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a signingCert request: {e}")))?;
    let token =
        bearer(headers).ok_or_else(|| Refusal::token("missing_token", "no bearer token"))?;
    let key = match (
        r.public_key.and_then(|k| k.content),
        r.certificate_signing_request,
    ) {
        (_, Some(csr)) => KeyRequest::Csr(b64("certificateSigningRequest", &csr)?),
        (Some(content), None) => KeyRequest::PublicKey {
            content: b64("publicKey.content", &content)?,
            proof: b64(
                "signedEmailAddress",
                r.signed_email_address.as_deref().unwrap_or_default(),
            )?,
        },
        (None, None) => {
            return Err(malformed(
                "no publicKey and no certificateSigningRequest".into(),
            ));
        }
    };
    Ok((token, key))
}

async fn sign(
    a: Arc<Authority>,
    token: String,
    key: KeyRequest,
    detached: bool,
) -> Result<Issued, Refusal> {
    let blocking = a.clone();
    let (principal, key) = tokio::task::spawn_blocking(move || {
        let p = blocking.principal(&token)?;
        let k = blocking.requested_key(&p, &key)?;
        Ok::<_, Refusal>((p, k))
    })
    .await
    .map_err(|e| Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: 13,
        message: "error communicating with CA backend",
        reason: "ca_error",
        detail: e.to_string(),
    })??;
    a.issue(&principal, &key, detached).await
}

fn pem_chain(chain: &[Vec<u8>]) -> Vec<String> {
    chain
        .iter()
        .map(|c| sigil_crypto::pem::encode("CERTIFICATE", c))
        .collect()
}

async fn signing_cert_v2(
    State(a): State<Arc<Authority>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (token, key) = match v2_parts(&headers, &body) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    match sign(a, token, key, false).await {
        Ok(Issued {
            chain,
            detached_sct: None,
        }) => axum::Json(
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": pem_chain(&chain)}}}),
        )
        .into_response(),
        Ok(Issued {
            chain,
            detached_sct: Some(sct),
        }) => axum::Json(json!({"signedCertificateDetachedSct": {
            "chain": {"certificates": pem_chain(&chain)},
            "signedCertificateTimestamp": STANDARD.encode(sct.to_string()),
        }}))
        .into_response(),
        Err(r) => r.into_response(),
    }
}

async fn signing_cert_v1(
    State(a): State<Arc<Authority>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (token, key) = match v1_parts(&headers, &body) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    match sign(a, token, key, true).await {
        Ok(issued) => {
            let mut resp = (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                pem_chain(&issued.chain).concat(),
            )
                .into_response();
            if let Some(sct) = issued.detached_sct
                && let Ok(v) = HeaderValue::from_str(&STANDARD.encode(sct.to_string()))
            {
                resp.headers_mut().insert("SCT", v);
            }
            resp
        }
        Err(r) => r.into_response(),
    }
}

/// The routes, at the host root (clients drop any path prefix).
pub fn router(a: Arc<Authority>) -> Router {
    Router::new()
        .route("/api/v2/signingCert", post(signing_cert_v2))
        .route("/api/v1/signingCert", post(signing_cert_v1))
        .route(
            "/api/v2/trustBundle",
            get(|State(a): State<Arc<Authority>>| async move {
                axum::Json(json!({"chains": [{"certificates": pem_chain(&a.ca_chain())}]}))
            }),
        )
        .route(
            "/api/v2/configuration",
            get(|State(a): State<Arc<Authority>>| async move { axum::Json(a.configuration()) }),
        )
        .route(
            "/api/v1/rootCert",
            get(|State(a): State<Arc<Authority>>| async move {
                (
                    [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                    pem_chain(&a.ca_chain()).concat(),
                )
            }),
        )
        .with_state(a)
}

//! Keyless signing: an ephemeral key and a certificate for it from a Fulcio-compatible CA
//! (`sigil ca serve`, `sigil serve`, Fulcio), asked for with an OIDC identity token and a
//! CSR (`POST /api/v2/signingCert`, the token as a bearer token, as sigstore-python asks).
//! The key lives only in memory for the one signing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::{KeyAlgorithm, SigningKey};

use crate::{CertifiedSigner, SignError};

/// The largest answer read from the CA.
pub const MAX_ANSWER: u64 = 256 * 1024;

fn refused(url: &str, detail: String) -> SignError {
    SignError::CertificateAuthority {
        url: url.to_owned(),
        detail,
    }
}

/// The chain (leaf first, DER) the CA at `url` issues for `key` and `token`.
pub fn certificate(url: &str, token: &str, key: &SigningKey) -> Result<Vec<Vec<u8>>, SignError> {
    let base = url.trim_end_matches('/');
    let csr = sigil_pki::csr::build(key)?;
    let pem = sigil_crypto::pem::encode("CERTIFICATE REQUEST", &csr);
    let client = sigil_rekor::http::client_for(base).map_err(|e| refused(url, e))?;
    let resp = client
        .post(format!("{base}/api/v2/signingCert"))
        .bearer_auth(token.trim())
        .json(&json!({"certificateSigningRequest": STANDARD.encode(pem)}))
        .send()
        .map_err(|e| refused(url, format!("unreachable: {e}")))?;
    let status = resp.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(resp, MAX_ANSWER + 1), &mut body)
        .map_err(|e| refused(url, e.to_string()))?;
    if body.len() as u64 > MAX_ANSWER {
        return Err(refused(url, format!("an answer over {MAX_ANSWER} bytes")));
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        // Fulcio's message, and Sigil's reason and detail when the CA is Sigil's.
        let said = match (
            v["reason"].as_str(),
            v["detail"].as_str(),
            v["message"].as_str(),
        ) {
            (Some(r), Some(d), _) => format!("{r}: {d}"),
            (_, _, Some(m)) => m.to_owned(),
            _ => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        };
        return Err(refused(url, format!("answered {status}: {said}")));
    }
    let chain = v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .or_else(|| v["signedCertificateDetachedSct"]["chain"]["certificates"].as_array())
        .ok_or_else(|| refused(url, "the answer holds no certificate chain".into()))?;
    chain
        .iter()
        .map(|c| {
            let pem = c
                .as_str()
                .ok_or_else(|| refused(url, "a chain entry is not a string".into()))?;
            sigil_crypto::pem::decode(pem.as_bytes())
                .map(|b| b.contents)
                .map_err(|e| refused(url, format!("a chain entry: {e}")))
        })
        .collect()
}

/// An ephemeral P-256 key certified by the CA at `url` for `token`.
pub fn signer(url: &str, token: &str) -> Result<CertifiedSigner<SigningKey>, SignError> {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
    let chain = certificate(url, token, &key)?;
    CertifiedSigner::new(key, chain)
}

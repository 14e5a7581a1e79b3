//! RFC 3161 timestamps for signatures (cosign's `--timestamp-server-url`): the signature's
//! SHA-256 sent to a timestamp authority as a DER `TimeStampReq` with a fresh nonce and
//! `certReq`, the granted reply checked (status, imprint, nonce) before it goes into a bundle
//! or an image signature's annotation. Whether it is trusted is the verifier's decision.

use sigil_crypto::HashAlgorithm;
use sigil_tsa::Request;

use crate::SignError;

/// The largest reply read.
pub const MAX_REPLY: u64 = 64 * 1024;

/// A timestamp authority at a URL (`…/api/v1/timestamp`).
#[derive(Debug, Clone)]
pub struct TimestampAuthority {
    url: String,
    http: reqwest::blocking::Client,
}

fn failed(url: &str, detail: String) -> SignError {
    SignError::Timestamp {
        url: url.to_owned(),
        detail,
    }
}

impl TimestampAuthority {
    /// The authority at `url`.
    pub fn new(url: &str) -> Result<Self, SignError> {
        let http = sigil_rekor::http::client_for(url).map_err(|e| failed(url, e))?;
        Ok(Self {
            url: url.to_owned(),
            http,
        })
    }

    /// A granted `TimeStampResp` (DER) over `signature`.
    pub fn stamp(&self, signature: &[u8]) -> Result<Vec<u8>, SignError> {
        let nonce = u64::from_be_bytes(sigil_crypto::random_bytes::<8>()) >> 1 | 1;
        let req = Request::for_data(HashAlgorithm::Sha256, signature, Some(nonce), true);
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/timestamp-query")
            .body(req.to_der())
            .send()
            .map_err(|e| failed(&self.url, e.to_string()))?;
        let status = resp.status();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(resp, MAX_REPLY + 1), &mut body)
            .map_err(|e| failed(&self.url, e.to_string()))?;
        if !status.is_success() {
            return Err(failed(
                &self.url,
                format!(
                    "answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(512)]).trim()
                ),
            ));
        }
        if body.len() as u64 > MAX_REPLY {
            return Err(failed(
                &self.url,
                format!("the reply is over {MAX_REPLY} bytes"),
            ));
        }
        sigil_pki::tsa::check_reply(&body, signature, &req.nonce.unwrap_or_default())
            .map_err(|e| failed(&self.url, e.to_string()))?;
        Ok(body)
    }
}

/// Puts a timestamp reply into a bundle's verification material.
pub fn attach(bundle: &mut sigil_formats::bundle::Bundle, reply: Vec<u8>) {
    use sigil_formats::bundle::{Bytes, Rfc3161Timestamp, TimestampVerificationData};
    bundle
        .verification_material
        .timestamp_verification_data
        .get_or_insert_with(|| TimestampVerificationData {
            rfc3161_timestamps: Vec::new(),
        })
        .rfc3161_timestamps
        .push(Rfc3161Timestamp {
            signed_timestamp: Bytes(reply),
        });
}

//! policy-controller's `TrustRoot` documents (`policy.sigstore.dev/v1alpha1`), so that log and
//! keyless checks work with zero network access: `sigstoreKeys` (the logs', CT logs', CAs' and
//! TSAs' keys and certificates, inline) or, beyond policy-controller, `trustedRoot` (a
//! `trusted_root.json` inline). TUF `remote` and `repository` roots are refused (nothing is
//! fetched unless a document names a URL, and this verifier fetches no TUF repository).
//! Authorities name a root with `ctlog.trustRootRef` / `keyless.trustRootRef`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cip::Metadata;

/// A TrustRoot.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustRoot {
    /// `policy.sigstore.dev/v1alpha1`.
    pub api_version: String,
    /// `TrustRoot`.
    pub kind: String,
    /// Its name (what `trustRootRef` names).
    pub metadata: Metadata,
    /// The keys.
    pub spec: TrustRootSpec,
    /// Written by the cluster; ignored.
    #[serde(default)]
    pub status: Option<Value>,
}

/// `spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustRootSpec {
    /// Keys and certificates inline.
    #[serde(default)]
    pub sigstore_keys: Option<SigstoreKeys>,
    /// A `trusted_root.json`, inline (Sigil).
    #[serde(default)]
    pub trusted_root: Option<String>,
    /// A TUF repository to fetch (refused).
    #[serde(default)]
    pub remote: Option<Value>,
    /// A TUF repository inline (refused).
    #[serde(default)]
    pub repository: Option<Value>,
}

/// `sigstoreKeys`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigstoreKeys {
    /// Fulcio CAs.
    #[serde(default)]
    pub certificate_authorities: Vec<Authority>,
    /// Rekor logs.
    #[serde(default, rename = "tLogs")]
    pub t_logs: Vec<LogInstance>,
    /// CT logs.
    #[serde(default, rename = "ctLogs")]
    pub ct_logs: Vec<LogInstance>,
    /// RFC 3161 TSAs.
    #[serde(default)]
    pub timestamp_authorities: Vec<Authority>,
}

/// A CA or TSA.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authority {
    /// Its subject.
    #[serde(default)]
    pub subject: Option<Value>,
    /// Its URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// The certificate chain: base64 of the PEM certificates, leaf-most first.
    pub cert_chain: String,
}

/// A log.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogInstance {
    /// Its URL.
    #[serde(rename = "baseURL")]
    pub base_url: String,
    /// `sha-256` (the only one logs use).
    #[serde(default)]
    pub hash_algorithm: Option<String>,
    /// Its public key: base64 of the PEM.
    pub public_key: String,
}

impl TrustRoot {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The root as a `trusted_root.json` document.
    pub fn trusted_root_json(&self) -> Result<Value, String> {
        if let Some(t) = &self.spec.trusted_root {
            return serde_json::from_str(t)
                .map_err(|e| format!("spec.trustedRoot is not JSON: {e}"));
        }
        let Some(k) = &self.spec.sigstore_keys else {
            return Err("spec: sigstoreKeys or trustedRoot is required".into());
        };
        let start = json!({"start": "1970-01-01T00:00:00Z"});
        let log = |i: usize, l: &LogInstance, what: &str| -> Result<Value, String> {
            let at = |e: String| format!("spec.sigstoreKeys.{what}[{i}].publicKey: {e}");
            let pem = STANDARD
                .decode(l.public_key.trim())
                .map_err(|e| at(format!("not base64: {e}")))?;
            let key = sigil_crypto::PublicKey::from_pem(&pem).map_err(|e| at(e.to_string()))?;
            let details =
                sigil_formats::trust_root::key_details(&key).map_err(|e| at(e.to_string()))?;
            let id = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, key.spki_der());
            Ok(json!({"baseUrl": l.base_url, "hashAlgorithm": "SHA2_256",
                      "publicKey": {"rawBytes": STANDARD.encode(key.spki_der()), "keyDetails": details, "validFor": start},
                      "logId": {"keyId": STANDARD.encode(id.as_bytes())}}))
        };
        let ca = |i: usize, a: &Authority, what: &str| -> Result<Value, String> {
            let at = |e: String| format!("spec.sigstoreKeys.{what}[{i}].certChain: {e}");
            let pem = STANDARD
                .decode(a.cert_chain.trim())
                .map_err(|e| at(format!("not base64: {e}")))?;
            let mut certs = Vec::new();
            for b in sigil_crypto::pem::decode_all(&pem, 16).map_err(|e| at(e.to_string()))? {
                if b.label == "CERTIFICATE" {
                    certs.push(json!({"rawBytes": STANDARD.encode(&b.contents)}));
                }
            }
            if certs.is_empty() {
                return Err(at("holds no certificate".into()));
            }
            Ok(
                json!({"subject": a.subject.clone().unwrap_or(json!({})), "uri": a.uri.clone().unwrap_or_default(),
                      "certChain": {"certificates": certs}, "validFor": start}),
            )
        };
        let collect = |items: &[LogInstance], what: &str| -> Result<Vec<Value>, String> {
            items
                .iter()
                .enumerate()
                .map(|(i, l)| log(i, l, what))
                .collect()
        };
        let cas = |items: &[Authority], what: &str| -> Result<Vec<Value>, String> {
            items
                .iter()
                .enumerate()
                .map(|(i, a)| ca(i, a, what))
                .collect()
        };
        Ok(json!({
            "mediaType": sigil_formats::trust_root::MEDIA_TYPE_V01,
            "tlogs": collect(&k.t_logs, "tLogs")?,
            "ctlogs": collect(&k.ct_logs, "ctLogs")?,
            "certificateAuthorities": cas(&k.certificate_authorities, "certificateAuthorities")?,
            "timestampAuthorities": cas(&k.timestamp_authorities, "timestampAuthorities")?,
        }))
    }
}

pub(crate) fn load(v: Value) -> Result<TrustRoot, String> {
    let api = v.get("apiVersion").and_then(|a| a.as_str()).unwrap_or("");
    if api != "policy.sigstore.dev/v1alpha1" {
        return Err(format!(
            "apiVersion {api:?} is not a TrustRoot's (policy.sigstore.dev/v1alpha1)"
        ));
    }
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or("(unnamed)")
        .to_owned();
    let doc: TrustRoot =
        serde_path_to_error::deserialize(v).map_err(|e| match e.path().to_string().as_str() {
            "." => format!("TrustRoot {name}: {}", e.inner()),
            p => format!("TrustRoot {name}: {p}: {}", e.inner()),
        })?;
    if doc.spec.remote.is_some() || doc.spec.repository.is_some() {
        return Err(format!(
            "TrustRoot {name}: spec.remote and spec.repository (TUF) are not read: give sigstoreKeys or trustedRoot"
        ));
    }
    let json = doc
        .trusted_root_json()
        .map_err(|e| format!("TrustRoot {name}: {e}"))?;
    sigil_formats::trust_root::TrustedRoot::parse(json.to_string().as_bytes())
        .map_err(|e| format!("TrustRoot {name}: {e}"))?;
    Ok(doc)
}

//! Sigstore's `SigningConfig` (v0.2: where a client signs — CA, OIDC, logs, timestamp
//! authorities, each with its API version and validity window) and the `ClientTrustConfig`
//! that carries a trusted root and a signing config together (what sigstore-python's
//! `--trust-config` reads).

use serde_json::{Value, json};

/// The v0.2 signing config media type.
pub const SIGNING_CONFIG_V02: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// The client trust config media type.
pub const CLIENT_TRUST_CONFIG_V01: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// One service: its URL, API major version, validity start (RFC 3339) and operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its URL.
    pub url: String,
    /// The API's major version as Sigstore counts it (1 for the Fulcio API Sigil serves,
    /// Rekor v1 and the timestamp authority).
    pub major_api_version: u32,
    /// Valid from.
    pub start: String,
    /// Who operates it.
    pub operator: String,
}

impl Service {
    fn to_json(&self) -> Value {
        json!({"url": self.url, "majorApiVersion": self.major_api_version,
               "validFor": {"start": self.start}, "operator": self.operator})
    }
}

/// The services a client signs with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    /// Certificate authorities (Fulcio API).
    pub ca: Vec<Service>,
    /// OIDC providers.
    pub oidc: Vec<Service>,
    /// Transparency logs (Rekor API).
    pub tlogs: Vec<Service>,
    /// Timestamp authorities (their `/api/v1/timestamp` URLs).
    pub tsas: Vec<Service>,
}

/// A v0.2 `SigningConfig`: any one log and any one timestamp authority suffice.
pub fn signing_config(s: &Services) -> Value {
    let list = |v: &[Service]| v.iter().map(Service::to_json).collect::<Vec<_>>();
    json!({
        "mediaType": SIGNING_CONFIG_V02,
        "caUrls": list(&s.ca),
        "oidcUrls": list(&s.oidc),
        "rekorTlogUrls": list(&s.tlogs),
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaUrls": list(&s.tsas),
        "tsaConfig": {"selector": "ANY"},
    })
}

/// A `ClientTrustConfig`: a trusted root (as JSON) and a signing config.
pub fn client_trust_config(trusted_root: Value, signing_config: Value) -> Value {
    json!({
        "mediaType": CLIENT_TRUST_CONFIG_V01,
        "trustedRoot": trusted_root,
        "signingConfig": signing_config,
    })
}

/// The services of a `SigningConfig` (v0.2), or of the one inside a `ClientTrustConfig`, that
/// are valid at `now` and speak an API version Sigil speaks (major version 1 for each), in the
/// order given.
pub fn services_at(doc: &Value, now: crate::time::Timestamp) -> Result<Services, String> {
    let config = match doc["mediaType"].as_str() {
        Some(CLIENT_TRUST_CONFIG_V01) => &doc["signingConfig"],
        _ => doc,
    };
    match config["mediaType"].as_str() {
        Some(SIGNING_CONFIG_V02) => {}
        Some(other) => {
            return Err(format!(
                "a signing config of media type {other:?} (v0.2 is read)"
            ));
        }
        None => return Err("not a signing config (no mediaType)".into()),
    }
    let read = |field: &str| -> Result<Vec<Service>, String> {
        let Some(list) = config[field].as_array() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for s in list {
            let url = s["url"]
                .as_str()
                .ok_or_else(|| format!("{field}: a service without a url"))?;
            let start = s["validFor"]["start"].as_str().unwrap_or_default();
            let valid_from = if start.is_empty() {
                None
            } else {
                Some(
                    crate::time::Timestamp::parse_rfc3339(start)
                        .map_err(|e| format!("{field}: {e}"))?,
                )
            };
            let valid_until = match s["validFor"]["end"].as_str() {
                Some(e) => Some(
                    crate::time::Timestamp::parse_rfc3339(e)
                        .map_err(|e| format!("{field}: {e}"))?,
                ),
                None => None,
            };
            let version = s["majorApiVersion"].as_u64().unwrap_or(1);
            if version != 1
                || valid_from.is_some_and(|f| f > now)
                || valid_until.is_some_and(|u| u <= now)
            {
                continue;
            }
            out.push(Service {
                url: url.to_owned(),
                major_api_version: 1,
                start: start.to_owned(),
                operator: s["operator"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(out)
    };
    Ok(Services {
        ca: read("caUrls")?,
        oidc: read("oidcUrls")?,
        tlogs: read("rekorTlogUrls")?,
        tsas: read("tsaUrls")?,
    })
}

//! Uploading to a Rekor v1-compatible log (Sigil's own or Rekor) and turning its answer into the
//! bundle's `TransparencyLogEntry`; `trusted-root create`.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::hash::hex_decode;
use sigil_crypto::{Digest, KeyAlgorithm, PublicKey};
use sigil_formats::bundle::{
    Bytes, Checkpoint, InclusionPromise, InclusionProof, Int64, KindVersion, LogId,
    TransparencyLogEntry,
};

use crate::cli::TrustedRootCreate;
use crate::support::{AtomicOutputs, read_limited};

/// Largest response read from a log.
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// The HTTP client every log client uses.
pub fn http() -> Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// A response's status and body, refused beyond [`MAX_RESPONSE`] bytes.
fn read_body(resp: reqwest::blocking::Response, url: &str) -> Result<(u16, Vec<u8>)> {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(resp, MAX_RESPONSE + 1), &mut body)?;
    if body.len() as u64 > MAX_RESPONSE {
        bail!("{url}: the response is over {MAX_RESPONSE} bytes");
    }
    Ok((status, body))
}

fn read_json(resp: reqwest::blocking::Response, url: &str) -> Result<(u16, Value)> {
    let (status, body) = read_body(resp, url)?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// A successful response's JSON; any other status is an error carrying the log's message.
pub fn read_json_ok(resp: reqwest::blocking::Response, url: &str) -> Result<Value> {
    let (status, body) = read_body(resp, url)?;
    if !(200..300).contains(&status) {
        let msg = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
        bail!("{url}: {status}: {msg}");
    }
    serde_json::from_slice(&body).with_context(|| format!("{url}: the response is not JSON"))
}

/// The log's public key: the pinned PEM file, else fetched from the log (`true` when fetched).
pub fn log_public_key(
    http: &reqwest::blocking::Client,
    base: &str,
    pinned: Option<&std::path::Path>,
) -> Result<(PublicKey, bool)> {
    if let Some(p) = pinned {
        return Ok((
            PublicKey::from_pem(&read_limited(p, 64 * 1024, "log public key")?)?,
            false,
        ));
    }
    let url = format!("{base}/api/v1/log/publicKey");
    let resp = http
        .get(&url)
        .send()
        .with_context(|| format!("GET {url}"))?;
    let (status, body) = read_body(resp, &url)?;
    if !(200..300).contains(&status) {
        bail!("{url}: {status}");
    }
    Ok((
        PublicKey::from_pem(&body).with_context(|| url.clone())?,
        true,
    ))
}

/// Posts a proposed entry; returns the log's `TransparencyLogEntry` (a duplicate's too).
pub fn upload(rekor_url: &str, proposed: &Value) -> Result<TransparencyLogEntry> {
    let base = rekor_url.trim_end_matches('/');
    let url = format!("{base}/api/v1/log/entries");
    let client = http()?;
    let resp = client
        .post(&url)
        .json(proposed)
        .send()
        .with_context(|| format!("cannot reach the transparency log at {url}"))?;
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, v) = read_json(resp, &url)?;
    let v = match status {
        201 => v,
        409 => {
            // Already logged: fetch the existing entry.
            let loc = location.ok_or_else(|| anyhow!("{url}: 409 without a Location"))?;
            let entry_url = if loc.starts_with("http") {
                loc
            } else {
                format!("{base}{loc}")
            };
            let r = client
                .get(&entry_url)
                .send()
                .with_context(|| format!("GET {entry_url}"))?;
            let (s, v) = read_json(r, &entry_url)?;
            if s != 200 {
                bail!("{entry_url}: {s}");
            }
            v
        }
        _ => bail!(
            "the transparency log refused the entry ({status}): {}",
            v["message"].as_str().unwrap_or("no message")
        ),
    };
    let (_, e) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| anyhow!("{url}: no entry in the response"))?;
    to_bundle_entry(e)
}

fn hex_field(e: &Value, field: &str, what: &str) -> Result<Vec<u8>> {
    let s = e[field]
        .as_str()
        .ok_or_else(|| anyhow!("the log's answer has no {what} ({field})"))?;
    hex_decode(s).ok_or_else(|| anyhow!("the log's {what} ({field}) is not hex"))
}

fn int_field(e: &Value, field: &str, what: &str) -> Result<i64> {
    e[field]
        .as_i64()
        .filter(|n| *n >= 0)
        .ok_or_else(|| anyhow!("the log's answer has no {what} ({field} is missing or negative)"))
}

/// A log entry as the Rekor v1 API returns it (`{uuid: {body, integratedTime, logID, logIndex,
/// verification}}`'s value) as a bundle's `TransparencyLogEntry`. Every field the bundle needs
/// must be present and well formed: nothing missing becomes zero. The kind and version come
/// from the body itself.
pub fn to_bundle_entry(e: &Value) -> Result<TransparencyLogEntry> {
    let body = STANDARD
        .decode(
            e["body"]
                .as_str()
                .ok_or_else(|| anyhow!("the log's answer has no entry body"))?,
        )
        .context("the log's entry body is not base64")?;
    let head: Value = serde_json::from_slice(&body).context("the log's entry body is not JSON")?;
    let (Some(kind), Some(version)) = (head["kind"].as_str(), head["apiVersion"].as_str()) else {
        bail!("the log's entry body names no kind and apiVersion");
    };
    let set = match e["verification"]["signedEntryTimestamp"].as_str() {
        Some(s) => Some(InclusionPromise {
            signed_entry_timestamp: Bytes(
                STANDARD
                    .decode(s)
                    .context("the log's signed entry timestamp is not base64")?,
            ),
        }),
        None => None,
    };
    let p = &e["verification"]["inclusionProof"];
    let proof = if p.is_null() {
        None
    } else {
        let hashes = p["hashes"]
            .as_array()
            .ok_or_else(|| anyhow!("the log's inclusion proof has no hashes"))?
            .iter()
            .map(|h| {
                h.as_str()
                    .and_then(hex_decode)
                    .map(Bytes)
                    .ok_or_else(|| anyhow!("a hash of the log's inclusion proof is not hex"))
            })
            .collect::<Result<Vec<_>>>()?;
        Some(InclusionProof {
            log_index: Int64(int_field(p, "logIndex", "inclusion proof index")?),
            root_hash: Bytes(hex_field(p, "rootHash", "inclusion proof root hash")?),
            tree_size: Int64(int_field(p, "treeSize", "inclusion proof tree size")?),
            hashes,
            checkpoint: p["checkpoint"].as_str().map(|c| Checkpoint {
                envelope: c.to_owned(),
            }),
        })
    };
    if set.is_none() && proof.is_none() {
        bail!("the log's answer has neither a signed entry timestamp nor an inclusion proof");
    }
    Ok(TransparencyLogEntry {
        log_index: Int64(int_field(e, "logIndex", "log index")?),
        log_id: LogId {
            key_id: Bytes(hex_field(e, "logID", "log ID")?),
        },
        kind_version: KindVersion {
            kind: kind.to_owned(),
            version: version.to_owned(),
        },
        integrated_time: Int64(int_field(e, "integratedTime", "integrated time")?),
        inclusion_promise: set,
        inclusion_proof: proof,
        canonicalized_body: Bytes(body),
    })
}

/// Most entries fetched to find the one recording a detached signature.
pub const MAX_CANDIDATES: usize = 64;

/// The entries of the log at `rekor_url` that may record a signature by `key` over an artefact
/// with `digest`: the log's index is searched for entries with both (Rekor's `operator: and`),
/// and at most [`MAX_CANDIDATES`] of them are fetched. Which one, if any, records this signature
/// is for the verifier to decide; the entries are evidence, not trusted.
pub fn find_entries(
    rekor_url: &str,
    digest: &Digest,
    key: &PublicKey,
) -> Result<Vec<TransparencyLogEntry>> {
    let base = rekor_url.trim_end_matches('/');
    let client = http()?;
    let url = format!("{base}/api/v1/index/retrieve");
    let query = json!({
        "hash": format!("{}:{}", digest.algorithm().name(), digest.to_hex()),
        "publicKey": {"format": "x509", "content": STANDARD.encode(key.to_pem())},
        "operator": "and",
    });
    let resp = client
        .post(&url)
        .json(&query)
        .send()
        .with_context(|| format!("cannot reach the transparency log at {base}"))?;
    let found = read_json_ok(resp, &url)?;
    let uuids: Vec<String> = found
        .as_array()
        .ok_or_else(|| anyhow!("{url}: the answer is not a list of entry UUIDs"))?
        .iter()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .take(MAX_CANDIDATES)
        .collect();
    if uuids.is_empty() {
        return Ok(Vec::new());
    }
    let url = format!("{base}/api/v1/log/entries/retrieve");
    let resp = client
        .post(&url)
        .json(&json!({ "entryUUIDs": uuids }))
        .send()
        .with_context(|| format!("cannot reach the transparency log at {base}"))?;
    let list = read_json_ok(resp, &url)?;
    let mut out = Vec::new();
    for item in list.as_array().into_iter().flatten() {
        for (_, e) in item.as_object().into_iter().flatten() {
            out.push(to_bundle_entry(e).with_context(|| format!("{url}: an entry"))?);
        }
    }
    Ok(out)
}

/// The hashedrekord 0.0.1 proposal for a signature over `digest` by `key`.
pub fn hashedrekord(signature: &[u8], key: &PublicKey, digest: &Digest) -> Value {
    json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "signature": {"content": STANDARD.encode(signature),
                      "publicKey": {"content": STANDARD.encode(key.to_pem())}},
        "data": {"hash": {"algorithm": digest.algorithm().name(), "value": digest.to_hex()}}}})
}

/// The dsse 0.0.1 proposal for an envelope signed by `key`.
pub fn dsse(envelope_json: &str, key: &PublicKey) -> Value {
    json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": envelope_json, "verifiers": [STANDARD.encode(key.to_pem())]}}})
}

/// cosign's `dev.sigstore.cosign/bundle` annotation for an entry.
pub fn cosign_bundle_annotation(e: &TransparencyLogEntry) -> String {
    json!({
        "SignedEntryTimestamp": e.inclusion_promise.as_ref().map(|p| STANDARD.encode(&p.signed_entry_timestamp.0)),
        "Payload": {
            "body": STANDARD.encode(&e.canonicalized_body.0),
            "integratedTime": e.integrated_time.0,
            "logIndex": e.log_index.0,
            "logID": sigil_crypto::hash::hex_lower(&e.log_id.key_id.0),
        }
    })
    .to_string()
}

pub fn trusted_root_create(a: TrustedRootCreate) -> Result<()> {
    let base = a.rekor_url.trim_end_matches('/').to_owned();
    let client = http()?;
    let (key, fetched) = log_public_key(&client, &base, a.rekor_public_key.as_deref())?;
    if fetched {
        errln!(
            "Trusting the log's key as {base} served it now (trust on first use): key {}, log ID {}. Check it out of band, or pass --rekor-public-key.",
            key.hint(),
            sigil_crypto::hash::hex_lower(
                sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, key.spki_der())
                    .as_bytes()
            )
        );
    }
    let start = match &a.rekor_start_time {
        Some(t) => t.clone(),
        None => {
            // The log's first entry, or now for an empty log.
            let url = format!("{base}/api/v1/log/entries?logIndex=0");
            let first = client
                .get(&url)
                .send()
                .ok()
                .and_then(|r| read_json_ok(r, &url).ok())
                .and_then(|v| v.as_object()?.values().next()?["integratedTime"].as_i64());
            let secs = first.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
            sigil_formats::time::Timestamp::from_unix(secs).to_rfc3339()
        }
    };
    let details = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        KeyAlgorithm::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
        KeyAlgorithm::EcdsaP521 => "PKIX_ECDSA_P521_SHA_512",
        KeyAlgorithm::Ed25519 => "PKIX_ED25519",
        KeyAlgorithm::Rsa { bits: 2048 } => "PKIX_RSA_PKCS1V15_2048_SHA256",
        KeyAlgorithm::Rsa { bits: 3072 } => "PKIX_RSA_PKCS1V15_3072_SHA256",
        KeyAlgorithm::Rsa { bits: 4096 } => "PKIX_RSA_PKCS1V15_4096_SHA256",
        KeyAlgorithm::Rsa { bits } => bail!(
            "the log's key is RSA-{bits}; a trusted root names RSA keys of 2048, 3072 or 4096 bits"
        ),
    };
    let mut valid = json!({"start": start});
    if let Some(end) = &a.rekor_end_time {
        valid["end"] = json!(end);
    }
    let log_id = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, key.spki_der());
    let root = json!({
        "mediaType": sigil_formats::trust_root::MEDIA_TYPE_V01,
        "tlogs": [{
            "baseUrl": base,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(key.spki_der()), "keyDetails": details, "validFor": valid},
            "logId": {"keyId": STANDARD.encode(log_id.as_bytes())},
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    });
    let text = format!("{root:#}\n");
    // What is written must read back.
    sigil_formats::trust_root::TrustedRoot::parse(text.as_bytes())?;
    match &a.out {
        Some(p) => {
            let mut o = AtomicOutputs::new(true);
            o.add(p, text.as_bytes(), 0o644)?;
            o.commit()?;
            errln!("Wrote the trusted root to {}", p.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

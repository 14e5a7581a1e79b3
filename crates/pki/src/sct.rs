//! Embedded Signed Certificate Timestamps (RFC 6962 §3.2-3.3) in Fulcio certificates.

use sigil_crypto::{Digest, HashAlgorithm, PublicKey};
use sigil_formats::time::Timestamp;
use sigil_formats::trust_root::LogInstance;

use crate::cert::{Certificate, OID_SCT_LIST};
use crate::tlv;

/// Why SCT verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SctError {
    /// No SCT extension.
    #[error("the certificate has no embedded SCT (it was not logged to certificate transparency)")]
    Missing,
    /// The extension is malformed.
    #[error("malformed embedded SCT list: {0}")]
    Malformed(&'static str),
    /// No SCT verified with a trusted CT log.
    #[error("no embedded SCT verifies with a trusted CT log: {0}")]
    Unverified(String),
    /// The issuer or leaf could not be re-encoded.
    #[error("cannot rebuild the precertificate: {0}")]
    Precert(String),
}

/// One parsed SCT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    /// The CT log's ID (SHA-256 of its key).
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// SCT extensions.
    pub extensions: Vec<u8>,
    /// TLS hash algorithm.
    pub hash_alg: u8,
    /// TLS signature algorithm.
    pub sig_alg: u8,
    /// Signature.
    pub signature: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SctError> {
        if self.0.len() < n {
            return Err(SctError::Malformed("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SctError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, SctError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }
}

/// Parses the SCT list extension of a certificate.
pub fn embedded_scts(cert: &Certificate) -> Result<Vec<Sct>, SctError> {
    let v = cert
        .extension_value(OID_SCT_LIST)
        .ok_or(SctError::Missing)?;
    let inner = tlv::read_only(v, 0x04).map_err(|_| SctError::Malformed("not an OCTET STRING"))?;
    let mut r = Reader(inner.value);
    let total = r.u16()?;
    if total != r.0.len() {
        return Err(SctError::Malformed("list length"));
    }
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let len = r.u16()?;
        let mut s = Reader(r.take(len)?);
        if s.u8()? != 0 {
            return Err(SctError::Malformed("unsupported SCT version"));
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(s.take(32)?);
        let ts = s.take(8)?;
        let timestamp_ms = u64::from_be_bytes(
            ts.try_into()
                .map_err(|_| SctError::Malformed("timestamp"))?,
        );
        let ext_len = s.u16()?;
        let extensions = s.take(ext_len)?.to_vec();
        let hash_alg = s.u8()?;
        let sig_alg = s.u8()?;
        let sig_len = s.u16()?;
        let signature = s.take(sig_len)?.to_vec();
        if !s.0.is_empty() {
            return Err(SctError::Malformed("trailing bytes in an SCT"));
        }
        out.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash_alg,
            sig_alg,
            signature,
        });
    }
    if out.is_empty() {
        return Err(SctError::Malformed("empty list"));
    }
    Ok(out)
}

/// Verifies the embedded SCTs of `leaf` (issued by `issuer`) against trusted CT logs; returns
/// the SCTs that verified (at least one, or an error).
pub fn verify_embedded_scts(
    leaf: &Certificate,
    issuer: &Certificate,
    ctlogs: &[LogInstance],
) -> Result<Vec<Sct>, SctError> {
    let scts = embedded_scts(leaf)?;
    let tbs = leaf
        .tbs_without_extension(OID_SCT_LIST)
        .map_err(|e| SctError::Precert(e.to_string()))?;
    let issuer_spki = issuer
        .spki_der()
        .map_err(|e| SctError::Precert(e.to_string()))?;
    let issuer_key_hash = Digest::of(HashAlgorithm::Sha256, &issuer_spki);
    let mut reasons = Vec::new();
    let mut good = Vec::new();
    for sct in scts {
        let Some(log) = ctlogs.iter().find(|l| l.log_id == sct.log_id) else {
            reasons.push(format!(
                "SCT from unknown CT log {}",
                sigil_crypto::hash::hex_lower(&sct.log_id)
            ));
            continue;
        };
        let t = Timestamp::from_unix((sct.timestamp_ms / 1000) as i64);
        if !log.validity.contains(t) {
            reasons.push(format!(
                "CT log {} was not valid at the SCT's time {}",
                log.base_url,
                t.to_rfc3339()
            ));
            continue;
        }
        let Ok(key) = PublicKey::from_spki_der(&log.public_key) else {
            reasons.push(format!("CT log {} has an unusable key", log.base_url));
            continue;
        };
        let msg = precert_signed_data(
            sct.timestamp_ms,
            issuer_key_hash.as_bytes(),
            &tbs,
            &sct.extensions,
        );
        match key.verify(&msg, &sct.signature) {
            Ok(()) => good.push(sct),
            Err(e) => reasons.push(format!("SCT from {} does not verify: {e}", log.base_url)),
        }
    }
    if good.is_empty() {
        return Err(SctError::Unverified(reasons.join("; ")));
    }
    Ok(good)
}

/// What a CT log signs for a precertificate entry (RFC 6962 §3.2): version v1,
/// certificate_timestamp, the time, precert_entry, the issuer's key hash, the TBSCertificate
/// without the poison (or SCT) extension, and the SCT extensions.
pub fn precert_signed_data(
    timestamp_ms: u64,
    issuer_key_hash: &[u8],
    tbs: &[u8],
    extensions: &[u8],
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(tbs.len() + 64 + extensions.len());
    msg.push(0); // version v1
    msg.push(0); // signature_type certificate_timestamp
    msg.extend_from_slice(&timestamp_ms.to_be_bytes());
    msg.extend_from_slice(&[0, 1]); // entry_type precert_entry
    msg.extend_from_slice(issuer_key_hash);
    let n = tbs.len();
    msg.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    msg.extend_from_slice(tbs);
    msg.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    msg.extend_from_slice(extensions);
    msg
}

/// The CT log's side: an SCT for the precertificate whose TBSCertificate without the poison
/// extension is `tbs`, issued by the key whose SubjectPublicKeyInfo is `issuer_spki`, signed
/// with the log's key at `timestamp_ms`.
pub fn sign_precert(
    log_key: &sigil_crypto::SigningKey,
    issuer_spki: &[u8],
    tbs: &[u8],
    timestamp_ms: u64,
) -> Result<Sct, sigil_crypto::KeyError> {
    let issuer_key_hash = Digest::of(HashAlgorithm::Sha256, issuer_spki);
    let msg = precert_signed_data(timestamp_ms, issuer_key_hash.as_bytes(), tbs, &[]);
    let signature = log_key.sign(&msg)?;
    let mut log_id = [0u8; 32];
    log_id.copy_from_slice(
        Digest::of(HashAlgorithm::Sha256, log_key.public_key().spki_der()).as_bytes(),
    );
    let (hash_alg, sig_alg) = tls_algorithms(log_key.algorithm());
    Ok(Sct {
        log_id,
        timestamp_ms,
        extensions: Vec::new(),
        hash_alg,
        sig_alg,
        signature,
    })
}

/// The TLS `HashAlgorithm` and `SignatureAlgorithm` codes of a `DigitallySigned` made by a key
/// of `alg` (RFC 5246 §7.4.1.4.1; Ed25519 as RFC 8422).
pub fn tls_algorithms(alg: sigil_crypto::KeyAlgorithm) -> (u8, u8) {
    match alg {
        sigil_crypto::KeyAlgorithm::EcdsaP384 => (5, 3), // sha384, ecdsa
        sigil_crypto::KeyAlgorithm::EcdsaP521 => (6, 3), // sha512, ecdsa
        sigil_crypto::KeyAlgorithm::Rsa { .. } => (4, 1), // sha256, rsa
        sigil_crypto::KeyAlgorithm::Ed25519 => (8, 7),   // intrinsic, ed25519
        sigil_crypto::KeyAlgorithm::EcdsaP256 => (4, 3), // sha256, ecdsa
    }
}

/// The TLS encoding of one SCT (RFC 6962 §3.2 `SignedCertificateTimestamp`).
pub fn encode_sct(s: &Sct) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + s.extensions.len() + s.signature.len());
    out.push(0); // v1
    out.extend_from_slice(&s.log_id);
    out.extend_from_slice(&s.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&(s.extensions.len() as u16).to_be_bytes());
    out.extend_from_slice(&s.extensions);
    out.push(s.hash_alg);
    out.push(s.sig_alg);
    out.extend_from_slice(&(s.signature.len() as u16).to_be_bytes());
    out.extend_from_slice(&s.signature);
    out
}

/// The value of the SCT list extension (1.3.6.1.4.1.11129.2.4.2): an OCTET STRING holding the
/// TLS-encoded `SignedCertificateTimestampList`.
pub fn sct_list_extension_value(scts: &[Sct]) -> Vec<u8> {
    let mut list = Vec::new();
    for s in scts {
        let e = encode_sct(s);
        list.extend_from_slice(&(e.len() as u16).to_be_bytes());
        list.extend_from_slice(&e);
    }
    let mut body = (list.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(&list);
    crate::encode::octets(&body)
}

/// An SCT from a CT log's `add-chain`/`add-pre-chain` answer (RFC 6962 §4.1: `sct_version`, `id`,
/// `timestamp`, `extensions`, `signature` as a base64 TLS `DigitallySigned`).
pub fn from_add_chain_response(v: &serde_json::Value) -> Result<Sct, SctError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let bad = SctError::Malformed;
    if v["sct_version"].as_u64() != Some(0) {
        return Err(bad("sct_version is not v1 (0)"));
    }
    let id = b64
        .decode(v["id"].as_str().ok_or(bad("no id"))?)
        .map_err(|_| bad("id is not base64"))?;
    let log_id: [u8; 32] = id.try_into().map_err(|_| bad("id is not 32 bytes"))?;
    let timestamp_ms = v["timestamp"].as_u64().ok_or(bad("no timestamp"))?;
    let extensions = b64
        .decode(v["extensions"].as_str().unwrap_or_default())
        .map_err(|_| bad("extensions are not base64"))?;
    let ds = b64
        .decode(v["signature"].as_str().ok_or(bad("no signature"))?)
        .map_err(|_| bad("signature is not base64"))?;
    let mut r = Reader(&ds);
    let hash_alg = r.u8()?;
    let sig_alg = r.u8()?;
    let n = r.u16()?;
    let signature = r.take(n)?.to_vec();
    if !r.0.is_empty() {
        return Err(bad("trailing bytes after the signature"));
    }
    Ok(Sct {
        log_id,
        timestamp_ms,
        extensions,
        hash_alg,
        sig_alg,
        signature,
    })
}

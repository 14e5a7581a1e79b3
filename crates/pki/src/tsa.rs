//! RFC 3161 timestamps: a `TimeStampResp` or bare `TimeStampToken` (CMS SignedData over a
//! `TSTInfo`) that vouches a signature existed at `genTime`.
//!
//! Checked: the token is SignedData with one signer; the message imprint is the hash of the
//! timestamped bytes; the signed attributes name TSTInfo and carry its digest; the signature over
//! the attributes verifies with the signer certificate (embedded, or the authority's own); that
//! certificate chains to a timestamp authority of the trust root, valid for time stamping at
//! `genTime`, and `genTime` lies in the authority's validity window.

use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::time::Timestamp;
use sigil_formats::trust_root::Authority;

use crate::cert::Certificate;
use crate::chain::{Purpose, verify_chain};
use crate::tlv::{self, Tlv};

/// Largest token accepted.
pub const MAX_TIMESTAMP_LEN: usize = 64 * 1024;

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsaError {
    /// Too large.
    #[error("RFC 3161 timestamp is {0} bytes, over the {MAX_TIMESTAMP_LEN}-byte limit")]
    TooLarge(usize),
    /// Structure.
    #[error("malformed RFC 3161 timestamp: {0}")]
    Malformed(&'static str),
    /// The TSA refused the request.
    #[error("the timestamp response has status {0} (not granted)")]
    Status(u8),
    /// Imprint.
    #[error("the timestamp is for other data: its message imprint does not match the signature")]
    Imprint,
    /// Signed attributes.
    #[error("the timestamp's signed attributes do not match its TSTInfo: {0}")]
    Attributes(&'static str),
    /// Signature.
    #[error("the timestamp's signature does not verify with its signing certificate")]
    Signature,
    /// The reply does not echo the request's nonce (a replayed or misrouted answer).
    #[error("the timestamp reply does not carry the request's nonce")]
    Nonce,
    /// Unsupported algorithm.
    #[error("unsupported algorithm in the timestamp: {0}")]
    Algorithm(&'static str),
    /// Not trusted.
    #[error("the timestamp was not issued by a trusted timestamp authority: {0}")]
    Untrusted(String),
}

/// A verified timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// `genTime`.
    pub time: Timestamp,
    /// Index of the authority in the trust root that vouched for it.
    pub authority: usize,
}

fn m(s: &'static str) -> TsaError {
    TsaError::Malformed(s)
}

fn child<'a>(kids: &[Tlv<'a>], i: usize, tag: u8, what: &'static str) -> Result<Tlv<'a>, TsaError> {
    kids.get(i).filter(|k| k.tag == tag).copied().ok_or(m(what))
}

fn hash_of_oid(oid: &[u8]) -> Option<HashAlgorithm> {
    match oid {
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01] => Some(HashAlgorithm::Sha256),
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02] => Some(HashAlgorithm::Sha384),
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03] => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

/// The hash a signature algorithm OID implies (None: take it from the digest algorithm).
fn signature_hash(oid: &[u8]) -> Result<Option<HashAlgorithm>, TsaError> {
    Ok(match oid {
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02] => Some(HashAlgorithm::Sha256),
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03] => Some(HashAlgorithm::Sha384),
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04] => Some(HashAlgorithm::Sha512),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b] => Some(HashAlgorithm::Sha256),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c] => Some(HashAlgorithm::Sha384),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d] => Some(HashAlgorithm::Sha512),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => None,
        _ => return Err(TsaError::Algorithm("signature algorithm")),
    })
}

fn alg_oid<'a>(alg_id: &Tlv<'a>) -> Result<&'a [u8], TsaError> {
    let kids = tlv::children(alg_id.value).map_err(|_| m("algorithm identifier"))?;
    Ok(child(&kids, 0, 0x06, "algorithm identifier")?.value)
}

/// Parses GeneralizedTime `YYYYMMDDHHMMSS[.f*]Z`.
fn generalized_time(v: &[u8]) -> Result<Timestamp, TsaError> {
    let s = std::str::from_utf8(v).map_err(|_| m("genTime"))?;
    let s = s.strip_suffix('Z').ok_or(m("genTime is not UTC"))?;
    if s.len() < 14 || !s[..14].bytes().all(|b| b.is_ascii_digit()) {
        return Err(m("genTime"));
    }
    let frac = &s[14..];
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[8..10],
        &s[10..12],
        &s[12..14],
        frac
    );
    Timestamp::parse_rfc3339(&rfc).map_err(|_| m("genTime"))
}

/// The SignedData's fields and its TSTInfo (DER) of a `TimeStampResp` (granted) or bare
/// `TimeStampToken`.
fn signed_data(token: &[u8]) -> Result<(Vec<Tlv<'_>>, &[u8]), TsaError> {
    if token.len() > MAX_TIMESTAMP_LEN {
        return Err(TsaError::TooLarge(token.len()));
    }
    let top = tlv::read_only(token, 0x30).map_err(|_| m("not a DER SEQUENCE"))?;
    let kids = tlv::children(top.value).map_err(|_| m("top level"))?;
    // TimeStampResp { status PKIStatusInfo, timeStampToken } or a bare ContentInfo.
    let content_info = match kids.first().map(|k| k.tag) {
        Some(0x06) => top,
        Some(0x30) => {
            let status = tlv::children(kids[0].value).map_err(|_| m("status"))?;
            let code = child(&status, 0, 0x02, "status")?.value;
            if code.len() != 1 || code[0] > 1 {
                return Err(TsaError::Status(code.last().copied().unwrap_or(255)));
            }
            child(&kids, 1, 0x30, "missing timeStampToken")?
        }
        _ => return Err(m("neither a TimeStampResp nor a TimeStampToken")),
    };
    let ci = tlv::children(content_info.value).map_err(|_| m("ContentInfo"))?;
    if child(&ci, 0, 0x06, "ContentInfo type")?.value != OID_SIGNED_DATA {
        return Err(m("the token is not CMS SignedData"));
    }
    let explicit = child(&ci, 1, 0xa0, "ContentInfo content")?;
    let sd = tlv::read_only(explicit.value, 0x30).map_err(|_| m("SignedData"))?;
    let sd = tlv::children(sd.value).map_err(|_| m("SignedData"))?;
    let encap = tlv::children(child(&sd, 2, 0x30, "encapContentInfo")?.value)
        .map_err(|_| m("encapContentInfo"))?;
    if child(&encap, 0, 0x06, "eContentType")?.value != OID_TST_INFO {
        return Err(m("the signed content is not a TSTInfo"));
    }
    let econtent = child(&encap, 1, 0xa0, "eContent")?;
    let tst_der = tlv::read_only(econtent.value, 0x04)
        .map_err(|_| m("eContent"))?
        .value;
    Ok((sd, tst_der))
}

/// A TSTInfo's fields, its imprint's hash and the imprint.
fn tst_fields(tst_der: &[u8]) -> Result<(Vec<Tlv<'_>>, HashAlgorithm, &[u8]), TsaError> {
    let tst = tlv::children(
        tlv::read_only(tst_der, 0x30)
            .map_err(|_| m("TSTInfo"))?
            .value,
    )
    .map_err(|_| m("TSTInfo"))?;
    let imprint = tlv::children(child(&tst, 2, 0x30, "messageImprint")?.value)
        .map_err(|_| m("messageImprint"))?;
    let alg = hash_of_oid(alg_oid(&child(
        &imprint,
        0,
        0x30,
        "messageImprint algorithm",
    )?)?)
    .ok_or(TsaError::Algorithm("message imprint hash"))?;
    let value = child(&imprint, 1, 0x04, "hashedMessage")?.value;
    Ok((tst, alg, value))
}

/// The message imprint of a reply's TSTInfo (for tests and fuzzing).
pub fn signed_tst_imprint(reply: &[u8]) -> Option<Vec<u8>> {
    let (_, tst_der) = signed_data(reply).ok()?;
    tst_fields(tst_der).ok().map(|(_, _, v)| v.to_vec())
}

/// What a client checks of a reply before keeping it (trust is the verifier's decision):
/// granted, over `timestamped`'s digest, with the request's `nonce` (unsigned big-endian).
pub fn check_reply(reply: &[u8], timestamped: &[u8], nonce: &[u8]) -> Result<(), TsaError> {
    let (_, tst_der) = signed_data(reply)?;
    let (tst, alg, imprint) = tst_fields(tst_der)?;
    if Digest::of(alg, timestamped).as_bytes() != imprint {
        return Err(TsaError::Imprint);
    }
    // After genTime: accuracy (SEQUENCE), ordering (BOOLEAN), nonce (INTEGER), ...
    let strip = |v: &[u8]| -> Vec<u8> { v.iter().skip_while(|b| **b == 0).copied().collect() };
    let echoed = tst
        .get(5..)
        .unwrap_or(&[])
        .iter()
        .find(|k| k.tag == 0x02)
        .map(|k| strip(k.value));
    if !nonce.is_empty() && echoed.as_deref() != Some(strip(nonce).as_slice()) {
        return Err(TsaError::Nonce);
    }
    Ok(())
}

/// Verifies a timestamp over `timestamped` (the signature bytes) against trusted authorities.
pub fn verify_timestamp(
    token: &[u8],
    timestamped: &[u8],
    authorities: &[Authority],
) -> Result<VerifiedTimestamp, TsaError> {
    let (sd, tst_der) = signed_data(token)?;
    let mut idx = 3;
    let mut embedded = Vec::new();
    if let Some(c) = sd.get(idx).filter(|k| k.tag == 0xa0) {
        for cert in tlv::children(c.value).map_err(|_| m("certificates"))? {
            if cert.tag == 0x30 {
                embedded
                    .push(Certificate::from_der(cert.raw).map_err(|_| m("embedded certificate"))?);
            }
        }
        idx += 1;
    }
    if sd.get(idx).is_some_and(|k| k.tag == 0xa1) {
        idx += 1;
    }
    let signer_infos =
        tlv::children(child(&sd, idx, 0x31, "signerInfos")?.value).map_err(|_| m("signerInfos"))?;
    if signer_infos.len() != 1 {
        return Err(m("expected exactly one signer"));
    }
    let si = tlv::children(signer_infos[0].value).map_err(|_| m("SignerInfo"))?;
    let sid = si.get(1).copied().ok_or(m("SignerInfo sid"))?;
    let digest_alg = hash_of_oid(alg_oid(&child(&si, 2, 0x30, "digestAlgorithm")?)?)
        .ok_or(TsaError::Algorithm("digest algorithm"))?;
    let attrs = child(&si, 3, 0xa0, "signedAttrs (required for timestamps)")?;
    let sig_alg = signature_hash(alg_oid(&child(&si, 4, 0x30, "signatureAlgorithm")?)?)?
        .unwrap_or(digest_alg);
    let signature = child(&si, 5, 0x04, "signature")?.value;

    // TSTInfo: version, policy, messageImprint, serialNumber, genTime, ...
    let (tst, imprint_alg, imprint_value) = tst_fields(tst_der)?;
    if Digest::of(imprint_alg, timestamped).as_bytes() != imprint_value {
        return Err(TsaError::Imprint);
    }
    let gen_time = generalized_time(child(&tst, 4, 0x18, "genTime")?.value)?;

    // Signed attributes: contentType TSTInfo and the TSTInfo's digest.
    let mut content_type_ok = false;
    let mut digest_ok = false;
    for attr in tlv::children(attrs.value).map_err(|_| m("signedAttrs"))? {
        let a = tlv::children(attr.value).map_err(|_| m("attribute"))?;
        let oid = child(&a, 0, 0x06, "attribute type")?.value;
        let values = tlv::children(child(&a, 1, 0x31, "attribute values")?.value)
            .map_err(|_| m("attribute values"))?;
        if oid == OID_CONTENT_TYPE {
            content_type_ok = values
                .first()
                .is_some_and(|v| v.tag == 0x06 && v.value == OID_TST_INFO);
        } else if oid == OID_MESSAGE_DIGEST {
            let want = Digest::of(digest_alg, tst_der);
            digest_ok = values
                .first()
                .is_some_and(|v| v.tag == 0x04 && v.value == want.as_bytes());
        }
    }
    if !content_type_ok {
        return Err(TsaError::Attributes("contentType is not TSTInfo"));
    }
    if !digest_ok {
        return Err(TsaError::Attributes(
            "messageDigest is not the digest of the TSTInfo",
        ));
    }
    let mut signed_attrs = attrs.raw.to_vec();
    signed_attrs[0] = 0x31;
    let attrs_digest = Digest::of(sig_alg, &signed_attrs);

    // The signer: an embedded certificate or an authority's first certificate, matched by sid
    // (issuer and serial) or else by the signature verifying.
    let mut candidates: Vec<(Certificate, Option<usize>)> =
        embedded.into_iter().map(|c| (c, None)).collect();
    for (i, a) in authorities.iter().enumerate() {
        if let Some(first) = a.chain.first().and_then(|d| Certificate::from_der(d).ok()) {
            candidates.push((first, Some(i)));
        }
    }
    let sid_matches = |c: &Certificate| -> bool {
        if sid.tag != 0x30 {
            return true; // subjectKeyIdentifier form: decided by the signature
        }
        let Ok(parts) = tlv::children(sid.value) else {
            return false;
        };
        parts.len() == 2
            && parts[0].raw == c.issuer_der().as_slice()
            && parts[1].tag == 0x02
            && strip_int(parts[1].value) == strip_int(c.serial())
    };
    let signer = candidates
        .iter()
        .filter(|(c, _)| sid_matches(c))
        .find(|(c, _)| {
            c.public_key()
                .is_ok_and(|k| k.verify_digest_any_hash(&attrs_digest, signature).is_ok())
        })
        .map(|(c, _)| c.clone())
        .ok_or(TsaError::Signature)?;

    let mut reasons = Vec::new();
    for (i, a) in authorities.iter().enumerate() {
        if !a.validity.contains(gen_time) {
            reasons.push(format!(
                "authority {i} is not valid at {}",
                gen_time.to_rfc3339()
            ));
            continue;
        }
        match verify_chain(&signer, &a.chain, gen_time, Purpose::TimeStamping) {
            Ok(_) => {
                return Ok(VerifiedTimestamp {
                    time: gen_time,
                    authority: i,
                });
            }
            Err(e) => reasons.push(format!("authority {i}: {e}")),
        }
    }
    if authorities.is_empty() {
        reasons.push("the trust root lists no timestamp authority".into());
    }
    Err(TsaError::Untrusted(reasons.join("; ")))
}

fn strip_int(v: &[u8]) -> &[u8] {
    let skip = v
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(v.len().saturating_sub(1));
    &v[skip..]
}

//! RFC 3161 for Sigil's timestamp authority (`sigil tsa serve`): a `TimeStampReq` read strictly
//! (DER, or the JSON form sigstore-js sends), and a granted `TimeStampResp` built and signed
//! through `sigil-crypto`'s signer: a CMS SignedData over a `TSTInfo` with the content-type,
//! message-digest and ESS signing-certificate-v2 attributes, as `openssl ts -verify` and
//! Sigstore's verifiers check them. Verification of timestamps is `sigil_pki::tsa`.
//!
//! # Example
//!
//! ```
//! use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, SigningKey};
//! use sigil_tsa::{Authority, Request};
//!
//! let key = SigningKey::generate(KeyAlgorithm::EcdsaP256)?;
//! let authority = Authority::self_signed_for_tests(key, 1_780_000_000)?;
//! let signature = b"the signature bytes being timestamped";
//! let req = Request::for_data(HashAlgorithm::Sha256, signature, Some(42), true);
//! let reply = authority.reply(&Request::parse_der(&req.to_der())?, 1_780_000_100)?;
//! let chain = [authority.certificate().to_vec()];
//! # let _ = (reply, chain);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sigil_crypto::{Digest, HashAlgorithm, SigningKey};
use sigil_pki::encode as der;
use sigil_pki::tlv;

/// The largest request read.
pub const MAX_REQUEST: usize = 16 * 1024;
/// The TSA policy written into every `TSTInfo` unless another is configured.
pub const DEFAULT_POLICY: &str = "1.3.6.1.4.1.57264.2";

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";

/// Why a request cannot be answered (each a 400 with this sentence).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Too large.
    #[error("the timestamp request is {0} bytes, over the {MAX_REQUEST}-byte limit")]
    TooLarge(usize),
    /// Not DER of a TimeStampReq.
    #[error("malformed timestamp request: {0}")]
    Malformed(&'static str),
    /// A version other than 1.
    #[error("timestamp request version {0} (only 1 exists)")]
    Version(u64),
    /// A hash other than SHA-256/384/512.
    #[error("unsupported hash algorithm {0} (SHA-256, SHA-384 and SHA-512 are accepted)")]
    Hash(String),
    /// The imprint's length is not the hash's.
    #[error("the message imprint is {got} bytes; {alg} digests are {want}")]
    ImprintLength {
        /// The hash.
        alg: String,
        /// Its length.
        want: usize,
        /// What came.
        got: usize,
    },
    /// A policy other than the TSA's.
    #[error("the requested policy {0} is not this authority's")]
    Policy(String),
    /// Extensions are not supported.
    #[error("timestamp request extensions are not supported")]
    Extensions,
    /// The JSON form does not parse.
    #[error("malformed JSON timestamp request: {0}")]
    Json(String),
}

/// A timestamp request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The imprint's hash.
    pub hash: HashAlgorithm,
    /// The imprint.
    pub imprint: Vec<u8>,
    /// The requested policy, if any: the OID's DER contents ([`dotted`] for its text).
    pub policy: Option<Vec<u8>>,
    /// The nonce (unsigned big-endian bytes, no leading zeros), echoed in the reply.
    pub nonce: Option<Vec<u8>>,
    /// Whether the reply must carry the signing certificate.
    pub cert_req: bool,
}

fn hash_oid(h: HashAlgorithm) -> &'static str {
    match h {
        HashAlgorithm::Sha384 => "2.16.840.1.101.3.4.2.2",
        HashAlgorithm::Sha512 => "2.16.840.1.101.3.4.2.3",
        _ => "2.16.840.1.101.3.4.2.1",
    }
}

fn hash_of_oid(oid: &[u8]) -> Option<HashAlgorithm> {
    [
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|h| der::contents(&der::oid(hash_oid(*h))) == oid)
}

fn alg_id(h: HashAlgorithm) -> Vec<u8> {
    der::seq(&[&der::oid(hash_oid(h)), &der::null()])
}

/// An OID's dotted form, from its DER contents (for messages).
pub fn dotted(oid: &[u8]) -> String {
    let Some((&first, rest)) = oid.split_first() else {
        return String::new();
    };
    let mut out = if first < 80 {
        format!("{}.{}", first / 40, first % 40)
    } else {
        format!("2.{}", first - 80)
    };
    let mut n: u64 = 0;
    for &b in rest {
        n = (n << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            out.push_str(&format!(".{n}"));
            n = 0;
        }
    }
    out
}

fn malformed(s: &'static str) -> RequestError {
    RequestError::Malformed(s)
}

impl Request {
    /// A request for `data`'s digest (what a client sends).
    pub fn for_data(hash: HashAlgorithm, data: &[u8], nonce: Option<u64>, cert_req: bool) -> Self {
        Self {
            hash,
            imprint: Digest::of(hash, data).as_bytes().to_vec(),
            policy: None,
            nonce: nonce.map(|n| magnitude(&n.to_be_bytes())),
            cert_req,
        }
    }

    /// The DER `TimeStampReq`.
    pub fn to_der(&self) -> Vec<u8> {
        let imprint = der::seq(&[&alg_id(self.hash), &der::octets(&self.imprint)]);
        let mut parts: Vec<Vec<u8>> = vec![der::u64(1), imprint];
        if let Some(p) = &self.policy {
            parts.push(der::tlv(0x06, p));
        }
        if let Some(n) = &self.nonce {
            parts.push(der::uint(n));
        }
        if self.cert_req {
            parts.push(der::boolean(true));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        der::seq(&refs)
    }

    /// Reads a DER `TimeStampReq`, strictly: version 1, a SHA-2 imprint of the right length,
    /// no extensions.
    pub fn parse_der(input: &[u8]) -> Result<Self, RequestError> {
        if input.len() > MAX_REQUEST {
            return Err(RequestError::TooLarge(input.len()));
        }
        let top = tlv::read_only(input, 0x30).map_err(|_| malformed("not a DER SEQUENCE"))?;
        let kids = tlv::children(top.value).map_err(|_| malformed("its fields"))?;
        let mut it = kids.iter().peekable();
        let version = it
            .next()
            .filter(|k| k.tag == 0x02)
            .ok_or(malformed("no version"))?;
        let v = small_uint(version.value).ok_or(malformed("version"))?;
        if v != 1 {
            return Err(RequestError::Version(v));
        }
        let imprint = it
            .next()
            .filter(|k| k.tag == 0x30)
            .ok_or(malformed("no messageImprint"))?;
        let parts = tlv::children(imprint.value).map_err(|_| malformed("messageImprint"))?;
        let (Some(alg), Some(hashed)) = (parts.first(), parts.get(1)) else {
            return Err(malformed("messageImprint"));
        };
        if alg.tag != 0x30 || hashed.tag != 0x04 || parts.len() != 2 {
            return Err(malformed("messageImprint"));
        }
        let alg_parts = tlv::children(alg.value).map_err(|_| malformed("hashAlgorithm"))?;
        let oid = alg_parts
            .first()
            .filter(|k| k.tag == 0x06)
            .ok_or(malformed("hashAlgorithm"))?;
        match alg_parts.get(1) {
            None => {}
            Some(p) if p.tag == 0x05 && p.value.is_empty() && alg_parts.len() == 2 => {}
            Some(_) => return Err(malformed("hashAlgorithm parameters")),
        }
        let hash = hash_of_oid(oid.value).ok_or_else(|| RequestError::Hash(dotted(oid.value)))?;
        let want = hash.output_len();
        if hashed.value.len() != want {
            return Err(RequestError::ImprintLength {
                alg: hash.name().to_owned(),
                want,
                got: hashed.value.len(),
            });
        }
        let mut req = Self {
            hash,
            imprint: hashed.value.to_vec(),
            policy: None,
            nonce: None,
            cert_req: false,
        };
        if let Some(k) = it.next_if(|k| k.tag == 0x06) {
            if k.value.is_empty() || k.value.last().is_some_and(|b| b & 0x80 != 0) {
                return Err(malformed("reqPolicy is not an OID"));
            }
            req.policy = Some(k.value.to_vec());
        }
        if let Some(k) = it.next_if(|k| k.tag == 0x02) {
            if k.value.is_empty() || k.value[0] & 0x80 != 0 {
                return Err(malformed("nonce must be a positive INTEGER"));
            }
            req.nonce = Some(magnitude(k.value));
        }
        if let Some(k) = it.next_if(|k| k.tag == 0x01) {
            req.cert_req = match k.value {
                [0xff] => true,
                [0x00] => false,
                _ => return Err(malformed("certReq")),
            };
        }
        match it.next() {
            None => Ok(req),
            Some(k) if k.tag == 0xa0 => Err(RequestError::Extensions),
            Some(_) => Err(malformed("unexpected field")),
        }
    }

    /// Reads Sigstore's JSON form: `{"artifactHash": base64, "hashAlgorithm": "sha256",
    /// "nonce": n, "certificates": bool}` (sigstore-js sends it).
    pub fn parse_json(input: &[u8]) -> Result<Self, RequestError> {
        if input.len() > MAX_REQUEST {
            return Err(RequestError::TooLarge(input.len()));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct J {
            artifact_hash: String,
            hash_algorithm: String,
            #[serde(default)]
            nonce: Option<serde_json::Number>,
            #[serde(default)]
            certificates: bool,
            #[serde(default, rename = "tsaPolicyOID")]
            tsa_policy_oid: Option<String>,
        }
        let j: J = serde_json::from_slice(input).map_err(|e| RequestError::Json(e.to_string()))?;
        let hash = match j.hash_algorithm.to_ascii_lowercase().as_str() {
            "sha256" | "sha-256" => HashAlgorithm::Sha256,
            "sha384" | "sha-384" => HashAlgorithm::Sha384,
            "sha512" | "sha-512" => HashAlgorithm::Sha512,
            other => return Err(RequestError::Hash(other.to_owned())),
        };
        let imprint = STANDARD
            .decode(j.artifact_hash.trim())
            .map_err(|e| RequestError::Json(format!("artifactHash: {e}")))?;
        if imprint.len() != hash.output_len() {
            return Err(RequestError::ImprintLength {
                alg: hash.name().to_owned(),
                want: hash.output_len(),
                got: imprint.len(),
            });
        }
        let nonce = match j.nonce {
            None => None,
            Some(n) => Some(
                n.as_u64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| RequestError::Json("nonce must be a positive integer".into()))?
                    .to_be_bytes(),
            )
            .map(|b| magnitude(&b)),
        };
        let policy = match j.tsa_policy_oid {
            None => None,
            Some(p) => Some(oid_contents(&p).ok_or_else(|| {
                RequestError::Json(format!("tsaPolicyOid {p:?} is not a dotted OID"))
            })?),
        };
        Ok(Self {
            hash,
            imprint,
            policy,
            nonce,
            cert_req: j.certificates,
        })
    }
}

/// A dotted OID's DER contents, or `None` when it is not one.
fn oid_contents(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().ok())
        .collect::<Option<_>>()?;
    if arcs.len() < 2
        || arcs[0] > 2
        || (arcs[0] < 2 && arcs[1] >= 40)
        || arcs[0] * 40 + arcs[1] >= 128
    {
        return None;
    }
    Some(der::contents(&der::oid(dotted)).to_vec())
}

/// Unsigned big-endian bytes without leading zeros (one zero byte for zero).
fn magnitude(be: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = be.iter().skip_while(|b| **b == 0).copied().collect();
    if v.is_empty() { vec![0] } else { v }
}

fn small_uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 8 || v[0] & 0x80 != 0 {
        return None;
    }
    Some(v.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
}

/// Why a reply could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The request cannot be granted.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The signer failed.
    #[error("signing the timestamp: {0}")]
    Sign(String),
}

/// A timestamp authority: its signing key, its certificate (EKU timeStamping, critical) and
/// the chain above it, and its policy.
pub struct Authority {
    key: SigningKey,
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
    issuer_name: Vec<u8>,
    serial: Vec<u8>,
    policy: String,
}

impl Authority {
    /// An authority signing with `key`, whose certificate is `certificate` (DER) and whose
    /// `chain` lists the certificates above it (DER, issuer first, the root last).
    pub fn new(
        key: SigningKey,
        certificate: Vec<u8>,
        chain: Vec<Vec<u8>>,
    ) -> Result<Self, sigil_pki::cert::CertError> {
        let cert = sigil_pki::cert::Certificate::from_der(&certificate)?;
        Ok(Self {
            issuer_name: cert.issuer_der(),
            serial: cert.serial().to_vec(),
            key,
            certificate,
            chain,
            policy: DEFAULT_POLICY.to_owned(),
        })
    }

    /// A self-signed timestamping certificate for `key` (tests and examples).
    pub fn self_signed_for_tests(key: SigningKey, now: i64) -> Result<Self, ReplyError> {
        use sigil_pki::issue::{self, Extension, Issuer, Template, attr, name};
        let n = name(&[(attr::COMMON_NAME, "sigil test TSA")]);
        let cert = issue::issue(
            &Template {
                serial: issue::random_serial(),
                subject: n.clone(),
                not_before: now - 60,
                not_after: now + 86_400,
                public_key: key.public_key().clone(),
                extensions: vec![
                    Extension::key_usage(issue::key_usage::DIGITAL_SIGNATURE),
                    Extension::extended_key_usage(&[issue::EKU_TIME_STAMPING], true),
                ],
            },
            &Issuer {
                name: &n,
                key: &key,
            },
        )
        .map_err(|e| ReplyError::Sign(e.to_string()))?;
        Self::new(key, cert, Vec::new()).map_err(|e| ReplyError::Sign(e.to_string()))
    }

    /// The signing certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// The signing certificate and the chain above it, PEM, leaf first (what
    /// `/api/v1/timestamp/certchain` serves).
    pub fn chain_pem(&self) -> String {
        std::iter::once(&self.certificate)
            .chain(&self.chain)
            .map(|c| sigil_crypto::pem::encode("CERTIFICATE", c))
            .collect()
    }

    /// The granted `TimeStampResp` for `req` at `now` (Unix seconds).
    pub fn reply(&self, req: &Request, now: i64) -> Result<Vec<u8>, ReplyError> {
        if let Some(p) = &req.policy
            && p.as_slice() != der::contents(&der::oid(&self.policy))
        {
            return Err(RequestError::Policy(dotted(p)).into());
        }
        let serial = sigil_crypto::random_bytes::<16>();
        let mut tst: Vec<Vec<u8>> = vec![
            der::u64(1),
            der::oid(&self.policy),
            der::seq(&[&alg_id(req.hash), &der::octets(&req.imprint)]),
            der::uint(&serial),
            der::generalized_time(now),
            // accuracy: one second.
            der::seq(&[&der::u64(1)]),
        ];
        if let Some(n) = &req.nonce {
            tst.push(der::uint(n));
        }
        let refs: Vec<&[u8]> = tst.iter().map(Vec::as_slice).collect();
        let tst_info = der::seq(&refs);

        let signing_hash = self.key.algorithm().signing_hash();
        let digest = |b: &[u8]| Digest::of(signing_hash, b).as_bytes().to_vec();
        // ESSCertIDv2 with SHA-256 (the default hashAlgorithm, so left out).
        let cert_hash = Digest::of(HashAlgorithm::Sha256, &self.certificate);
        let ess = der::seq(&[&der::seq(&[&der::seq(&[&der::octets(
            cert_hash.as_bytes(),
        )])])]);
        let attr = |oid: &str, value: &[u8]| der::seq(&[&der::oid(oid), &der::set_of(&[value])]);
        let attrs = [
            attr(OID_CONTENT_TYPE, &der::oid(OID_TST_INFO)),
            attr(OID_SIGNING_TIME, &der::x509_time(now)),
            attr(OID_MESSAGE_DIGEST, &der::octets(&digest(&tst_info))),
            attr(OID_SIGNING_CERTIFICATE_V2, &ess),
        ];
        let attr_refs: Vec<&[u8]> = attrs.iter().map(Vec::as_slice).collect();
        // Signed as a SET OF; carried as [0] IMPLICIT.
        let signed_attrs = der::set_of(&attr_refs);
        let signature = self
            .key
            .sign(&signed_attrs)
            .map_err(|e| ReplyError::Sign(e.to_string()))?;
        let signer_info = der::seq(&[
            &der::u64(1),
            &der::seq(&[&self.issuer_name, &der::uint(&self.serial)]),
            &alg_id(signing_hash),
            &der::implicit_constructed(0, der::contents(&signed_attrs)),
            &sigil_pki::issue::signature_algorithm(self.key.algorithm()),
            &der::octets(&signature),
        ]);
        let encap = der::seq(&[
            &der::oid(OID_TST_INFO),
            &der::explicit(0, &der::octets(&tst_info)),
        ]);
        let mut signed_data: Vec<Vec<u8>> =
            vec![der::u64(3), der::set_of(&[&alg_id(signing_hash)]), encap];
        if req.cert_req {
            let certs: Vec<&[u8]> = std::iter::once(&self.certificate)
                .chain(&self.chain)
                .map(Vec::as_slice)
                .collect();
            // A SET OF: DER orders its members (strict parsers refuse another order).
            let set = der::set_of(&certs);
            signed_data.push(der::implicit_constructed(0, der::contents(&set)));
        }
        signed_data.push(der::set_of(&[&signer_info]));
        let refs: Vec<&[u8]> = signed_data.iter().map(Vec::as_slice).collect();
        let content_info = der::seq(&[
            &der::oid(OID_SIGNED_DATA),
            &der::explicit(0, &der::seq(&refs)),
        ]);
        let status = der::seq(&[&der::u64(0)]);
        Ok(der::seq(&[&status, &content_info]))
    }
}

/// A rejection reply (`PKIStatus` rejection, with the failure reason text), for a request the
/// authority read but cannot grant.
pub fn rejection(reason: &str) -> Vec<u8> {
    let text = der::seq(&[&der::utf8(reason)]);
    der::seq(&[&der::seq(&[&der::u64(2), &text])])
}

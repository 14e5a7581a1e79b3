//! Certificate issuance for Sigil's authorities (the keyless CA, the timestamp authority):
//! X.509 v3 certificates built in DER and signed through `sigil-crypto`'s signer, with the
//! extensions those profiles need. Every certificate issued here parses back with
//! [`Certificate`](crate::cert::Certificate) and chains with [`crate::chain::verify_chain`].

use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, KeyError, PublicKey, SigningKey};

use crate::encode::{self as der, tag};

/// Key usage bits (RFC 5280 §4.2.1.3).
pub mod key_usage {
    /// digitalSignature (0).
    pub const DIGITAL_SIGNATURE: u16 = 1 << 15;
    /// keyCertSign (5).
    pub const KEY_CERT_SIGN: u16 = 1 << 10;
    /// cRLSign (6).
    pub const CRL_SIGN: u16 = 1 << 9;
}

/// The code-signing extended key usage.
pub const EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
/// The time-stamping extended key usage.
pub const EKU_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";

/// One extension: its OID, criticality and DER value (the OCTET STRING's contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Dotted OID.
    pub oid: String,
    /// Critical.
    pub critical: bool,
    /// The extnValue contents.
    pub value: Vec<u8>,
}

impl Extension {
    /// basicConstraints: a CA (with an optional path length) or not.
    pub fn basic_constraints(ca: bool, path_len: Option<u8>) -> Self {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        if ca {
            parts.push(der::boolean(true));
            if let Some(n) = path_len {
                parts.push(der::u64(u64::from(n)));
            }
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        Self {
            oid: "2.5.29.19".into(),
            critical: true,
            value: der::seq(&refs),
        }
    }

    /// keyUsage with the given bits ([`key_usage`]), critical.
    pub fn key_usage(bits: u16) -> Self {
        let bytes = bits.to_be_bytes();
        let (body, last) = if bytes[1] == 0 {
            (vec![bytes[0]], bytes[0])
        } else {
            (bytes.to_vec(), bytes[1])
        };
        let unused = if last == 0 {
            0
        } else {
            last.trailing_zeros() as u8
        };
        let mut v = vec![unused];
        v.extend(body);
        Self {
            oid: "2.5.29.15".into(),
            critical: true,
            value: der::tlv(tag::BIT_STRING, &v),
        }
    }

    /// extendedKeyUsage with these purposes.
    pub fn extended_key_usage(oids: &[&str], critical: bool) -> Self {
        let parts: Vec<Vec<u8>> = oids.iter().map(|o| der::oid(o)).collect();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        Self {
            oid: "2.5.29.37".into(),
            critical,
            value: der::seq(&refs),
        }
    }

    /// subjectKeyIdentifier.
    pub fn subject_key_id(id: &[u8]) -> Self {
        Self {
            oid: "2.5.29.14".into(),
            critical: false,
            value: der::octets(id),
        }
    }

    /// authorityKeyIdentifier (keyIdentifier only).
    pub fn authority_key_id(id: &[u8]) -> Self {
        Self {
            oid: "2.5.29.35".into(),
            critical: false,
            value: der::seq(&[&der::tlv(0x80, id)]),
        }
    }

    /// subjectAltName with one URI or email (`rfc822Name` when it has an `@` and no scheme).
    pub fn subject_alt_name(value: &str, critical: bool) -> Self {
        let tag = if value.contains("://") || !value.contains('@') {
            0x86 // uniformResourceIdentifier
        } else {
            0x81 // rfc822Name
        };
        Self {
            oid: "2.5.29.17".into(),
            critical,
            value: der::seq(&[&der::tlv(tag, value.as_bytes())]),
        }
    }

    /// subjectAltName with Fulcio's username otherName (1.3.6.1.4.1.57264.1.7, `user!domain`).
    pub fn subject_alt_name_username(value: &str, critical: bool) -> Self {
        let other = der::tlv(
            0xa0,
            &[
                der::oid(crate::cert::OID_USERNAME_SAN),
                der::tlv(0xa0, &der::utf8(value)),
            ]
            .concat(),
        );
        Self {
            oid: "2.5.29.17".into(),
            critical,
            value: der::seq(&[&other]),
        }
    }

    /// An extension whose value is given as is (Fulcio's raw-bytes issuer, 1.3.6.1.4.1.57264.1.1).
    pub fn raw(oid: &str, value: &[u8]) -> Self {
        Self {
            oid: oid.into(),
            critical: false,
            value: value.to_vec(),
        }
    }

    /// An extension whose value is a DER UTF8String (Fulcio's 1.3.6.1.4.1.57264.1.8 and later).
    pub fn utf8(oid: &str, value: &str) -> Self {
        Self {
            oid: oid.into(),
            critical: false,
            value: der::utf8(value),
        }
    }

    /// The CT precertificate poison (1.3.6.1.4.1.11129.2.4.3, critical, NULL).
    pub fn ct_poison() -> Self {
        Self {
            oid: OID_CT_POISON.into(),
            critical: true,
            value: der::null(),
        }
    }

    /// The embedded SCT list (1.3.6.1.4.1.11129.2.4.2).
    pub fn sct_list(scts: &[crate::sct::Sct]) -> Self {
        Self {
            oid: crate::cert::OID_SCT_LIST.into(),
            critical: false,
            value: crate::sct::sct_list_extension_value(scts),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let oid = der::oid(&self.oid);
        let value = der::octets(&self.value);
        if self.critical {
            der::seq(&[&oid, &der::boolean(true), &value])
        } else {
            der::seq(&[&oid, &value])
        }
    }
}

/// A distinguished name as (attribute OID, UTF-8 value) pairs, e.g.
/// `[("2.5.4.10", "sigil"), ("2.5.4.3", "sigil root")]`; empty for Fulcio's empty subject.
pub fn name(attributes: &[(&str, &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = attributes
        .iter()
        .map(|(oid, value)| der::set_of(&[&der::seq(&[&der::oid(oid), &der::utf8(value)])]))
        .collect();
    let refs: Vec<&[u8]> = rdns.iter().map(Vec::as_slice).collect();
    der::seq(&refs)
}

/// Attribute OIDs for [`name`].
pub mod attr {
    /// commonName.
    pub const COMMON_NAME: &str = "2.5.4.3";
    /// organizationName.
    pub const ORGANIZATION: &str = "2.5.4.10";
}

/// What a certificate says.
#[derive(Debug, Clone)]
pub struct Template {
    /// Serial number (positive, at most 20 bytes; random for issued certificates).
    pub serial: Vec<u8>,
    /// The subject name ([`name`]).
    pub subject: Vec<u8>,
    /// Start of validity (Unix seconds).
    pub not_before: i64,
    /// End of validity (Unix seconds).
    pub not_after: i64,
    /// The subject's public key.
    pub public_key: PublicKey,
    /// Extensions, in order.
    pub extensions: Vec<Extension>,
}

/// The issuer: its name (the subject of its certificate) and its key.
pub struct Issuer<'a> {
    /// The issuer's subject name, DER.
    pub name: &'a [u8],
    /// Its signing key.
    pub key: &'a SigningKey,
}

/// Why a certificate could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The signer refused.
    #[error("signing the certificate: {0}")]
    Sign(#[from] KeyError),
    /// The template is not a certificate one could issue.
    #[error("certificate template: {0}")]
    Template(&'static str),
}

/// The signature algorithm identifier for what a key of `alg` signs (certificates, CMS
/// signer infos).
pub fn signature_algorithm(alg: KeyAlgorithm) -> Vec<u8> {
    match alg {
        KeyAlgorithm::EcdsaP256 => der::seq(&[&der::oid("1.2.840.10045.4.3.2")]),
        KeyAlgorithm::EcdsaP384 => der::seq(&[&der::oid("1.2.840.10045.4.3.3")]),
        KeyAlgorithm::EcdsaP521 => der::seq(&[&der::oid("1.2.840.10045.4.3.4")]),
        KeyAlgorithm::Ed25519 => der::seq(&[&der::oid("1.3.101.112")]),
        KeyAlgorithm::Rsa { .. } => der::seq(&[&der::oid("1.2.840.113549.1.1.11"), &der::null()]),
    }
}

/// A key identifier: the leftmost 160 bits of SHA-256 over the key's subjectPublicKey bits
/// (RFC 7093 §2 method 1).
pub fn key_id(key: &PublicKey) -> Vec<u8> {
    let bits = crate::tlv::spki_key_bits(key.spki_der()).unwrap_or(key.spki_der());
    Digest::of(HashAlgorithm::Sha256, bits).as_bytes()[..20].to_vec()
}

/// A random positive serial number (20 bytes with the top bit cleared, as CAs issue them).
pub fn random_serial() -> Vec<u8> {
    let mut s = sigil_crypto::random_bytes::<20>().to_vec();
    s[0] &= 0x7f;
    if s[0] == 0 {
        s[0] = 1;
    }
    s
}

/// The TBSCertificate of `t` issued by `issuer`.
pub fn tbs(t: &Template, issuer: &Issuer<'_>) -> Result<Vec<u8>, IssueError> {
    if t.serial.is_empty() || t.serial.len() > 20 {
        return Err(IssueError::Template(
            "the serial number must be 1 to 20 bytes",
        ));
    }
    if t.not_after <= t.not_before {
        return Err(IssueError::Template("notAfter must be after notBefore"));
    }
    let exts: Vec<Vec<u8>> = t.extensions.iter().map(Extension::encode).collect();
    let ext_refs: Vec<&[u8]> = exts.iter().map(Vec::as_slice).collect();
    let version = der::explicit(0, &der::u64(2));
    let validity = der::seq(&[&der::x509_time(t.not_before), &der::x509_time(t.not_after)]);
    let mut parts: Vec<Vec<u8>> = vec![
        version,
        der::uint(&t.serial),
        signature_algorithm(issuer.key.algorithm()),
        issuer.name.to_vec(),
        validity,
        t.subject.clone(),
        t.public_key.spki_der().to_vec(),
    ];
    if !exts.is_empty() {
        parts.push(der::explicit(3, &der::seq(&ext_refs)));
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(der::seq(&refs))
}

/// The CT precertificate poison extension's OID.
pub const OID_CT_POISON: &str = "1.3.6.1.4.1.11129.2.4.3";

/// Issues `t` with an embedded SCT, as Fulcio does (RFC 6962 §3.1): a precertificate (`t` with
/// the poison extension last) is signed and handed to `log` with the TBSCertificate the log
/// signs over (without the poison); the final certificate carries the SCTs `log` returns in
/// the poison's place, same serial, signed again. No SCT, no certificate.
pub fn issue_with_scts<E>(
    t: &Template,
    issuer: &Issuer<'_>,
    log: impl FnOnce(&[u8], &[u8]) -> Result<Vec<crate::sct::Sct>, E>,
) -> Result<Result<Vec<u8>, E>, IssueError> {
    let mut pre = t.clone();
    pre.extensions.push(Extension::ct_poison());
    let precert = issue(&pre, issuer)?;
    let logged_tbs = tbs(t, issuer)?;
    let scts = match log(&precert, &logged_tbs) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return Err(IssueError::Template("the CT log returned no SCT")),
        Err(e) => return Ok(Err(e)),
    };
    let mut fin = t.clone();
    fin.extensions.push(Extension::sct_list(&scts));
    Ok(Ok(issue(&fin, issuer)?))
}

/// Issues `t`: the DER certificate, signed by `issuer`.
pub fn issue(t: &Template, issuer: &Issuer<'_>) -> Result<Vec<u8>, IssueError> {
    let tbs = tbs(t, issuer)?;
    sign_tbs(&tbs, issuer.key)
}

/// Signs a TBSCertificate: the certificate.
pub fn sign_tbs(tbs: &[u8], key: &SigningKey) -> Result<Vec<u8>, IssueError> {
    let signature = key.sign_message(tbs)?;
    Ok(der::seq(&[
        tbs,
        &signature_algorithm(key.algorithm()),
        &der::bits(&signature),
    ]))
}

/// A self-signed CA certificate for `key` (a root), valid from `not_before` for `days`.
pub fn self_signed_ca(
    key: &SigningKey,
    subject: &[u8],
    not_before: i64,
    days: i64,
    path_len: Option<u8>,
) -> Result<Vec<u8>, IssueError> {
    let id = key_id(key.public_key());
    issue(
        &Template {
            serial: random_serial(),
            subject: subject.to_vec(),
            not_before,
            not_after: not_before + days * 86_400,
            public_key: key.public_key().clone(),
            extensions: vec![
                Extension::basic_constraints(true, path_len),
                Extension::key_usage(key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN),
                Extension::subject_key_id(&id),
            ],
        },
        &Issuer { name: subject, key },
    )
}

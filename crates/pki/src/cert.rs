//! Certificates: parsing, identities (SANs, Fulcio's OID arc), key usages, validity.

use der::{Decode, Encode};
use sigil_crypto::PublicKey;
use sigil_formats::time::Timestamp;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

use crate::tlv;

/// Largest certificate accepted.
pub const MAX_CERT_LEN: usize = 64 * 1024;

/// `1.3.6.1.4.1.57264.1.1`: Fulcio issuer (v1, raw string, deprecated).
pub const OID_FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
/// `1.3.6.1.4.1.57264.1.8`: Fulcio issuer (v2, DER UTF8String).
pub const OID_FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// `1.3.6.1.4.1.57264.1.7`: Fulcio's username otherName SAN (`user!domain`).
pub const OID_USERNAME_SAN: &str = "1.3.6.1.4.1.57264.1.7";
/// `1.3.6.1.4.1.11129.2.4.2`: embedded SCT list.
pub const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
/// Code signing EKU, `1.3.6.1.5.5.7.3.3`.
pub const OID_EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
/// Time stamping EKU, `1.3.6.1.5.5.7.3.8`.
pub const OID_EKU_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";

/// What was wrong with a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Too large.
    #[error("certificate is {0} bytes, over the {MAX_CERT_LEN}-byte limit")]
    TooLarge(usize),
    /// Not DER X.509.
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// An extension could not be decoded.
    #[error("malformed {0} extension in the certificate")]
    Extension(&'static str),
    /// The key is not one Sigil supports.
    #[error("the certificate's public key is not usable: {0}")]
    Key(String),
}

/// A subject alternative name Sigstore identities use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// rfc822Name.
    Email(String),
    /// uniformResourceIdentifier.
    Uri(String),
    /// dNSName.
    Dns(String),
    /// Fulcio's username otherName (1.3.6.1.4.1.57264.1.7, a UTF8String `user!domain`).
    Username(String),
    /// Something else (otherName etc.).
    Other,
}

impl San {
    /// The identity string, if any.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Email(s) | Self::Uri(s) | Self::Dns(s) | Self::Username(s) => Some(s),
            Self::Other => None,
        }
    }
}

/// A parsed certificate with its DER.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    cert: x509_cert::Certificate,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Certificate(subject {}, issuer {})",
            self.cert.tbs_certificate().subject(),
            self.cert.tbs_certificate().issuer()
        )
    }
}

impl Certificate {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        if der.len() > MAX_CERT_LEN {
            return Err(CertError::TooLarge(der.len()));
        }
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| CertError::Malformed(e.to_string()))?;
        Ok(Self {
            der: der.to_vec(),
            cert,
        })
    }

    /// Parses a PEM `CERTIFICATE` block.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertError> {
        let block =
            sigil_crypto::pem::decode(pem).map_err(|e| CertError::Malformed(e.to_string()))?;
        if block.label != "CERTIFICATE" {
            return Err(CertError::Malformed(format!(
                "expected a CERTIFICATE PEM block, found {:?}",
                block.label
            )));
        }
        Self::from_der(&block.contents)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        let spki = self
            .cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| CertError::Malformed(e.to_string()))?;
        PublicKey::from_spki_der(&spki).map_err(|e| CertError::Key(e.to_string()))
    }

    /// DER of the SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>, CertError> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| CertError::Malformed(e.to_string()))
    }

    /// notBefore.
    pub fn not_before(&self) -> Timestamp {
        Timestamp::from_unix(
            self.cert
                .tbs_certificate()
                .validity()
                .not_before
                .to_unix_duration()
                .as_secs() as i64,
        )
    }

    /// notAfter.
    pub fn not_after(&self) -> Timestamp {
        Timestamp::from_unix(
            self.cert
                .tbs_certificate()
                .validity()
                .not_after
                .to_unix_duration()
                .as_secs() as i64,
        )
    }

    /// Whether `t` is within notBefore..=notAfter.
    pub fn valid_at(&self, t: Timestamp) -> bool {
        let s = Timestamp::from_unix(t.seconds);
        s >= self.not_before() && s <= self.not_after()
    }

    /// Subject and issuer are the same name.
    pub fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate().subject() == self.cert.tbs_certificate().issuer()
    }

    /// DER of the issuer name.
    pub fn issuer_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .issuer()
            .to_der()
            .unwrap_or_default()
    }

    /// DER of the subject name.
    pub fn subject_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .subject()
            .to_der()
            .unwrap_or_default()
    }

    /// Whether `issuer_key` made this certificate's signature (checked over the exact TBS bytes;
    /// no extension is interpreted, so a CT precertificate's poison does not stand in the way).
    pub fn signed_by(&self, issuer_key: &PublicKey) -> bool {
        let Ok(outer) = tlv::read_only(&self.der, 0x30) else {
            return false;
        };
        let Ok(parts) = tlv::children(outer.value) else {
            return false;
        };
        let [tbs, _alg, bits] = parts.as_slice() else {
            return false;
        };
        if bits.tag != 0x03 || bits.value.first() != Some(&0) {
            return false;
        }
        let sig = &bits.value[1..];
        match issuer_key.algorithm() {
            sigil_crypto::KeyAlgorithm::Ed25519 => issuer_key.verify_message(tbs.raw, sig).is_ok(),
            _ => issuer_key.verify(tbs.raw, sig).is_ok(),
        }
    }

    /// The text of the subject's first attribute of type `oid` (dotted, e.g. `2.5.4.3` for the
    /// commonName), when it is a string.
    pub fn subject_text(&self, oid: &str) -> Option<String> {
        let want = crate::encode::oid(oid);
        let name = self.subject_der();
        let seq = crate::tlv::read_only(&name, 0x30).ok()?;
        for rdn in crate::tlv::children(seq.value).ok()? {
            for atv in crate::tlv::children(rdn.value).ok()? {
                let parts = crate::tlv::children(atv.value).ok()?;
                if let [t, v] = parts.as_slice()
                    && t.raw == want.as_slice()
                    && matches!(v.tag, 0x0c | 0x13 | 0x16)
                {
                    return std::str::from_utf8(v.value).ok().map(str::to_owned);
                }
            }
        }
        None
    }

    /// Serial number bytes.
    pub fn serial(&self) -> &[u8] {
        self.cert.tbs_certificate().serial_number().as_bytes()
    }

    fn ext<'a, T: der::Decode<'a> + der::oid::AssociatedOid>(
        &'a self,
        name: &'static str,
    ) -> Result<Option<T>, CertError> {
        self.cert
            .tbs_certificate()
            .get_extension::<T>()
            .map(|o| o.map(|(_, v)| v))
            .map_err(|_| CertError::Extension(name))
    }

    /// basicConstraints cA.
    pub fn is_ca(&self) -> Result<bool, CertError> {
        Ok(self
            .ext::<BasicConstraints>("basicConstraints")?
            .is_some_and(|b| b.ca))
    }

    /// Whether keyUsage includes digitalSignature (false when absent).
    pub fn has_digital_signature_usage(&self) -> Result<bool, CertError> {
        Ok(self
            .ext::<KeyUsage>("keyUsage")?
            .is_some_and(|k| k.digital_signature()))
    }

    /// The extended key usages, as dotted OIDs.
    pub fn extended_key_usages(&self) -> Result<Vec<String>, CertError> {
        Ok(self
            .ext::<ExtendedKeyUsage>("extKeyUsage")?
            .map(|e| e.0.iter().map(|o| o.to_string()).collect())
            .unwrap_or_default())
    }

    /// Subject alternative names.
    pub fn subject_alternative_names(&self) -> Result<Vec<San>, CertError> {
        let Some(san) = self.ext::<SubjectAltName>("subjectAltName")? else {
            return Ok(Vec::new());
        };
        Ok(san
            .0
            .iter()
            .map(|g| match g {
                GeneralName::Rfc822Name(s) => San::Email(s.to_string()),
                GeneralName::UniformResourceIdentifier(s) => San::Uri(s.to_string()),
                GeneralName::DnsName(s) => San::Dns(s.to_string()),
                GeneralName::OtherName(o) if o.type_id.to_string() == OID_USERNAME_SAN => o
                    .value
                    .decode_as::<der::asn1::Utf8StringRef<'_>>()
                    .map_or(San::Other, |u| San::Username(u.as_str().to_owned())),
                _ => San::Other,
            })
            .collect())
    }

    /// The raw value (the OCTET STRING contents) of an extension, by dotted OID.
    pub fn extension_value(&self, oid: &str) -> Option<&[u8]> {
        self.cert
            .tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| e.extn_id.to_string() == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// The OIDC issuer Fulcio recorded: extension .1.8 (a DER UTF8String), else the legacy .1.1
    /// (raw bytes).
    pub fn fulcio_issuer(&self) -> Result<Option<String>, CertError> {
        if let Some(v) = self.extension_value(OID_FULCIO_ISSUER_V2) {
            let t = tlv::read_only(v, 0x0c)
                .map_err(|_| CertError::Extension("Fulcio issuer (1.3.6.1.4.1.57264.1.8)"))?;
            let s = std::str::from_utf8(t.value)
                .map_err(|_| CertError::Extension("Fulcio issuer (1.3.6.1.4.1.57264.1.8)"))?;
            return Ok(Some(s.to_owned()));
        }
        if let Some(v) = self.extension_value(OID_FULCIO_ISSUER_V1) {
            let s = std::str::from_utf8(v)
                .map_err(|_| CertError::Extension("Fulcio issuer (1.3.6.1.4.1.57264.1.1)"))?;
            return Ok(Some(s.to_owned()));
        }
        Ok(None)
    }

    /// DER of the TBSCertificate with the extension `oid` removed (the precertificate TBS that a
    /// CT log signed, for an SCT embedded in the final certificate).
    pub fn tbs_without_extension(&self, oid: &str) -> Result<Vec<u8>, CertError> {
        let bad = |m: &'static str| CertError::Malformed(format!("re-encoding the TBS: {m}"));
        let cert = tlv::read_only(&self.der, 0x30).map_err(|e| bad(e.0))?;
        let (tbs, _) = tlv::read(cert.value).map_err(|e| bad(e.0))?;
        let mut out_fields = Vec::new();
        for field in tlv::children(tbs.value).map_err(|e| bad(e.0))? {
            if field.tag != 0xa3 {
                out_fields.extend_from_slice(field.raw);
                continue;
            }
            let exts = tlv::read_only(field.value, 0x30).map_err(|e| bad(e.0))?;
            let mut kept = Vec::new();
            for ext in tlv::children(exts.value).map_err(|e| bad(e.0))? {
                let (id, _) = tlv::read(ext.value).map_err(|e| bad(e.0))?;
                let dotted = <der::asn1::ObjectIdentifier>::from_der(id.raw)
                    .map_err(|_| bad("extension id"))?;
                if dotted.to_string() != oid {
                    kept.extend_from_slice(ext.raw);
                }
            }
            out_fields.extend(tlv::encode(0xa3, &tlv::encode(0x30, &kept)));
        }
        Ok(tlv::encode(0x30, &out_fields))
    }
}

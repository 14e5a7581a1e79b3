//! PKCS#10 certificate signing requests (RFC 2986) as a keyless CA reads them: the public key
//! and the proof that the requester holds its private key (the request's self-signature,
//! checked with the hash its signature algorithm names). The subject and the attributes are
//! ignored: a Fulcio-profile certificate takes its identity from the OIDC token, never from
//! the request (a non-ASCII subject once broke Fulcio).

use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, PublicKey};

use crate::encode::oid;
use crate::tlv;

/// The largest request read.
pub const MAX_CSR_LEN: usize = 16 * 1024;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Over [`MAX_CSR_LEN`].
    #[error("the certificate signing request is {0} bytes, over the {MAX_CSR_LEN}-byte limit")]
    TooLarge(usize),
    /// Not PEM `CERTIFICATE REQUEST` or not the PKCS#10 structure.
    #[error("malformed certificate signing request: {0}")]
    Malformed(String),
    /// The public key cannot be read, or is of a kind no certificate is issued for.
    #[error("the request's public key: {0}")]
    Key(String),
    /// A key too weak or of a curve no certificate is issued for (RSA under 2048 bits, P-224,
    /// secp256k1).
    #[error("the request's public key is not accepted: {0}")]
    WeakKey(String),
    /// A signature algorithm outside ECDSA/RSA PKCS#1 v1.5 with SHA-256/384/512 and Ed25519.
    #[error("the request's signature algorithm {0} is not accepted")]
    Algorithm(String),
    /// The algorithm is for another kind of key than the one in the request.
    #[error("the request is signed with {alg} but its key is {key}")]
    AlgorithmMismatch {
        /// The signature algorithm named.
        alg: &'static str,
        /// The request's key.
        key: KeyAlgorithm,
    },
    /// The self-signature does not verify: no proof of possession.
    #[error("the request's signature does not verify with its public key (no proof of possession)")]
    Signature,
}

/// A request whose self-signature verified.
#[derive(Debug, Clone)]
pub struct CertificationRequest {
    /// The key to certify.
    pub public_key: PublicKey,
}

enum SigAlg {
    Ecdsa(HashAlgorithm),
    Rsa(HashAlgorithm),
    Ed25519,
}

fn signature_algorithm(alg_id: &[u8]) -> Result<SigAlg, CsrError> {
    let seq = tlv::read_only(alg_id, 0x30).map_err(|e| CsrError::Malformed(e.to_string()))?;
    let (id, _params) = tlv::read(seq.value).map_err(|e| CsrError::Malformed(e.to_string()))?;
    let known: [(&str, SigAlg); 7] = [
        ("1.2.840.10045.4.3.2", SigAlg::Ecdsa(HashAlgorithm::Sha256)),
        ("1.2.840.10045.4.3.3", SigAlg::Ecdsa(HashAlgorithm::Sha384)),
        ("1.2.840.10045.4.3.4", SigAlg::Ecdsa(HashAlgorithm::Sha512)),
        ("1.2.840.113549.1.1.11", SigAlg::Rsa(HashAlgorithm::Sha256)),
        ("1.2.840.113549.1.1.12", SigAlg::Rsa(HashAlgorithm::Sha384)),
        ("1.2.840.113549.1.1.13", SigAlg::Rsa(HashAlgorithm::Sha512)),
        ("1.3.101.112", SigAlg::Ed25519),
    ];
    for (dotted, alg) in known {
        if oid(dotted) == id.raw {
            return Ok(alg);
        }
    }
    let shown = <der::asn1::ObjectIdentifier as der::Decode>::from_der(id.raw)
        .map_or_else(|_| "(unreadable)".to_owned(), |o| o.to_string());
    Err(CsrError::Algorithm(shown))
}

/// Parses a PEM `CERTIFICATE REQUEST` (or `NEW CERTIFICATE REQUEST`) and checks its
/// self-signature.
pub fn parse_pem(pem: &[u8]) -> Result<CertificationRequest, CsrError> {
    if pem.len() > MAX_CSR_LEN * 2 {
        return Err(CsrError::TooLarge(pem.len()));
    }
    let block = sigil_crypto::pem::decode(pem).map_err(|e| CsrError::Malformed(e.to_string()))?;
    if !matches!(
        block.label.as_str(),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"
    ) {
        return Err(CsrError::Malformed(format!(
            "expected a CERTIFICATE REQUEST PEM block, found {:?}",
            block.label
        )));
    }
    parse_der(&block.contents)
}

/// Parses a DER request and checks its self-signature.
pub fn parse_der(der: &[u8]) -> Result<CertificationRequest, CsrError> {
    if der.len() > MAX_CSR_LEN {
        return Err(CsrError::TooLarge(der.len()));
    }
    let bad = |e: tlv::DerError| CsrError::Malformed(e.to_string());
    let outer = tlv::read_only(der, 0x30).map_err(bad)?;
    let parts = tlv::children(outer.value).map_err(bad)?;
    let [info, alg, bits] = parts.as_slice() else {
        return Err(CsrError::Malformed(
            "expected the request info, the signature algorithm and the signature".into(),
        ));
    };
    if info.tag != 0x30 || bits.tag != 0x03 {
        return Err(CsrError::Malformed("unexpected element".into()));
    }
    let fields = tlv::children(info.value).map_err(bad)?;
    let [version, subject, spki, rest @ ..] = fields.as_slice() else {
        return Err(CsrError::Malformed(
            "the request info needs a version, a subject and a public key".into(),
        ));
    };
    if version.raw != [0x02, 0x01, 0x00] {
        return Err(CsrError::Malformed("the version must be 0 (v1)".into()));
    }
    if subject.tag != 0x30 || spki.tag != 0x30 {
        return Err(CsrError::Malformed("unexpected subject or key".into()));
    }
    match rest {
        [] => {}
        [attrs] if attrs.tag == 0xa0 => {}
        _ => {
            return Err(CsrError::Malformed(
                "only the attributes may follow the public key".into(),
            ));
        }
    }
    let key = PublicKey::from_spki_der(spki.raw).map_err(|e| match e {
        sigil_crypto::KeyError::UnsupportedCurve { .. }
        | sigil_crypto::KeyError::RsaKeySize { .. } => CsrError::WeakKey(e.to_string()),
        e => CsrError::Key(e.to_string()),
    })?;
    if let KeyAlgorithm::Rsa { bits } = key.algorithm()
        && !(sigil_crypto::keys::RSA_MIN_BITS..=sigil_crypto::keys::RSA_MAX_BITS).contains(&bits)
    {
        return Err(CsrError::WeakKey(format!(
            "an RSA key of {bits} bits (2048 to 4096 are accepted)"
        )));
    }
    let sig = match bits.value.split_first() {
        Some((0, sig)) => sig,
        _ => {
            return Err(CsrError::Malformed(
                "the signature bit string has unused bits".into(),
            ));
        }
    };
    let ok = match (signature_algorithm(alg.raw)?, key.algorithm()) {
        (
            SigAlg::Ecdsa(h),
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521,
        )
        | (SigAlg::Rsa(h), KeyAlgorithm::Rsa { .. }) => key
            .verify_digest_any_hash(&Digest::of(h, info.raw), sig)
            .is_ok(),
        (SigAlg::Ed25519, KeyAlgorithm::Ed25519) => key.verify_message(info.raw, sig).is_ok(),
        (a, k) => {
            return Err(CsrError::AlgorithmMismatch {
                alg: match a {
                    SigAlg::Ecdsa(_) => "ECDSA",
                    SigAlg::Rsa(_) => "RSA",
                    SigAlg::Ed25519 => "Ed25519",
                },
                key: k,
            });
        }
    };
    if !ok {
        return Err(CsrError::Signature);
    }
    Ok(CertificationRequest { public_key: key })
}

/// A request for `key` as keyless clients send it (sigstore-python's form): an empty subject,
/// no attributes, self-signed with the key's own algorithm. DER.
pub fn build(key: &sigil_crypto::SigningKey) -> Result<Vec<u8>, sigil_crypto::KeyError> {
    use crate::encode as der;
    let info = der::seq(&[
        &der::u64(0),
        &crate::issue::name(&[]),
        key.public_key().spki_der(),
        &der::tlv(0xa0, &[]),
    ]);
    let signature = key.sign_message(&info)?;
    Ok(der::seq(&[
        &info,
        &crate::issue::signature_algorithm(key.algorithm()),
        &der::bits(&signature),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_crypto::SigningKey;

    #[test]
    fn built_requests_parse_and_a_changed_byte_is_refused() {
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
        ] {
            let k = SigningKey::generate(alg).unwrap();
            let der = build(&k).unwrap();
            let r = parse_der(&der).unwrap();
            assert_eq!(r.public_key.spki_der(), k.public_key().spki_der());
            let mut bad = der.clone();
            let n = bad.len();
            bad[n - 2] ^= 0x10;
            assert!(parse_der(&bad).is_err(), "{alg:?}");
        }
        assert!(matches!(
            parse_der(&[0x30, 0x00]),
            Err(CsrError::Malformed(_))
        ));
    }
}

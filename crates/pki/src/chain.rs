//! Certificate path validation at a given time, by rustls-webpki.

use std::sync::OnceLock;

use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, UnixTime,
};
use sigil_formats::time::Timestamp;

use crate::cert::Certificate;

/// What the end-entity certificate must be valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Code signing (Fulcio leaves).
    CodeSigning,
    /// Time stamping (TSA certificates).
    TimeStamping,
}

// OID contents (without tag and length) of the EKUs.
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
const EKU_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// Why a chain did not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The trust root gave no certificates.
    #[error("the certificate authority has no certificates")]
    EmptyChain,
    /// A certificate of the authority's chain is unusable as a trust anchor.
    #[error("the authority's root certificate is unusable as a trust anchor: {0}")]
    Anchor(String),
    /// webpki's verdict.
    #[error("the certificate does not chain to the trusted authority at {time}: {reason}")]
    Invalid {
        /// The verification time.
        time: String,
        /// webpki's reason.
        reason: String,
    },
}

/// webpki's algorithms behind Sigil's verified-signature cache: a certificate-authority link seen
/// before (same key, same signed bytes, same signature) costs a lookup, not an EC operation.
/// Only links that really verified enter the process-wide cache. The links inside the
/// authority chain being validated against are taken as given, for that validation only (see
/// [`verify_chain`]): they never reach the shared cache, so one trust root cannot vouch for a
/// link that another trust root's validation would then accept.
#[derive(Debug)]
struct Cached(&'static dyn SignatureVerificationAlgorithm);

thread_local! {
    /// The cache keys of the links inside the authority chain of the validation running on
    /// this thread (empty outside [`verify_chain`]).
    static ANCHOR_LINKS: std::cell::RefCell<Vec<[u8; 32]>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Restores the thread's anchor links when a validation ends (also on unwinding).
struct AnchorScope(Vec<[u8; 32]>);

impl AnchorScope {
    fn enter(links: Vec<[u8; 32]>) -> Self {
        Self(ANCHOR_LINKS.with(|l| std::mem::replace(&mut *l.borrow_mut(), links)))
    }
}

impl Drop for AnchorScope {
    fn drop(&mut self) {
        let previous = std::mem::take(&mut self.0);
        ANCHOR_LINKS.with(|l| *l.borrow_mut() = previous);
    }
}

impl SignatureVerificationAlgorithm for Cached {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let (pk_alg, sig_alg) = (self.0.public_key_alg_id(), self.0.signature_alg_id());
        let parts: [&[u8]; 6] = [
            b"webpki",
            pk_alg.as_ref(),
            sig_alg.as_ref(),
            public_key,
            message,
            signature,
        ];
        let k = sigil_crypto::cache::key(&parts);
        if ANCHOR_LINKS.with(|l| l.borrow().contains(&k)) {
            return Ok(());
        }
        sigil_crypto::cache::verified(&parts, || {
            self.0.verify_signature(public_key, message, signature)
        })
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.0.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.0.signature_alg_id()
    }

    fn fips(&self) -> bool {
        self.0.fips()
    }
}

fn algorithms() -> &'static [&'static dyn SignatureVerificationAlgorithm] {
    static ALGS: OnceLock<Vec<&'static dyn SignatureVerificationAlgorithm>> = OnceLock::new();
    ALGS.get_or_init(|| {
        webpki::ALL_VERIFICATION_ALGS
            .iter()
            .map(|a| {
                &*Box::leak(Box::new(Cached(*a))) as &'static dyn SignatureVerificationAlgorithm
            })
            .collect()
    })
}

/// The cache keys of the links inside an authority's own chain (each certificate signed by the
/// next), in the bytes webpki hands the signature algorithm. They are taken as given while a
/// leaf is validated against that chain, without an EC operation: the trust root is the anchor,
/// so whoever could alter an intermediate in it could alter its root too.
pub fn authority_links(chain: &[Vec<u8>]) -> Vec<[u8; 32]> {
    chain
        .windows(2)
        .filter_map(|pair| {
            let parts = link_parts(&pair[0], &pair[1])?;
            let mut all: Vec<&[u8]> = vec![b"webpki"];
            all.extend(parts.iter().map(Vec::as_slice));
            Some(sigil_crypto::cache::key(&all))
        })
        .collect()
}

/// (issuer SPKI algorithm, signature algorithm, issuer key bits, TBS, signature bits) of `child`
/// as signed by `issuer`, in webpki's representation.
fn link_parts(child: &[u8], issuer: &[u8]) -> Option<[Vec<u8>; 5]> {
    use crate::tlv;
    let c = tlv::children(tlv::read_only(child, 0x30).ok()?.value).ok()?;
    let (tbs, sig_alg, sig) = (c.first()?, c.get(1)?, c.get(2)?);
    let i = tlv::children(tlv::read_only(issuer, 0x30).ok()?.value).ok()?;
    let itbs = tlv::children(i.first()?.value).ok()?;
    // TBS fields: [0] version (explicit), serial, signature, issuer, validity, subject, spki, ...
    let offset = usize::from(itbs.first()?.tag == 0xa0);
    let spki = tlv::children(itbs.get(5 + offset)?.value).ok()?;
    let (pk_alg, pk_bits) = (spki.first()?, spki.get(1)?);
    let strip = |bits: &tlv::Tlv<'_>| {
        bits.value
            .split_first()
            .filter(|(unused, _)| **unused == 0)
            .map(|(_, b)| b.to_vec())
    };
    Some([
        pk_alg.value.to_vec(),
        sig_alg.value.to_vec(),
        strip(pk_bits)?,
        tbs.raw.to_vec(),
        strip(sig)?,
    ])
}

/// webpki's verdict as a sentence (its own `Display` is Rust's `Debug` text).
fn describe(e: &webpki::Error) -> String {
    use webpki::Error as E;
    let at = |t: &UnixTime| Timestamp::from_unix(t.as_secs() as i64).to_rfc3339();
    match e {
        E::CertExpired { time, not_after } => format!(
            "a certificate expired at {} (checked at {})",
            at(not_after),
            at(time)
        ),
        E::CertNotValidYet { time, not_before } => format!(
            "a certificate is valid only from {} (checked at {})",
            at(not_before),
            at(time)
        ),
        E::UnknownIssuer => "the issuer is not the trusted authority (unknown issuer)".into(),
        E::InvalidSignatureForPublicKey => {
            "a certificate's signature does not verify with its issuer's key".into()
        }
        E::RequiredEkuNotFoundContext(_) => {
            "the certificate's extended key usage does not allow this purpose".into()
        }
        E::CaUsedAsEndEntity => "the certificate is a CA certificate, not an end entity".into(),
        E::EndEntityUsedAsCa => "an end-entity certificate is used as an issuer".into(),
        E::BadDer | E::BadDerTime | E::TrailingData(_) => "a certificate is malformed DER".into(),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "a certificate is signed with an unsupported algorithm".into()
        }
        E::PathLenConstraintViolated => "the chain violates a path length constraint".into(),
        E::NameConstraintViolation => "the chain violates a name constraint".into(),
        E::UnsupportedCriticalExtension => {
            "a certificate has an unsupported critical extension".into()
        }
        E::MaximumPathDepthExceeded | E::MaximumPathBuildCallsExceeded => {
            "the chain is too long".into()
        }
        other => {
            // The variant's name, without Rust field syntax.
            let d = format!("{other:?}");
            let name = d.split(['(', ' ', '{']).next().unwrap_or(&d).to_owned();
            format!("the chain is invalid ({name})")
        }
    }
}

/// Validates `leaf` against an authority's chain (leaf-most first, trust anchor last) at `time`,
/// for `purpose`. Returns the certificate that issued the leaf.
pub fn verify_chain(
    leaf: &Certificate,
    authority_chain: &[Vec<u8>],
    time: Timestamp,
    purpose: Purpose,
) -> Result<Certificate, ChainError> {
    let (anchor_der, intermediates) = authority_chain.split_last().ok_or(ChainError::EmptyChain)?;
    let anchor_cert = CertificateDer::from(anchor_der.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&anchor_cert)
        .map_err(|e| ChainError::Anchor(describe(&e)))?;
    let inters: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let leaf_der = CertificateDer::from(leaf.der());
    let invalid = |reason: String| ChainError::Invalid {
        time: time.to_rfc3339(),
        reason,
    };
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| invalid(describe(&e)))?;
    // The leaf must list code signing; a CA above it may omit the extension (as Go's x509,
    // which cosign uses, allows: private CAs' intermediates often carry no EKU), and one that
    // lists EKUs must include it.
    let usage = match purpose {
        Purpose::CodeSigning => {
            let listed = leaf
                .extended_key_usages()
                .map_err(|e| invalid(e.to_string()))?;
            if !listed
                .iter()
                .any(|e| e == crate::cert::OID_EKU_CODE_SIGNING)
            {
                return Err(invalid(
                    "the certificate's extended key usage does not include code signing".into(),
                ));
            }
            webpki::KeyUsage::required_if_present(EKU_CODE_SIGNING)
        }
        Purpose::TimeStamping => webpki::KeyUsage::required(EKU_TIME_STAMPING),
    };
    let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(time.seconds.max(0) as u64));
    {
        let _scope = AnchorScope::enter(authority_links(authority_chain));
        ee.verify_for_usage(algorithms(), &[anchor], &inters, t, usage, None, None)
            .map_err(|e| invalid(describe(&e)))?;
    }
    // The issuer is the chain certificate whose subject is the leaf's issuer name.
    let issuer_name = leaf.issuer_der();
    authority_chain
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .find(|c| c.subject_der() == issuer_name)
        .ok_or_else(|| invalid("issuer not found in the authority chain".into()))
}

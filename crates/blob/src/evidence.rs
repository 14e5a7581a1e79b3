//! How a blob's evidence is verified, decided from the evidence and the verifier's
//! requirements — never from what the evidence lacks: a bundle with certificates or log
//! entries, or any evidence when the verifier requires a log entry or an identity, goes to the
//! full engine (which then says what is missing); a key signature whose log the verifier waived
//! is checked as one; a detached signature whose entry is required is looked up in the log.

use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::bundle::{self, AnyBundle, Bundle};
use sigil_formats::signature::decode_signature;

/// What the verifier requires of the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requires {
    /// A transparency log entry (unless waived with `--insecure-ignore-tlog` or
    /// `--private-infrastructure`).
    pub tlog: bool,
    /// A certificate identity (`--certificate-identity[-regexp]`).
    pub identity: bool,
}

/// Evidence, and the route it takes.
#[derive(Debug, Clone)]
pub enum Route {
    /// The full engine: certificates and log entries are evidence only it can weigh.
    Engine(Box<Bundle>),
    /// A key signature whose log requirement was waived, over the `claimed` digest when the
    /// bundle states one.
    KeyOnly {
        /// The signature.
        signature: Vec<u8>,
        /// The bundle's `messageDigest`.
        claimed: Option<Digest>,
    },
    /// A detached signature whose log entry must be found in the log.
    Lookup(Vec<u8>),
}

/// Why the evidence cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The bundle does not parse.
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    /// A DSSE bundle given where a message signature is verified.
    #[error("the bundle holds a DSSE envelope (an attestation), not a message signature")]
    Dsse,
    /// A `messageDigest` of an algorithm Sigil does not know, or of the wrong length.
    #[error("{0}")]
    MessageDigest(String),
    /// cosign's old bundle's `base64Signature` does not decode.
    #[error("base64Signature: {0}")]
    Signature(String),
}

/// The route of a detached signature (a `.sig` file's decoded bytes).
pub fn detached(signature: Vec<u8>, requires: Requires) -> Route {
    if requires.tlog {
        Route::Lookup(signature)
    } else {
        Route::KeyOnly {
            signature,
            claimed: None,
        }
    }
}

/// The route of a bundle (a Sigstore bundle, or cosign's old `--bundle` file).
pub fn bundle(bytes: &[u8], requires: Requires) -> Result<Route, EvidenceError> {
    match bundle::parse_any(bytes)? {
        AnyBundle::Sigstore(b) => {
            let vm = &b.verification_material;
            if requires.identity
                || requires.tlog
                || !vm.tlog_entries.is_empty()
                || vm.certificate.is_some()
                || vm.x509_certificate_chain.is_some()
            {
                return Ok(Route::Engine(b));
            }
            let ms = b.message_signature.as_ref().ok_or(EvidenceError::Dsse)?;
            let claimed = match &ms.message_digest {
                Some(d) => {
                    let alg = HashAlgorithm::from_sigstore_name(&d.algorithm).ok_or_else(|| {
                        EvidenceError::MessageDigest(format!(
                            "unsupported messageDigest algorithm {}",
                            serde_json::Value::String(d.algorithm.clone())
                        ))
                    })?;
                    Some(Digest::from_bytes(alg, &d.digest.0).ok_or_else(|| {
                        EvidenceError::MessageDigest(format!(
                            "the {alg} messageDigest has {} bytes, expected {}",
                            d.digest.0.len(),
                            alg.output_len()
                        ))
                    })?)
                }
                None => None,
            };
            Ok(Route::KeyOnly {
                signature: ms.signature.0.clone(),
                claimed,
            })
        }
        // cosign's old format: with a certificate or a Rekor entry, verify it as the v0.1 bundle
        // it is equivalent to, so that the SET and the certificate are checked.
        AnyBundle::Cosign(c) if requires.identity || c.rekor_bundle.is_some() || requires.tlog => {
            Ok(Route::Engine(Box::new(c.to_sigstore()?)))
        }
        AnyBundle::Cosign(c) => Ok(Route::KeyOnly {
            signature: decode_signature(c.base64_signature.as_bytes())
                .map_err(|e| EvidenceError::Signature(e.to_string()))?,
            claimed: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIVED: Requires = Requires {
        tlog: false,
        identity: false,
    };

    #[test]
    fn the_route_follows_the_requirement_not_the_evidence() {
        let key =
            sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256).unwrap();
        let d = Digest::of(HashAlgorithm::Sha256, b"x");
        let b = Bundle::message_signature_with_key(
            key.public_key().hint(),
            "SHA2_256",
            d.as_bytes().to_vec(),
            key.sign(b"x").unwrap(),
        );
        let json = b.to_json();
        // The same bundle without an entry: to the engine (which says one is missing) when
        // required, key-only when waived.
        let required = Requires {
            tlog: true,
            identity: false,
        };
        assert!(matches!(
            bundle(json.as_bytes(), required).unwrap(),
            Route::Engine(_)
        ));
        match bundle(json.as_bytes(), WAIVED).unwrap() {
            Route::KeyOnly { claimed, .. } => assert_eq!(claimed, Some(d)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(detached(vec![1], required), Route::Lookup(_)));
        assert!(matches!(
            detached(vec![1], WAIVED),
            Route::KeyOnly { claimed: None, .. }
        ));
        assert!(matches!(
            bundle(b"{", WAIVED),
            Err(EvidenceError::Bundle(_))
        ));
    }
}

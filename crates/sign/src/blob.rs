//! Blobs: a signature over an artefact's digest (hashed by the caller, streamed), with its
//! Sigstore bundle; a DSSE attestation about an artefact; a signature over an in-memory
//! message (a checksum file).

use std::collections::BTreeMap;

use serde_json::Value;
use sigil_crypto::Digest;
use sigil_formats::bundle::{Bundle, Bytes, Envelope, EnvelopeSignature, TransparencyLogEntry};
use sigil_formats::dsse::{self, Statement, Subject};

use crate::{BundleContent, Log, SignError, Signer};

/// A blob's signature.
#[derive(Debug, Clone)]
pub struct SignedBlob {
    /// The raw signature (cosign's `.sig` file is its base64).
    pub signature: Vec<u8>,
    /// The digest it is over.
    pub digest: Digest,
    /// The log entry, when uploaded.
    pub entry: Option<TransparencyLogEntry>,
    /// The Sigstore bundle (v0.3 message signature, with the entry when uploaded).
    pub bundle: Bundle,
}

/// Signs an artefact by its `digest` (by the signer's [`Signer::signing_hash`]); with `log`,
/// the signature is uploaded as a `hashedrekord` entry and the verified entry goes into the
/// bundle.
pub fn sign_digest(
    signer: &dyn Signer,
    digest: &Digest,
    log: Option<&Log>,
) -> Result<SignedBlob, SignError> {
    sign_digest_stamped(signer, digest, log, None)
}

/// [`sign_digest`], with an RFC 3161 timestamp of the signature from `tsa` in the bundle
/// (cosign's `--timestamp-server-url`).
pub fn sign_digest_stamped(
    signer: &dyn Signer,
    digest: &Digest,
    log: Option<&Log>,
    tsa: Option<&crate::timestamp::TimestampAuthority>,
) -> Result<SignedBlob, SignError> {
    let signature = signer.sign_digest(digest)?;
    let stamp = tsa.map(|t| t.stamp(&signature)).transpose()?;
    let entry = match log {
        Some(log) => Some(log.upload(&sigil_rekor::entry::hashedrekord_pem(
            &signature,
            &signer.verifier_pem(),
            digest,
        ))?),
        None => None,
    };
    let mut bundle = signer.bundle(BundleContent::Message {
        digest: digest.clone(),
        signature: signature.clone(),
    });
    bundle
        .verification_material
        .tlog_entries
        .extend(entry.clone());
    if let Some(reply) = stamp {
        crate::timestamp::attach(&mut bundle, reply);
    }
    Ok(SignedBlob {
        signature,
        digest: digest.clone(),
        entry,
        bundle,
    })
}

/// Signs an in-memory message (a checksum file); with `log`, uploaded as a `hashedrekord` of
/// the message's digest. Returns the signature and the verified entry.
pub fn sign_message(
    signer: &dyn Signer,
    message: &[u8],
    log: Option<&Log>,
) -> Result<(Vec<u8>, Option<TransparencyLogEntry>), SignError> {
    let digest = Digest::of(signer.signing_hash(), message);
    let signed = sign_digest(signer, &digest, log)?;
    Ok((signed.signature, signed.entry))
}

/// Signs `statement` as a DSSE envelope (in-toto payload type).
pub fn sign_statement(signer: &dyn Signer, statement: &Statement) -> Result<Envelope, SignError> {
    let payload = serde_json::to_vec(statement).map_err(|e| SignError::Encode(e.to_string()))?;
    let sig = signer.sign(&dsse::pae(dsse::IN_TOTO_PAYLOAD_TYPE, &payload))?;
    Ok(Envelope {
        payload: Bytes(payload),
        payload_type: dsse::IN_TOTO_PAYLOAD_TYPE.to_owned(),
        signatures: vec![EnvelopeSignature {
            sig: Bytes(sig),
            keyid: String::new(),
        }],
    })
}

/// A DSSE attestation.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The envelope.
    pub envelope: Envelope,
    /// The envelope as JSON (what cosign's `--output-attestation` writes, and what was logged).
    pub envelope_json: String,
    /// The log entry, when uploaded.
    pub entry: Option<TransparencyLogEntry>,
    /// The Sigstore bundle (v0.3 DSSE, with the entry when uploaded).
    pub bundle: Bundle,
}

/// The in-toto v1 statement about one artefact (`name`, its SHA-256 `digest`).
pub fn statement(name: &str, sha256: &Digest, predicate_type: &str, predicate: Value) -> Statement {
    Statement {
        type_: dsse::STATEMENT_V1.to_owned(),
        subject: vec![Subject {
            name: name.to_owned(),
            digest: BTreeMap::from([("sha256".to_owned(), sha256.to_hex())]),
            annotations: None,
        }],
        predicate_type: predicate_type.to_owned(),
        predicate: Some(predicate),
    }
}

/// Signs `statement`; with `log`, uploads the envelope as a `dsse` entry and puts the verified
/// entry into the bundle.
pub fn attest(
    signer: &dyn Signer,
    statement: &Statement,
    log: Option<&Log>,
) -> Result<Attestation, SignError> {
    attest_stamped(signer, statement, log, None)
}

/// [`attest`], with an RFC 3161 timestamp of the envelope's signature from `tsa` in the
/// bundle.
pub fn attest_stamped(
    signer: &dyn Signer,
    statement: &Statement,
    log: Option<&Log>,
    tsa: Option<&crate::timestamp::TimestampAuthority>,
) -> Result<Attestation, SignError> {
    let envelope = sign_statement(signer, statement)?;
    let stamp = match (tsa, envelope.signatures.first()) {
        (Some(t), Some(sig)) => Some(t.stamp(&sig.sig.0)?),
        _ => None,
    };
    let envelope_json =
        serde_json::to_string(&envelope).map_err(|e| SignError::Encode(e.to_string()))?;
    let entry = match log {
        Some(log) => Some(log.upload(&sigil_rekor::entry::dsse_pem(
            &envelope_json,
            &signer.verifier_pem(),
        ))?),
        None => None,
    };
    let mut bundle = signer.bundle(BundleContent::Dsse(envelope.clone()));
    bundle
        .verification_material
        .tlog_entries
        .extend(entry.clone());
    if let Some(reply) = stamp {
        crate::timestamp::attach(&mut bundle, reply);
    }
    Ok(Attestation {
        envelope,
        envelope_json,
        entry,
        bundle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_crypto::{HashAlgorithm, KeyAlgorithm, SigningKey};

    #[test]
    fn a_blob_bundle_carries_the_signature_over_the_digest() {
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
        ] {
            let key = SigningKey::generate(alg).unwrap();
            let d = Digest::of(key.algorithm().signing_hash(), b"artefact");
            let s = sign_digest(&key, &d, None).unwrap();
            assert!(
                key.public_key().verify(b"artefact", &s.signature).is_ok(),
                "{alg:?}"
            );
            assert!(s.entry.is_none());
            assert!(s.bundle.verification_material.tlog_entries.is_empty());
        }
        // A digest of the wrong algorithm is refused, not signed.
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
        let wrong = Digest::of(HashAlgorithm::Sha256, b"artefact");
        assert!(matches!(
            sign_digest(&key, &wrong, None),
            Err(SignError::Key(
                sigil_crypto::KeyError::DigestAlgorithm { .. }
            ))
        ));
    }

    #[test]
    fn an_attestation_signs_the_pae_of_its_statement() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let d = Digest::of(HashAlgorithm::Sha256, b"artefact");
        let st = statement(
            "a.tar",
            &d,
            "https://slsa.dev/provenance/v1",
            serde_json::json!({}),
        );
        let a = attest(&key, &st, None).unwrap();
        let pae = dsse::pae(&a.envelope.payload_type, &a.envelope.payload.0);
        assert!(
            key.public_key()
                .verify(&pae, &a.envelope.signatures[0].sig.0)
                .is_ok()
        );
        assert_eq!(
            Statement::parse(&a.envelope.payload.0).unwrap().subject[0].name,
            "a.tar"
        );
        assert!(a.envelope_json.contains("application/vnd.in-toto+json"));
    }
}

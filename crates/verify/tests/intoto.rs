//! intoto 0.0.2 entries as Rekor canonicalises them: the envelope's payload is left out and
//! `payloadHash` kept. Such an entry verifies against the bundle's envelope; one whose
//! `payloadHash` names another payload is refused. The bundles are built here with a real log
//! key, inclusion proof, checkpoint and SET.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, SigningKey};
use sigil_formats::bundle::{self, AnyBundle, Bundle};
use sigil_formats::dsse;
use sigil_formats::time::Timestamp;
use sigil_formats::trust_root::TrustedRoot;
use sigil_tlog::{checkpoint, merkle};
use sigil_verify::{Artifact, CheckName, Options, Requirement, TrustMaterial, verify_bundle};

const LOG: &str = "log.example.com";
const TIME: i64 = 1_900_000_000;

fn statement(digest: &Digest) -> Vec<u8> {
    json!({"_type": "https://in-toto.io/Statement/v1",
           "subject": [{"name": "a", "digest": {"sha256": digest.to_hex()}}],
           "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}})
    .to_string()
    .into_bytes()
}

/// A DSSE bundle over `payload` whose log entry is the intoto 0.0.2 body `body(sig, pem)`.
fn logged(
    log: &SigningKey,
    signer: &SigningKey,
    payload: &[u8],
    body: impl Fn(&[u8], &str) -> Value,
) -> Bundle {
    let log_id = Digest::of(HashAlgorithm::Sha256, log.public_key().spki_der());
    let sig = signer
        .sign(&dsse::pae(dsse::IN_TOTO_PAYLOAD_TYPE, payload))
        .unwrap();
    let body = sigil_formats::jcs::canonicalize(&body(&sig, &signer.public_key().to_pem()))
        .unwrap()
        .into_bytes();
    let root = merkle::leaf_hash(&body);
    let text = format!("{LOG}\n1\n{}\n", STANDARD.encode(root));
    let mut note = checkpoint::key_id(LOG, log.public_key()).to_vec();
    note.extend(log.sign(text.as_bytes()).unwrap());
    let envelope = format!("{text}\n\u{2014} {LOG} {}\n", STANDARD.encode(note));
    let set_payload = sigil_formats::jcs::canonicalize(&json!({
        "body": STANDARD.encode(&body), "integratedTime": TIME,
        "logID": log_id.to_hex(), "logIndex": 0}))
    .unwrap();
    let set = log.sign(set_payload.as_bytes()).unwrap();
    let b = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": signer.public_key().hint()},
            "tlogEntries": [{
                "logIndex": "0", "logId": {"keyId": STANDARD.encode(log_id.as_bytes())},
                "kindVersion": {"kind": "intoto", "version": "0.0.2"},
                "integratedTime": TIME.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(set)},
                "inclusionProof": {"logIndex": "0", "rootHash": STANDARD.encode(root), "treeSize": "1", "hashes": [], "checkpoint": {"envelope": envelope}},
                "canonicalizedBody": STANDARD.encode(&body)}]},
        "dsseEnvelope": {"payload": STANDARD.encode(payload), "payloadType": dsse::IN_TOTO_PAYLOAD_TYPE,
                         "signatures": [{"sig": STANDARD.encode(&sig), "keyid": ""}]}});
    match bundle::parse_any(b.to_string().as_bytes()).unwrap() {
        AnyBundle::Sigstore(b) => *b,
        other => panic!("{other:?}"),
    }
}

fn trust(log: &SigningKey) -> TrustMaterial {
    let log_id = Digest::of(HashAlgorithm::Sha256, log.public_key().spki_der());
    let root = json!({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{"baseUrl": format!("https://{LOG}"), "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(log.public_key().spki_der()), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": Timestamp::from_unix(TIME - 1000).to_rfc3339()}},
            "logId": {"keyId": STANDARD.encode(log_id.as_bytes())}}]});
    TrustMaterial::new(TrustedRoot::parse(root.to_string().as_bytes()).unwrap())
}

/// Rekor's canonical intoto 0.0.2 body: no payload, the payload's hash.
fn canonical(payload_hash: &Digest) -> impl Fn(&[u8], &str) -> Value + '_ {
    move |sig, pem| {
        let twice = |b: &[u8]| STANDARD.encode(STANDARD.encode(b));
        json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
            "envelope": {"payloadType": dsse::IN_TOTO_PAYLOAD_TYPE,
                         "signatures": [{"sig": twice(sig), "publicKey": STANDARD.encode(pem)}]},
            "hash": {"algorithm": "sha256", "value": "00".repeat(32)},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash.to_hex()}}}})
    }
}

#[test]
fn rekors_canonical_intoto_body_verifies_and_another_payload_hash_does_not() {
    let log = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let artefact = Digest::of(HashAlgorithm::Sha256, b"artefact");
    let payload = statement(&artefact);
    let artifact = Artifact::from_digests(vec![artefact.clone()]);
    let req = Requirement::Key(signer.public_key().clone());
    let trust = trust(&log);

    let good_hash = Digest::of(HashAlgorithm::Sha256, &payload);
    let b = logged(&log, &signer, &payload, canonical(&good_hash));
    let r = verify_bundle(&b, &artifact, &trust, &req, &Options::default());
    assert!(r.verified(), "{:?}", r.first_failure());

    let other = Digest::of(HashAlgorithm::Sha256, b"another payload");
    let b = logged(&log, &signer, &payload, canonical(&other));
    let r = verify_bundle(&b, &artifact, &trust, &req, &Options::default());
    let (check, why) = r.first_failure().expect("refused");
    assert_eq!(check, CheckName::TlogEntry);
    assert!(
        why.contains("payloadHash is not the hash of this envelope's payload"),
        "{why}"
    );
}

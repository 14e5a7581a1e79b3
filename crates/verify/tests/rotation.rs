//! Log key rotation: a trust root whose old log key is valid until T and whose new key is valid
//! from T minus one day. Entries of both periods verify; an entry signed with the old key after
//! its window is refused. The bundles are built here with real keys, proofs, checkpoints and SETs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, SigningKey};
use sigil_formats::bundle::{self, AnyBundle, Bundle};
use sigil_formats::time::Timestamp;
use sigil_formats::trust_root::TrustedRoot;
use sigil_tlog::{checkpoint, merkle};
use sigil_verify::{Artifact, CheckName, Options, Requirement, TrustMaterial, verify_bundle};

const T: i64 = 2_000_000_000;
const DAY: i64 = 86_400;
const LOG: &str = "log.example.com";

struct Log {
    key: SigningKey,
    id: Vec<u8>,
}

impl Log {
    fn new() -> Self {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let id = Digest::of(HashAlgorithm::Sha256, key.public_key().spki_der())
            .as_bytes()
            .to_vec();
        Self { key, id }
    }
}

/// A key-signed blob logged at `time` by `log`, with inclusion proof, checkpoint and SET.
fn logged_bundle(log: &Log, time: i64, signer: &SigningKey, artefact: &[u8]) -> Bundle {
    let digest = Digest::of(HashAlgorithm::Sha256, artefact);
    let sig = signer.sign_digest(&digest).unwrap();
    let body = serde_json::json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": digest.to_hex()}},
        "signature": {"content": STANDARD.encode(&sig), "publicKey": {"content": STANDARD.encode(signer.public_key().to_pem())}}}});
    let body = serde_json::to_vec(&body).unwrap();
    let root = merkle::leaf_hash(&body);
    let text = format!("{LOG}\n1\n{}\n", STANDARD.encode(root));
    let mut note_sig = checkpoint::key_id(LOG, log.key.public_key()).to_vec();
    note_sig.extend(log.key.sign(text.as_bytes()).unwrap());
    let envelope = format!("{text}\n\u{2014} {LOG} {}\n", STANDARD.encode(note_sig));
    let set_payload = sigil_formats::jcs::canonicalize(&serde_json::json!({
        "body": STANDARD.encode(&body), "integratedTime": time,
        "logID": sigil_crypto::hash::hex_lower(&log.id), "logIndex": 0}))
    .unwrap();
    let set = log.key.sign(set_payload.as_bytes()).unwrap();
    let json = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": signer.public_key().hint()},
            "tlogEntries": [{
                "logIndex": "0", "logId": {"keyId": STANDARD.encode(&log.id)},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(set)},
                "inclusionProof": {"logIndex": "0", "rootHash": STANDARD.encode(root), "treeSize": "1", "hashes": [], "checkpoint": {"envelope": envelope}},
                "canonicalizedBody": STANDARD.encode(&body)}]},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest.as_bytes())}, "signature": STANDARD.encode(&sig)}});
    match bundle::parse_any(json.to_string().as_bytes()).unwrap() {
        AnyBundle::Sigstore(b) => *b,
        other => panic!("{other:?}"),
    }
}

fn root(old: &Log, new: &Log) -> TrustMaterial {
    let inst = |log: &Log, start: i64, end: Option<i64>| {
        let mut valid = serde_json::json!({"start": Timestamp::from_unix(start).to_rfc3339()});
        if let Some(e) = end {
            valid["end"] = Timestamp::from_unix(e).to_rfc3339().into();
        }
        serde_json::json!({"baseUrl": format!("https://{LOG}"), "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(log.key.public_key().spki_der()), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
            "logId": {"keyId": STANDARD.encode(&log.id)}})
    };
    let json = serde_json::json!({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [inst(old, T - 365 * DAY, Some(T)), inst(new, T - DAY, None)]});
    TrustMaterial::new(TrustedRoot::parse(json.to_string().as_bytes()).unwrap())
}

#[test]
fn rotation_windows() {
    let (old, new) = (Log::new(), Log::new());
    let trust = root(&old, &new);
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let artefact = b"release v1.2.3";
    let artifact = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, artefact)]);
    let req = Requirement::Key(signer.public_key().clone());
    let verify = |log: &Log, t: i64| {
        verify_bundle(
            &logged_bundle(log, t, &signer, artefact),
            &artifact,
            &trust,
            &req,
            &Options::default(),
        )
    };

    for (log, t, name) in [
        (&old, T - 2 * DAY, "old key, its period"),
        (&old, T - DAY / 2, "old key, overlap"),
        (&new, T - DAY / 2, "new key, overlap"),
        (&new, T + DAY, "new key, its period"),
        (&old, T, "old key, last instant (inclusive)"),
    ] {
        let r = verify(log, t);
        assert!(r.verified(), "{name}: {:?}", r.first_failure());
    }
    let r = verify(&old, T + DAY);
    let (check, why) = r
        .first_failure()
        .expect("old key after its window must fail");
    assert_eq!(check, CheckName::TlogEntry);
    assert!(
        why.contains("was not trusted at the entry's integrated time"),
        "{why}"
    );
    // The new key before its window is refused too.
    let r = verify(&new, T - 2 * DAY);
    assert_eq!(r.first_failure().map(|f| f.0), Some(CheckName::TlogEntry));
}

#[test]
fn tampered_set_and_wrong_key_fail_where_expected() {
    let (old, new) = (Log::new(), Log::new());
    let trust = root(&old, &new);
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let artifact = Artifact::from_digests(vec![Digest::of(HashAlgorithm::Sha256, b"x")]);
    let mut b = logged_bundle(&new, T, &signer, b"x");
    b.verification_material.tlog_entries[0].integrated_time.0 += 1;
    let r = verify_bundle(
        &b,
        &artifact,
        &trust,
        &Requirement::Key(signer.public_key().clone()),
        &Options::default(),
    );
    assert_eq!(
        r.first_failure().map(|f| f.0),
        Some(CheckName::SignedEntryTimestamp)
    );
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let b = logged_bundle(&new, T, &signer, b"x");
    let r = verify_bundle(
        &b,
        &artifact,
        &trust,
        &Requirement::Key(other.public_key().clone()),
        &Options::default(),
    );
    assert_eq!(r.first_failure().map(|f| f.0), Some(CheckName::Signature));
}

#[test]
fn batch_reports_come_back_in_order() {
    let (old, new) = (Log::new(), Log::new());
    let trust = root(&old, &new);
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let items: Vec<sigil_verify::BatchItem> = (0..40)
        .map(|i| {
            let content = format!("artefact {i}");
            let by = if i % 3 == 0 { &other } else { &signer };
            sigil_verify::BatchItem {
                bundle: logged_bundle(&new, T + i, by, content.as_bytes()),
                artifact: Artifact::from_digests(vec![Digest::of(
                    HashAlgorithm::Sha256,
                    content.as_bytes(),
                )]),
                requirement: Requirement::Key(signer.public_key().clone()),
            }
        })
        .collect();
    let reports = sigil_verify::verify_bundles(&items, &trust, &Options::default(), 2);
    assert_eq!(reports.len(), 40);
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(
            r.verified(),
            i % 3 != 0,
            "item {i}: {:?}",
            r.first_failure()
        );
    }
}

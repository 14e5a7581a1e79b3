//! The inclusion proofs and checkpoints inside the Sigstore conformance bundles, checked with the
//! log keys of their trusted roots. Cases that fail for a proof or checkpoint reason must fail
//! here; every other case's proof and checkpoint must verify.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigil_crypto::PublicKey;
use sigil_tlog::checkpoint::{Checkpoint, NoteVerifier};
use sigil_tlog::merkle::{self, Hash};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("string"))
        .expect("base64")
}

fn hash(v: &Value) -> Hash {
    b64(v).try_into().expect("32 bytes")
}

fn verifiers(root: &Value) -> Vec<NoteVerifier> {
    root["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let host = t["baseUrl"]
                .as_str()
                .unwrap()
                .split("://")
                .nth(1)
                .unwrap()
                .trim_end_matches('/');
            let key = PublicKey::from_spki_der(&b64(&t["publicKey"]["rawBytes"])).unwrap();
            NoteVerifier::new(host, key)
        })
        .collect()
}

/// Checks one entry's proof and checkpoint; Err names the failing step.
fn check(entry: &Value, keys: &[NoteVerifier]) -> Result<(), String> {
    let proof = &entry["inclusionProof"];
    let leaf = merkle::leaf_hash(&b64(&entry["canonicalizedBody"]));
    let index: u64 = proof["logIndex"].as_str().unwrap().parse().unwrap();
    let size: u64 = proof["treeSize"].as_str().unwrap().parse().unwrap();
    let root = hash(&proof["rootHash"]);
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    merkle::verify_inclusion(index, size, &leaf, &hashes, &root)
        .map_err(|e| format!("inclusion: {e}"))?;
    let env = proof["checkpoint"]["envelope"]
        .as_str()
        .ok_or("no checkpoint")?;
    let cp = Checkpoint::verify_envelope(env, keys).map_err(|e| format!("checkpoint: {e}"))?;
    if cp.root_hash != root || cp.size != size {
        return Err("checkpoint: root hash or size differs from the proof".into());
    }
    Ok(())
}

#[test]
fn conformance_bundles() {
    let dir = data().join("conformance/bundle-verify");
    let public_good: Value = serde_json::from_slice(
        &std::fs::read(data().join("trust/public-good/trusted_root.json")).unwrap(),
    )
    .unwrap();
    // Cases whose documented failure is in the inclusion proof or the checkpoint, with the step.
    let expected_failures = [
        (
            "checkpoint-bad-keyhint_fail",
            "checkpoint: the checkpoint has no signature by a trusted log key",
        ),
        (
            "checkpoint-wrong-roothash_fail",
            "checkpoint: root hash or size differs",
        ),
        (
            "inclusion-proof-corrupted-hash_fail",
            "inclusion: the proof leads to root",
        ),
        (
            "invalid-checkpoint-signature_fail",
            "checkpoint: the checkpoint signature by",
        ),
        ("invalid-inclusion-proof_fail", "inclusion:"),
        (
            "rekor2-checkpoint-missing-log-signature_fail",
            "checkpoint: malformed signed note: no signature lines",
        ),
        (
            "rekor2-checkpoint-missing-origin_fail",
            "checkpoint: malformed checkpoint",
        ),
        (
            "rekor2-checkpoint-missing-root-hash_fail",
            "checkpoint: malformed checkpoint",
        ),
        (
            "rekor2-checkpoint-missing-size_fail",
            "checkpoint: malformed checkpoint",
        ),
        (
            "rekor2-checkpoint-no-matching-signature_fail",
            "checkpoint: the checkpoint has no signature by a trusted log key",
        ),
    ];
    let mut checked = 0;
    let mut entries = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<_>>();
    entries.sort();
    for case in entries.into_iter().filter(|p| p.is_dir()) {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let bundle: Value =
            serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap())
                .unwrap_or(Value::Null);
        let Some(entry) = bundle["verificationMaterial"]["tlogEntries"].get(0) else {
            continue;
        };
        if entry["inclusionProof"].is_null() || entry["canonicalizedBody"].is_null() {
            continue;
        }
        let root = match std::fs::read(case.join("trusted_root.json")) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => public_good.clone(),
        };
        let result = check(entry, &verifiers(&root));
        match expected_failures.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => {
                let err = result.expect_err(&name);
                assert!(
                    err.starts_with(why),
                    "{name}: expected {why:?}, got {err:?}"
                );
            }
            // Other `_fail` cases fail for another documented reason; some were edited by hand and
            // carry a broken proof as well, which is fine at this layer.
            None if name.ends_with("_fail") => {
                if let Err(e) = result {
                    eprintln!("note: {name} also fails here: {e}");
                }
            }
            None => result.unwrap_or_else(|e| panic!("{name}: {e}")),
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} cases had proofs");
}

#[test]
fn rekor_v2_ed25519_key_id_matches_the_log_id() {
    let root: Value = serde_json::from_slice(
        &std::fs::read(data().join("trust/staging/trusted_root.json")).unwrap(),
    )
    .unwrap();
    for t in root["tlogs"].as_array().unwrap() {
        let host = t["baseUrl"].as_str().unwrap().split("://").nth(1).unwrap();
        let key = PublicKey::from_spki_der(&b64(&t["publicKey"]["rawBytes"])).unwrap();
        let log_id = b64(&t["logId"]["keyId"]);
        assert_eq!(
            sigil_tlog::checkpoint::key_id(host, &key),
            log_id[..4],
            "{host}"
        );
    }
}

//! The transparency log service and its clients through the real binary: uploads from
//! `sign-blob`, `attest-blob` and image signing, verification by Sigil and by @sigstore/verify
//! against a trusted root naming the log, the v1 API's answers to bad input, the tiles, the
//! monitor's rollback and split-view detection, and a `kill -9` mid-load.

mod common;
#[path = "../../../tests/support/log_server.rs"]
mod log_server;
#[path = "../../../tests/support/postgres.rs"]
mod postgres;
#[path = "../../../tests/support/registry.rs"]
mod registry;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use log_server::LogServer;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sigil");

/// A hashedrekord proposal: `signature` by `key` declared over SHA-256 of `signed_data`.
fn proposal(key: &sigil_crypto::SigningKey, signed_data: &[u8], signature: &[u8]) -> Value {
    let digest = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, signed_data);
    json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "signature": {"content": STANDARD.encode(signature),
                      "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())}},
        "data": {"hash": {"algorithm": "sha256", "value": digest.to_hex()}}}})
}

/// A correctly signed hashedrekord proposal for `data`.
fn signed(key: &sigil_crypto::SigningKey, data: &[u8]) -> Value {
    proposal(key, data, &key.sign(data).unwrap())
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

/// `GET /api/v1/log`.
fn log_info(url: &str) -> Value {
    http()
        .get(format!("{url}/api/v1/log"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn js(d: &Path, args: &[&str]) -> Result<(), String> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/js/verify_tlog.js");
    assert!(
        script
            .with_file_name("node_modules")
            .join("@sigstore/verify")
            .exists(),
        "the JS peer is not installed: run scripts/test"
    );
    let o = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(d)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

#[test]
fn logged_bundles_verify_here_and_in_sigstore_js() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = LogServer::start(BIN, &d.join("log"), &[]);
    let url = log.url.as_str();
    generate(d, "ecdsa-p256", "k");
    std::fs::write(d.join("a.txt"), b"release artefact\n").unwrap();
    std::fs::write(d.join("p.json"), br#"{"builder":"ci"}"#).unwrap();
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        url,
        "--bundle",
        "b.json",
        "a.txt",
    ]));
    ok(sigil(d).args([
        "attest-blob",
        "--key",
        "k.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "p.json",
        "--tlog-upload",
        "--rekor-url",
        url,
        "--bundle",
        "att.json",
        "a.txt",
    ]));
    ok(sigil(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        url,
        "--out",
        "root.json",
    ]));

    // Sigil: the entry, its inclusion proof, the checkpoint and the SET are checked.
    let out = ok(sigil(d).args([
        "verify-blob",
        "--key",
        "k.pub",
        "--bundle",
        "b.json",
        "--trusted-root",
        "root.json",
        "--output",
        "json",
        "a.txt",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "passed")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for c in [
        "tlog-entry",
        "inclusion-proof",
        "checkpoint",
        "signed-entry-timestamp",
    ] {
        assert!(checks.contains(&c), "{c} not passed: {out}");
    }
    ok(sigil(d).args([
        "verify-blob-attestation",
        "--key",
        "k.pub",
        "--type",
        "slsaprovenance",
        "--bundle",
        "att.json",
        "--trusted-root",
        "root.json",
        "a.txt",
    ]));
    // Not under the public-good root.
    fails(
        sigil(d).args([
            "verify-blob",
            "--key",
            "k.pub",
            "--bundle",
            "b.json",
            "a.txt",
        ]),
        1,
        "a log the trust root does not know",
    );

    // @sigstore/verify, with one required log entry.
    js(d, &["b.json", "a.txt", "k.pub", "root.json"]).unwrap();
    js(d, &["att.json", "a.txt", "k.pub", "root.json"]).unwrap();
    // Without the SET it must rely on the inclusion proof and checkpoint...
    let mut b: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("b.json")).unwrap()).unwrap();
    b["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    std::fs::write(d.join("noset.json"), b.to_string()).unwrap();
    js(d, &["noset.json", "a.txt", "k.pub", "root.json"]).unwrap();
    // ...which it checks: a changed proof hash is refused by both verifiers (the attestation is
    // entry 1 of 2, so its proof has one hash).
    let mut b: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("att.json")).unwrap()).unwrap();
    let e = &mut b["verificationMaterial"]["tlogEntries"][0];
    e.as_object_mut().unwrap().remove("inclusionPromise");
    assert_eq!(e["inclusionProof"]["hashes"].as_array().unwrap().len(), 1);
    e["inclusionProof"]["hashes"][0] = json!(STANDARD.encode([7u8; 32]));
    std::fs::write(d.join("badproof.json"), b.to_string()).unwrap();
    assert!(js(d, &["badproof.json", "a.txt", "k.pub", "root.json"]).is_err());
    fails(
        sigil(d).args([
            "verify-blob-attestation",
            "--key",
            "k.pub",
            "--type",
            "slsaprovenance",
            "--bundle",
            "badproof.json",
            "--trusted-root",
            "root.json",
            "a.txt",
        ]),
        1,
        "inclusion-proof",
    );

    // The clients: get (verified), search by hash/key, consistency, monitor.
    let out = ok(sigil(d).args([
        "log",
        "get",
        "--rekor-url",
        url,
        "--log-index",
        "0",
        "-o",
        "json",
    ]));
    let e: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["body"]["kind"], "hashedrekord");
    let out = ok(sigil(d).args([
        "log",
        "search",
        "--rekor-url",
        url,
        "--sha",
        "a.txt",
        "-o",
        "json",
    ]));
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        found["uuids"].as_array().unwrap().len(),
        2,
        "the signature and the attestation's subject"
    );
    let out = ok(sigil(d).args([
        "log",
        "search",
        "--rekor-url",
        url,
        "--public-key",
        "k.pub",
        "-o",
        "json",
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["uuids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    ok(sigil(d).args([
        "log",
        "monitor",
        "--rekor-url",
        url,
        "--state",
        "state.json",
    ]));
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        url,
        "a.txt",
    ]));
    let out = ok(sigil(d).args([
        "log",
        "monitor",
        "--rekor-url",
        url,
        "--state",
        "state.json",
        "-o",
        "json",
    ]));
    let m: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (m["previousSize"].as_u64(), m["treeSize"].as_u64()),
        (Some(2), Some(3))
    );
    ok(sigil(d).args(["log", "verify", "--rekor-url", url, "--first-size", "1"]));
    ok(sigil(d).args(["log", "verify", "--rekor-url", url, "--log-index", "2"]));

    // A split view: another log with the same key and origin but other entries.
    let mut evil_data = d.join("evil");
    std::fs::create_dir_all(&evil_data).unwrap();
    std::fs::copy(
        d.join("log/log-signing-key.pem"),
        evil_data.join("log-signing-key.pem"),
    )
    .unwrap();
    let origin = url.trim_start_matches("http://");
    let evil = LogServer::start(BIN, &evil_data, &["--origin", origin]);
    for f in ["x", "y", "z", "w"] {
        std::fs::write(d.join(f), f).unwrap();
        ok(sigil(d).args([
            "sign-blob",
            "--key",
            "k.key",
            "--tlog-upload",
            "--rekor-url",
            &evil.url,
            f,
        ]));
    }
    fails(
        sigil(d).args([
            "log",
            "monitor",
            "--rekor-url",
            &evil.url,
            "--state",
            "state.json",
        ]),
        1,
        "split view",
    );
    // A rollback: the evil log shrunk below what was seen (a fresh one with one entry).
    evil_data = d.join("evil2");
    std::fs::create_dir_all(&evil_data).unwrap();
    std::fs::copy(
        d.join("log/log-signing-key.pem"),
        evil_data.join("log-signing-key.pem"),
    )
    .unwrap();
    let evil2 = LogServer::start(BIN, &evil_data, &["--origin", origin]);
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        &evil2.url,
        "x",
    ]));
    fails(
        sigil(d).args([
            "log",
            "monitor",
            "--rekor-url",
            &evil2.url,
            "--state",
            "state.json",
        ]),
        1,
        "rollback",
    );
    // The genuine log is still consistent with the stored state.
    ok(sigil(d).args([
        "log",
        "monitor",
        "--rekor-url",
        url,
        "--state",
        "state.json",
    ]));
}

#[test]
fn the_v1_api_answers_bad_input_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = LogServer::start(BIN, &d.join("log"), &["--max-body-size", "64KiB"]);
    let url = &log.url;
    let c = http();
    let post = |body: &str| {
        let r = c
            .post(format!("{url}/api/v1/log/entries"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, loc, r.text().unwrap())
    };
    let (s, _, t) = post("{not json");
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("not JSON"), "{t}");
    let (s, _, t) = post(r#"{"kind":"rpm","apiVersion":"0.0.1","spec":{}}"#);
    assert_eq!(s, 400);
    assert!(t.contains("unsupported entry kind \\\"rpm\\\""), "{t}");
    let (s, _, t) = post(r#"{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{}}}"#);
    assert_eq!(s, 400);
    assert!(t.contains("spec.signature.content is missing"), "{t}");
    // A signature that does not verify.
    let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256).unwrap();
    let digest = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, b"data");
    let entry = |sig: Vec<u8>| proposal(&key, b"data", &sig).to_string();
    let (s, _, t) = post(&entry(key.sign(b"other data").unwrap()));
    assert_eq!(s, 400);
    assert!(t.contains("does not verify"), "{t}");
    // Oversized: 413 before anything is parsed.
    let (s, _, _) = post(&"x".repeat(70 * 1024));
    assert_eq!(s, 413);
    // Created, then a duplicate: 409 with the Location of the existing entry.
    let good = entry(key.sign(b"data").unwrap());
    let (s, loc, t) = post(&good);
    assert_eq!(s, 201, "{t}");
    let created: Value = serde_json::from_str(&t).unwrap();
    let uuid = created.as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(
        loc.as_deref(),
        Some(format!("/api/v1/log/entries/{uuid}").as_str())
    );
    let (s, loc2, _) = post(&good);
    assert_eq!(s, 409);
    assert_eq!(loc2, loc);
    // Reads.
    let get = |p: &str| {
        let r = c.get(format!("{url}{p}")).send().unwrap();
        (r.status().as_u16(), r.bytes().unwrap().to_vec())
    };
    assert_eq!(get(&format!("/api/v1/log/entries/{uuid}")).0, 200);
    assert_eq!(get("/api/v1/log/entries?logIndex=0").0, 200);
    assert_eq!(get("/api/v1/log/entries?logIndex=5").0, 404);
    assert_eq!(get("/api/v1/log/entries?logIndex=-1").0, 400);
    assert_eq!(get("/api/v1/log/entries/xyz").0, 400);
    let r = c
        .post(format!("{url}/api/v1/log/entries/retrieve"))
        .json(&json!({"entryUUIDs": [uuid], "logIndexes": [0, 9]}))
        .send()
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap().as_array().unwrap().len(), 2);
    let r = c
        .post(format!("{url}/api/v1/log/entries/retrieve"))
        .json(&json!({"logIndexes": (0..11).collect::<Vec<_>>()}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let r = c
        .post(format!("{url}/api/v1/index/retrieve"))
        .json(&json!({"hash": format!("sha256:{}", digest.to_hex())}))
        .send()
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap(), json!([uuid]));
    let r = c
        .post(format!("{url}/api/v1/index/retrieve"))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let (s, b) = get("/api/v1/log/publicKey");
    assert_eq!(s, 200);
    assert!(
        String::from_utf8(b)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert_eq!(get("/api/v1/log/proof?firstSize=1&lastSize=1").0, 200);
    assert_eq!(get("/api/v1/log/proof?firstSize=2&lastSize=1").0, 400);
    assert_eq!(get("/api/v1/log/proof?firstSize=1&lastSize=9").0, 400);
    // Tiles: one leaf so far, as a partial tile of width 1, and its entry bundle.
    let (s, cp) = get("/checkpoint");
    assert_eq!(s, 200);
    assert!(String::from_utf8(cp).unwrap().contains("\n1\n"));
    let (s, t) = get("/tile/0/000.p/1");
    assert_eq!((s, t.len()), (200, 32));
    let (s, e) = get("/tile/entries/000.p/1");
    assert_eq!(s, 200);
    let len = u16::from_be_bytes([e[0], e[1]]) as usize;
    assert_eq!(e.len(), 2 + len);
    assert_eq!(
        sigil_crypto::hash::hex_lower(&sigil_tlog::merkle::leaf_hash(&e[2..])),
        uuid
    );
    assert_eq!(
        get("/tile/0/000").0,
        404,
        "the full tile does not exist yet"
    );
    assert_eq!(get("/tile/0/000.p/2").0, 404);
    assert_eq!(get("/tile/0/x000/001").0, 404, "not canonical");
    assert_eq!(get("/tile/64/000.p/1").0, 404);
    let (s, m) = get("/metrics");
    assert_eq!(s, 200);
    let m = String::from_utf8(m).unwrap();
    assert!(m.contains("sigil_log_appended_total 1"), "{m}");
    assert!(m.contains("sigil_log_rejected_total 4"), "{m}");
    assert!(m.contains("sigil_log_duplicates_total 1"), "{m}");
    assert_eq!(get("/healthz").0, 200);
}

#[test]
fn kill_9_mid_load_loses_nothing_acknowledged_embedded() {
    // Small index runs, so that flushes and merges happen under the load and the kill.
    kill_9_case(&["--index-flush-entries", "40"]);
}

#[test]
fn kill_9_mid_load_loses_nothing_acknowledged_postgres() {
    let pg = postgres::TestPostgres::start();
    kill_9_case(&["--database-url", &pg.url]);
}

fn kill_9_case(backend: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("log");
    let mut args = vec!["--batch-max-age-ms", "5"];
    args.extend_from_slice(backend);
    let mut log = LogServer::start(BIN, &data, &args);
    let url = log.url.clone();
    let key = std::sync::Arc::new(
        sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256).unwrap(),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // 16 clients append as fast as they can and record every acknowledged entry.
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let (key, stop, url) = (key.clone(), stop.clone(), url.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let mut acked: Vec<(u64, String)> = Vec::new();
                let mut checkpoints = Vec::new();
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let data = format!("client {c} item {i}");
                    i += 1;
                    let body = signed(&key, data.as_bytes());
                    let Ok(r) = http
                        .post(format!("{url}/api/v1/log/entries"))
                        .json(&body)
                        .send()
                    else {
                        break;
                    };
                    if r.status().as_u16() != 201 {
                        break;
                    }
                    let Ok(v) = r.json::<Value>() else { break };
                    let (uuid, e) = v.as_object().unwrap().iter().next().unwrap();
                    acked.push((e["logIndex"].as_u64().unwrap(), uuid.clone()));
                    checkpoints.push(
                        e["verification"]["inclusionProof"]["checkpoint"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    );
                }
                (acked, checkpoints)
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    log.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut checkpoints = Vec::new();
    for c in clients {
        let (a, cps) = c.join().unwrap();
        acked.extend(a);
        checkpoints.extend(cps);
    }
    assert!(
        acked.len() > 50,
        "the load produced only {} acknowledged entries",
        acked.len()
    );
    // Restart on the same data.
    let log = LogServer::start(BIN, &data, backend);
    let url = log.url.clone();
    let c = http();
    let info = log_info(&url);
    let size = info["treeSize"].as_u64().unwrap();
    let max_acked = acked.iter().map(|(i, _)| *i).max().unwrap();
    assert!(
        size > max_acked,
        "tree size {size} lost acknowledged index {max_acked}"
    );
    // Every acknowledged entry is there, under its UUID, with a valid inclusion proof.
    std::fs::write(
        d.join("log.pub"),
        c.get(format!("{url}/api/v1/log/publicKey"))
            .send()
            .unwrap()
            .bytes()
            .unwrap(),
    )
    .unwrap();
    for (index, uuid) in acked.iter().step_by((acked.len() / 40).max(1)) {
        let out = ok(sigil(d).args([
            "log",
            "get",
            "--rekor-url",
            &url,
            "--log-public-key",
            "log.pub",
            "--uuid",
            uuid,
            "-o",
            "json",
        ]));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["logIndex"].as_u64(), Some(*index));
    }
    // The search index lost nothing either: the signer's key finds every acknowledged entry.
    std::fs::write(d.join("signer.pub"), key.public_key().to_pem()).unwrap();
    let out = ok(sigil(d).args([
        "log",
        "search",
        "--rekor-url",
        &url,
        "--public-key",
        "signer.pub",
        "-o",
        "json",
    ]));
    let found: Value = serde_json::from_str(&out).unwrap();
    let found: std::collections::HashSet<&str> = found["uuids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    for (index, uuid) in &acked {
        assert!(found.contains(uuid.as_str()), "search lost entry {index}");
    }
    // The new checkpoint is consistent with every checkpoint published before the crash.
    let key =
        sigil_crypto::PublicKey::from_pem(&std::fs::read(d.join("log.pub")).unwrap()).unwrap();
    let new = sigil_tlog::checkpoint::SignedNote::parse(info["signedTreeHead"].as_str().unwrap())
        .unwrap();
    let origin = new.text.lines().next().unwrap().to_owned();
    let verifier = sigil_tlog::checkpoint::NoteVerifier::new(&origin, key);
    let new = sigil_tlog::checkpoint::Checkpoint::verify_envelope(
        info["signedTreeHead"].as_str().unwrap(),
        std::slice::from_ref(&verifier),
    )
    .unwrap();
    checkpoints.sort();
    checkpoints.dedup();
    for text in checkpoints.iter().step_by((checkpoints.len() / 30).max(1)) {
        let old = sigil_tlog::checkpoint::Checkpoint::verify_envelope(
            text,
            std::slice::from_ref(&verifier),
        )
        .unwrap();
        let p: Value = c
            .get(format!(
                "{url}/api/v1/log/proof?firstSize={}&lastSize={}",
                old.size, new.size
            ))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let hashes: Vec<[u8; 32]> = p["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                sigil_crypto::hash::hex_decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        sigil_tlog::merkle::verify_consistency(
            old.size,
            new.size,
            &old.root_hash,
            &new.root_hash,
            &hashes,
        )
        .unwrap_or_else(|e| {
            panic!(
                "checkpoint at {} is not a prefix of the restarted log: {e}",
                old.size
            )
        });
    }
}

#[test]
fn images_signed_with_tlog_upload_need_their_entry_when_the_root_lists_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = LogServer::start(BIN, &d.join("log"), &[]);
    let r = registry::TestRegistry::start();
    generate(d, "ecdsa-p256", "k");
    let image = format!("{}/team/app:v1", r.addr);
    let reg = sigil_oci::Registry::new(&Default::default()).unwrap();
    reg.push_image(
        &sigil_oci::ImageRef::parse(&image).unwrap(),
        &[sigil_oci::Layer {
            data: b"layer".to_vec(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        }],
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        sigil_oci::manifest::OCI_CONFIG,
    )
    .unwrap();
    let cache = d.join("cache");
    let sg = |d: &Path| {
        let mut c = sigil(d);
        c.env("SIGIL_CACHE_DIR", &cache);
        c
    };
    ok(sg(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--out",
        "root.json",
    ]));
    // Signed without the log: refused when the root lists a log, accepted when waived.
    ok(sg(d).args(["sign", "--key", "k.key", &image]));
    fails(
        sg(d).args([
            "verify",
            "--key",
            "k.pub",
            "--trusted-root",
            "root.json",
            &image,
        ]),
        12,
        "no transparency log entry",
    );
    ok(sg(d).args([
        "verify",
        "--key",
        "k.pub",
        "--trusted-root",
        "root.json",
        "--insecure-ignore-tlog",
        &image,
    ]));
    // Signed with the log (a second key, so that it is a new signature): its entry verifies.
    generate(d, "ecdsa-p256", "k2");
    ok(sg(d).args([
        "sign",
        "--key",
        "k2.key",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        &image,
    ]));
    ok(sg(d).args([
        "verify",
        "--key",
        "k2.pub",
        "--trusted-root",
        "root.json",
        &image,
    ]));
    let out = ok(sg(d).args(["download", "signature", &image]));
    let logged: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| !v["Bundle"].is_null())
        .collect();
    assert_eq!(logged.len(), 1);
    assert!(logged[0]["Bundle"]["SignedEntryTimestamp"].is_string());
    // Attestations, both layouts.
    std::fs::write(d.join("p.json"), b"{}").unwrap();
    ok(sg(d).args([
        "attest",
        "--key",
        "k2.key",
        "--type",
        "vuln",
        "--predicate",
        "p.json",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        &image,
    ]));
    ok(sg(d).args([
        "verify-attestation",
        "--key",
        "k2.pub",
        "--type",
        "vuln",
        "--trusted-root",
        "root.json",
        &image,
    ]));
    ok(sg(d).args([
        "attest",
        "--key",
        "k2.key",
        "--type",
        "spdxjson",
        "--predicate",
        "p.json",
        "--registry-referrers-mode",
        "oci-1-1",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        &image,
    ]));
    ok(sg(d).args([
        "verify-attestation",
        "--key",
        "k2.pub",
        "--type",
        "spdxjson",
        "--trusted-root",
        "root.json",
        &image,
    ]));
    // The log holds what was uploaded: the signature and the two attestations.
    let info = log_info(&log.url);
    assert_eq!(info["treeSize"], 3);
}

fn mount(args: &[&str]) {
    let o = Command::new("mount").args(args).output().expect("mount");
    assert!(
        o.status.success(),
        "mount {args:?} failed (the test needs root to mount a small tmpfs): {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_or_read_only_data_directory_answers_503_and_corrupts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mnt = d.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    mount(&[
        "-t",
        "tmpfs",
        "-o",
        "size=3m",
        "tmpfs",
        mnt.to_str().unwrap(),
    ]);
    let _guard = Tmpfs(mnt.clone());
    let data = mnt.join("log");
    let mut log = LogServer::start(
        BIN,
        &data,
        &["--batch-max-age-ms", "2", "--index-flush-entries", "100"],
    );
    let url = log.url.clone();
    let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256).unwrap();
    let c = http();
    let post = |i: usize| {
        let data = format!("item {i} {}", "x".repeat(200));
        let body = signed(&key, data.as_bytes());
        let r = c
            .post(format!("{url}/api/v1/log/entries"))
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    // Fill the disk.
    let mut acked = 0;
    let mut full = None;
    for i in 0..20_000 {
        let (s, t) = post(i);
        match s {
            201 => acked += 1,
            503 => {
                full = Some(t);
                break;
            }
            other => panic!("unexpected {other}: {t}"),
        }
    }
    let full = full.expect("the 3 MiB disk never filled");
    assert!(full.contains("storage unavailable"), "{full}");
    // Reads still work and show exactly the acknowledged entries.
    let info = log_info(&url);
    assert_eq!(info["treeSize"].as_u64(), Some(acked));
    assert_eq!(
        c.get(format!("{url}/healthz"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // Entries, tiles, proofs and searches are served from what is committed, while the disk is
    // full and after space returns, before any append succeeds.
    let reads = |when: &str| {
        for path in [
            "/api/v1/log/entries?logIndex=0".to_owned(),
            format!("/api/v1/log/entries?logIndex={}", acked - 1),
            "/tile/0/000".to_owned(),
            format!("/api/v1/log/proof?firstSize=1&lastSize={acked}"),
        ] {
            let r = c.get(format!("{url}{path}")).send().unwrap();
            assert_eq!(
                r.status().as_u16(),
                200,
                "{when}: GET {path}: {}",
                r.text().unwrap()
            );
        }
        let r = c
            .post(format!("{url}/api/v1/log/entries/retrieve"))
            .json(&serde_json::json!({"logIndexes": [0, acked - 1]}))
            .send()
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "{when}: retrieve: {}",
            r.text().unwrap()
        );
        let sha = sigil_crypto::Digest::of(
            sigil_crypto::HashAlgorithm::Sha256,
            format!("item 0 {}", "x".repeat(200)).as_bytes(),
        );
        let r = c
            .post(format!("{url}/api/v1/index/retrieve"))
            .json(&serde_json::json!({"hash": format!("sha256:{}", sha.to_hex())}))
            .send()
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "{when}: search: {}",
            r.text().unwrap()
        );
    };
    reads("disk full");
    // A second failed append, then reads again.
    assert_eq!(post(999_999).0, 503);
    reads("disk full, after another refused append");
    mount(&["-o", "remount,size=64m", mnt.to_str().unwrap()]);
    reads("space back, no append yet");
    // Room again: the batch that failed is committed first, exactly as it was signed (a 503
    // is "not acknowledged", and the log never signs another tree of that size), then appends
    // resume after it.
    let (s, t) = post(1_000_000);
    assert_eq!(s, 201, "{t}");
    let created: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(
        created.as_object().unwrap().values().next().unwrap()["logIndex"].as_u64(),
        Some(acked + 1)
    );
    let (s, t) = post(1_000_002);
    assert_eq!(s, 201, "{t}");
    // Nothing is corrupt: every entry proves inclusion in the final tree.
    std::fs::write(
        d.join("log.pub"),
        c.get(format!("{url}/api/v1/log/publicKey"))
            .send()
            .unwrap()
            .bytes()
            .unwrap(),
    )
    .unwrap();
    ok(sigil(d).args([
        "log",
        "verify",
        "--rekor-url",
        &url,
        "--log-public-key",
        "log.pub",
        "--log-index",
        &acked.to_string(),
    ]));
    ok(sigil(d).args([
        "log",
        "verify",
        "--rekor-url",
        &url,
        "--log-public-key",
        "log.pub",
        "--first-size",
        "1",
    ]));
    // A graceful stop closes the database cleanly (a read-only directory cannot be repaired).
    assert!(log.stop().success());
    drop(log);
    // A read-only data directory: the log starts read-only, serves reads (proofs included),
    // answers appends with 503 and changes nothing.
    mount(&["-o", "remount,ro", mnt.to_str().unwrap()]);
    {
        let ro = LogServer::start_with_ready_file(BIN, &data, &d.join("ro.ready"), &[]);
        let health: Value = c
            .get(format!("{}/healthz", ro.url))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(health["readOnly"], true, "{health}");
        assert_eq!(health["treeSize"].as_u64(), Some(acked + 3));
        ok(sigil(d).args([
            "log",
            "verify",
            "--rekor-url",
            &ro.url,
            "--log-public-key",
            "log.pub",
            "--log-index",
            &acked.to_string(),
        ]));
        let body = signed(&key, b"while read-only");
        let r = c
            .post(format!("{}/api/v1/log/entries", ro.url))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert!(r.text().unwrap().contains("read-only"));
    }
    mount(&["-o", "remount,rw", mnt.to_str().unwrap()]);
    // And the store reopens cleanly after the ordeal.
    let log = LogServer::start(BIN, &data, &[]);
    let info = log_info(&log.url);
    assert_eq!(info["treeSize"].as_u64(), Some(acked + 3));
}

#[test]
fn postgres_going_away_and_coming_back() {
    let pg = postgres::TestPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = LogServer::start(BIN, &d.join("log"), &["--database-url", &pg.url]);
    let url = &log.url;
    generate(d, "ecdsa-p256", "k");
    for f in ["a", "b", "c"] {
        std::fs::write(d.join(f), f).unwrap();
    }
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        url,
        "a",
    ]));
    pg.down();
    fails(
        sigil(d).args([
            "sign-blob",
            "--key",
            "k.key",
            "--tlog-upload",
            "--rekor-url",
            url,
            "b",
        ]),
        3,
        "503",
    );
    let h: Value = http()
        .get(format!("{url}/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h["backend"], "postgres");
    pg.up();
    // Appends resume on fresh connections.
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        url,
        "c",
    ]));
    let out = ok(sigil(d).args([
        "log",
        "search",
        "--rekor-url",
        url,
        "--sha",
        "c",
        "-o",
        "json",
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["uuids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    ok(sigil(d).args(["log", "verify", "--rekor-url", url, "--first-size", "1"]));
    // "b" was refused before it was sequenced (the duplicate check could not run): not logged.
    let info = log_info(url);
    assert_eq!(info["treeSize"], 2);
}

#[test]
fn a_log_moves_from_the_embedded_store_to_postgres_and_back() {
    let pg = postgres::TestPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("log");
    generate(d, "ecdsa-p256", "k");
    let mut log = LogServer::start(BIN, &data, &[]);
    for i in 0..40 {
        std::fs::write(d.join("f"), format!("file {i}")).unwrap();
        if i % 20 == 0 {
            ok(sigil(d).args([
                "attest-blob",
                "--key",
                "k.key",
                "--predicate",
                "k.pub",
                "--tlog-upload",
                "--rekor-url",
                &log.url,
                "f",
            ]));
        }
        ok(sigil(d).args([
            "sign-blob",
            "--key",
            "k.key",
            "--tlog-upload",
            "--rekor-url",
            &log.url,
            "f",
        ]));
    }
    let before = log_info(&log.url);
    assert_eq!(before["treeSize"], 42);
    assert!(log.stop().success(), "graceful stop");
    ok(sigil(d).args([
        "log",
        "migrate",
        "--from-data",
        data.to_str().unwrap(),
        "--to-database-url",
        &pg.url,
    ]));
    // A second migration into the same database is refused (it holds a log now).
    fails(
        sigil(d).args([
            "log",
            "migrate",
            "--from-data",
            data.to_str().unwrap(),
            "--to-database-url",
            &pg.url,
        ]),
        3,
        "stored tree has 42",
    );
    // The same log on PostgreSQL: the same signed head, search, proofs, and it grows.
    let log = LogServer::start(BIN, &data, &["--database-url", &pg.url]);
    let after = log_info(&log.url);
    assert_eq!(after["signedTreeHead"], before["signedTreeHead"]);
    let out = ok(sigil(d).args([
        "log",
        "search",
        "--rekor-url",
        &log.url,
        "--sha",
        "f",
        "-o",
        "json",
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["uuids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let out = ok(sigil(d).args([
        "log",
        "search",
        "--rekor-url",
        &log.url,
        "--public-key",
        "k.pub",
        "-o",
        "json",
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["uuids"]
            .as_array()
            .unwrap()
            .len(),
        42
    );
    ok(sigil(d).args([
        "log",
        "verify",
        "--rekor-url",
        &log.url,
        "--log-index",
        "30",
    ]));
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        "k.pub",
    ]));
    ok(sigil(d).args([
        "log",
        "verify",
        "--rekor-url",
        &log.url,
        "--first-size",
        "42",
    ]));
    drop(log);
    // And back, as a backup in an embedded store.
    let backup = d.join("backup");
    ok(sigil(d).args([
        "log",
        "migrate",
        "--from-database-url",
        &pg.url,
        "--to-data",
        backup.to_str().unwrap(),
    ]));
    std::fs::copy(
        data.join("log-signing-key.pem"),
        backup.join("log-signing-key.pem"),
    )
    .unwrap();
    std::fs::copy(data.join("origin"), backup.join("origin")).unwrap();
    let log = LogServer::start(BIN, &backup, &[]);
    let restored = log_info(&log.url);
    assert_eq!(restored["treeSize"], 43);
}

#[test]
fn the_log_serves_https_and_clients_trust_it_through_ssl_cert_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A CA and a server certificate for 127.0.0.1, made with openssl.
    tls_certificates(d);
    let tls_cert = d.join("tls.pem");
    let tls_key = d.join("tls.key");
    let mut log = LogServer::start(
        BIN,
        &d.join("log"),
        &[
            "--tls-cert",
            tls_cert.to_str().unwrap(),
            "--tls-key",
            tls_key.to_str().unwrap(),
        ],
    );
    assert!(log.url.starts_with("https://127.0.0.1:"), "{}", log.url);
    generate(d, "ecdsa-p256", "k");
    std::fs::write(d.join("f"), b"over tls").unwrap();
    // Not trusted: the client says why and logs nothing.
    fails(
        sigil(d).env_remove("SSL_CERT_FILE").args([
            "sign-blob",
            "--key",
            "k.key",
            "--tlog-upload",
            "--rekor-url",
            &log.url,
            "f",
        ]),
        3,
        "certificate",
    );
    let ca = d.join("ca.pem");
    ok(sigil(d).env("SSL_CERT_FILE", &ca).args([
        "sign-blob",
        "--key",
        "k.key",
        "--tlog-upload",
        "--rekor-url",
        &log.url,
        "--bundle",
        "b.json",
        "f",
    ]));
    ok(sigil(d).env("SSL_CERT_FILE", &ca).args([
        "trusted-root",
        "create",
        "--rekor-url",
        &log.url,
        "--out",
        "root.json",
    ]));
    ok(sigil(d).args([
        "verify-blob",
        "--key",
        "k.pub",
        "--bundle",
        "b.json",
        "--trusted-root",
        "root.json",
        "f",
    ]));
    // A graceful stop: SIGTERM, exit 0.
    assert!(log.stop().success());
}

/// What a verification requires comes from the verifier: a log entry unless waived. Evidence
/// without an entry (a detached signature, a checksum file's signature, a bare envelope, an
/// image signature without cosign's annotation) is looked up in the log at `--rekor-url`.
#[test]
fn a_log_entry_is_required_unless_the_verifier_waives_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = LogServer::start(BIN, &d.join("log"), &[]);
    let url = log.url.as_str();
    generate(d, "ecdsa-p256", "k");
    std::fs::write(d.join("a.txt"), b"logged artefact\n").unwrap();
    std::fs::write(d.join("c.txt"), b"artefact signed offline\n").unwrap();
    std::fs::write(d.join("p.json"), br#"{"builder":"ci"}"#).unwrap();
    // `--tlog-upload` is a plain flag: the next argument stays the file.
    let err = stderr(&run(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--rekor-url",
        url,
        "--output-signature",
        "a.sig",
        "--bundle",
        "b.json",
        "--tlog-upload",
        "a.txt",
    ])));
    assert!(err.contains("tlog entry created"), "{err}");
    ok(sigil(d).args([
        "sign-blob",
        "--key",
        "k.key",
        "--output-signature",
        "c.sig",
        "c.txt",
    ]));
    let o = run(sigil(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        url,
        "--out",
        "root.json",
    ]));
    assert!(o.status.success());
    assert!(stderr(&o).contains("trust on first use"), "{}", stderr(&o));
    // A pinned key is not announced as trusted on first use; RSA sizes get their keyDetails.
    generate(d, "rsa-3072", "rsa");
    let o = run(sigil(d).args([
        "trusted-root",
        "create",
        "--rekor-url",
        url,
        "--rekor-public-key",
        "rsa.pub",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("trust on first use"));
    let rsa_root: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        rsa_root["tlogs"][0]["publicKey"]["keyDetails"],
        "PKIX_RSA_PKCS1V15_3072_SHA256"
    );
    let verify = |extra: &[&str], file: &str| {
        let mut c = sigil(d);
        c.args([
            "verify-blob",
            "--key",
            "k.pub",
            "--trusted-root",
            "root.json",
        ])
        .args(extra)
        .arg(file);
        c
    };

    // A detached signature: found in the log and verified (SET, proof, checkpoint).
    let out = ok(&mut verify(
        &["--signature", "a.sig", "--rekor-url", url, "-o", "json"],
        "a.txt",
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    let passed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "passed")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for want in [
        "tlog-entry",
        "inclusion-proof",
        "checkpoint",
        "signed-entry-timestamp",
    ] {
        assert!(passed.contains(&want), "{want} not passed: {v}");
    }
    // One signed offline has no entry: refused, naming the waiver; accepted when waived.
    fails(
        &mut verify(&["--signature", "c.sig", "--rekor-url", url], "c.txt"),
        1,
        "has no entry for sha256:",
    );
    fails(
        &mut verify(&["--signature", "c.sig", "--rekor-url", url], "c.txt"),
        1,
        "--private-infrastructure",
    );
    ok(&mut verify(
        &["--signature", "c.sig", "--private-infrastructure"],
        "c.txt",
    ));
    ok(&mut verify(
        &["--signature", "c.sig", "--insecure-ignore-tlog"],
        "c.txt",
    ));
    // The entry is verified against the trust root's logs, not trusted because it was found.
    fails(
        sigil(d).args([
            "verify-blob",
            "--key",
            "k.pub",
            "--signature",
            "a.sig",
            "--rekor-url",
            url,
            "a.txt",
        ]),
        1,
        "a log the trust root does not know",
    );
    // A log that cannot be reached is an error, never a pass.
    fails(
        &mut verify(
            &["--signature", "a.sig", "--rekor-url", "http://127.0.0.1:9"],
            "a.txt",
        ),
        3,
        "looking it up in http://127.0.0.1:9 failed",
    );

    // A bundle whose entry was stripped: refused unless waived (no socket either way).
    let mut b: Value = serde_json::from_slice(&std::fs::read(d.join("b.json")).unwrap()).unwrap();
    b["verificationMaterial"]["tlogEntries"] = json!([]);
    std::fs::write(d.join("stripped.json"), b.to_string()).unwrap();
    let err = fails(
        &mut verify(&["--bundle", "stripped.json"], "a.txt"),
        1,
        "check tlog-entry failed",
    );
    assert!(err.contains("--insecure-ignore-tlog"), "{err}");
    ok(&mut verify(
        &["--bundle", "stripped.json", "--private-infrastructure"],
        "a.txt",
    ));
    fails(
        sigil(d).args([
            "verify-bundle",
            "--key",
            "k.pub",
            "--bundle",
            "stripped.json",
            "--trusted-root",
            "root.json",
            "a.txt",
        ]),
        1,
        "no transparency log entry",
    );
    ok(&mut verify(&["--bundle", "b.json"], "a.txt"));

    // A checksum file's signature, the same rule.
    let rel = d.join("rel");
    std::fs::create_dir(&rel).unwrap();
    std::fs::write(rel.join("app"), b"binary").unwrap();
    ok(sigil(&rel).args([
        "checksums",
        "sign",
        "--key",
        "../k.key",
        "--tlog-upload",
        "--rekor-url",
        url,
        "app",
    ]));
    ok(sigil(&rel).args([
        "checksums",
        "verify",
        "--key",
        "../k.pub",
        "--trusted-root",
        "../root.json",
        "--rekor-url",
        url,
        "SHA256SUMS",
    ]));
    std::fs::write(rel.join("lib"), b"library").unwrap();
    ok(sigil(&rel).args([
        "checksums",
        "sign",
        "--key",
        "../k.key",
        "--output",
        "OFFLINE",
        "lib",
    ]));
    let err = fails(
        sigil(&rel).args([
            "checksums",
            "verify",
            "--key",
            "../k.pub",
            "--trusted-root",
            "../root.json",
            "--rekor-url",
            url,
            "OFFLINE",
        ]),
        1,
        "has no entry for",
    );
    assert!(err.contains("--private-infrastructure"), "{err}");
    ok(sigil(&rel).args([
        "checksums",
        "verify",
        "--key",
        "../k.pub",
        "--private-infrastructure",
        "OFFLINE",
    ]));

    // A bare DSSE envelope: its dsse entry is found by the subject's digest and the key.
    ok(sigil(d).args([
        "attest-blob",
        "--key",
        "k.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "p.json",
        "--tlog-upload",
        "--rekor-url",
        url,
        "--output-attestation",
        "env.json",
        "a.txt",
    ]));
    let attest = |extra: &[&str]| {
        let mut c = sigil(d);
        c.args([
            "verify-blob-attestation",
            "--key",
            "k.pub",
            "--type",
            "slsaprovenance",
            "--trusted-root",
            "root.json",
            "--signature",
            "env.json",
        ])
        .args(extra)
        .arg("a.txt");
        c
    };
    ok(&mut attest(&["--rekor-url", url]));
    ok(sigil(d).args([
        "attest-blob",
        "--key",
        "k.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "p.json",
        "--output-attestation",
        "offline.json",
        "c.txt",
    ]));
    fails(
        sigil(d).args([
            "verify-blob-attestation",
            "--key",
            "k.pub",
            "--type",
            "slsaprovenance",
            "--trusted-root",
            "root.json",
            "--signature",
            "offline.json",
            "--rekor-url",
            url,
            "c.txt",
        ]),
        1,
        "has no entry for",
    );

    // An image signature without cosign's bundle annotation, whose entry is in the log.
    let r = registry::TestRegistry::start();
    let image = format!("{}/team/lookup:v1", r.addr);
    let reg = sigil_oci::Registry::new(&Default::default()).unwrap();
    reg.push_image(
        &sigil_oci::ImageRef::parse(&image).unwrap(),
        &[sigil_oci::Layer {
            data: b"layer".to_vec(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        }],
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        sigil_oci::manifest::OCI_CONFIG,
    )
    .unwrap();
    ok(sigil(d).args(["sign", "--key", "k.key", &image]));
    let image_verify = |extra: &[&str]| {
        let mut c = sigil(d);
        c.args([
            "verify",
            "--key",
            "k.pub",
            "--trusted-root",
            "root.json",
            "--rekor-url",
            url,
        ])
        .args(extra)
        .arg(&image);
        c
    };
    let err = fails(&mut image_verify(&[]), 12, "no transparency log entry");
    assert!(err.contains("--private-infrastructure"), "{err}");
    assert_eq!(err.matches("Error:").count(), 1, "printed once: {err}");
    ok(&mut image_verify(&["--private-infrastructure"]));
    // Log the signature as cosign would have (hashedrekord over the payload), then it verifies.
    let out = ok(sigil(d).args(["download", "signature", &image]));
    let sig: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let payload = base64_decode(sig["Payload"].as_str().unwrap());
    let signature = base64_decode(sig["Base64Signature"].as_str().unwrap());
    let pem = std::fs::read(d.join("k.pub")).unwrap();
    let digest = sigil_crypto::Digest::of(sigil_crypto::HashAlgorithm::Sha256, &payload);
    let resp = http()
        .post(format!("{url}/api/v1/log/entries"))
        .json(
            &json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
            "signature": {"content": STANDARD.encode(&signature),
                          "publicKey": {"content": STANDARD.encode(&pem)}},
            "data": {"hash": {"algorithm": "sha256", "value": digest.to_hex()}}}}),
        )
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    ok(&mut image_verify(&[]));
}

/// Reads what a server sends on `s` until it closes or `deadline` passes; `None` if still open.
fn read_until_closed(
    s: &mut std::net::TcpStream,
    deadline: std::time::Duration,
) -> Option<Vec<u8>> {
    use std::io::Read;
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_sub(start.elapsed())?;
        s.set_read_timeout(Some(left.max(std::time::Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(_) if start.elapsed() >= deadline => return None,
            Err(_) => {}
        }
    }
}

/// The log under hostile connections: a declared oversized body is refused from its headers
/// (no `100 Continue`), connections that trickle headers or sit idle are closed after the header
/// timeout, a flood beyond `--max-connections` is closed at once, and a well-behaved client is
/// answered throughout.
#[test]
fn slow_and_flooding_clients_cannot_starve_the_log() {
    use std::io::Write;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = LogServer::start(
        BIN,
        &d.join("log"),
        &[
            "--header-timeout",
            "2",
            "--body-timeout",
            "2",
            "--max-connections",
            "600",
        ],
    );
    let addr = log.url.trim_start_matches("http://").to_owned();

    // 100 MB declared: 413 from the headers, no 100 Continue, the connection closed.
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n"
    )
    .unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(10)).expect("closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");

    // A body that never arrives: 408 after the body timeout.
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{"
    )
    .unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(15)).expect("closed");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"));

    // 500 connections that send one header line and stop, plus idle ones.
    let mut slow: Vec<TcpStream> = (0..500)
        .map(|i| {
            let mut s = TcpStream::connect(&addr).unwrap();
            if i % 2 == 0 {
                s.write_all(b"GET /api/v1/log HTTP/1.1\r\n").unwrap();
            }
            s
        })
        .collect();
    // A well-behaved client is answered while they hang.
    let start = Instant::now();
    for _ in 0..20 {
        let v = log_info(&log.url);
        assert!(v["treeSize"].is_number());
    }
    assert!(start.elapsed() < Duration::from_secs(20));
    // Beyond --max-connections (600 open), a new connection is closed at once.
    let mut extra: Vec<TcpStream> = (0..120)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut closed_at_once = 0;
    for s in &mut extra {
        if read_until_closed(s, Duration::from_millis(500)).is_some() {
            closed_at_once += 1;
        }
    }
    assert!(
        closed_at_once >= 20,
        "only {closed_at_once} of 120 over the limit were closed"
    );
    // After the header timeout every slow and idle connection is gone...
    let mut still_open = 0;
    for s in &mut slow {
        if read_until_closed(s, Duration::from_secs(6)).is_none() {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "slow connections outlived the header timeout"
    );
    drop(extra);
    // ...and the log serves again.
    assert!(log_info(&log.url)["treeSize"].is_number());
}

/// With a password in the environment at the first start, the generated log key is stored as a
/// cosign encrypted key file, and the next start reads it with that password; without one it is
/// refused with the wrong one.
#[test]
fn the_generated_log_key_is_encrypted_when_a_password_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let ready = dir.path().join("ready");
    let start = |password: &str| {
        let _ = std::fs::remove_file(&ready);
        let mut child = Command::new(BIN)
            .args(["log", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--ready-file")
            .arg(&ready)
            .env("COSIGN_PASSWORD", password)
            .env_remove("SIGIL_PASSWORD")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        let up = loop {
            if std::fs::read_to_string(&ready).is_ok_and(|s| s.ends_with('\n')) {
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            assert!(t.elapsed() < std::time::Duration::from_secs(30));
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let _ = child.kill();
        let _ = child.wait();
        up
    };
    assert!(start("log-password"));
    let pem = std::fs::read_to_string(data.join("log-signing-key.pem")).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{pem}"
    );
    assert!(start("log-password"));
    assert!(!start("wrong-password"), "started with the wrong password");
}

/// What `log serve` says when it starts: the URL it listens on (labelled, and the one the ready
/// file holds), the origin, the store, the size and the log ID; and, for a key it generated
/// without a password, that the key is not encrypted, at the first start and every later one.
#[test]
fn log_serve_says_where_it_listens_and_what_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let start = |n: u32| {
        let ready = d.join(format!("ready{n}"));
        let err = std::fs::File::create(d.join(format!("err{n}"))).unwrap();
        let mut child = Command::new(BIN)
            .args([
                "log",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--origin",
                "log.banner.test",
            ])
            .arg("--data")
            .arg(d.join("data"))
            .arg("--ready-file")
            .arg(&ready)
            .env_remove("COSIGN_PASSWORD")
            .env_remove("SIGIL_PASSWORD")
            .stderr(err)
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        let url = loop {
            if let Ok(s) = std::fs::read_to_string(&ready)
                && s.ends_with('\n')
            {
                break s.trim().to_owned();
            }
            assert!(t.elapsed() < std::time::Duration::from_secs(30), "no start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let _ = child.kill();
        let _ = child.wait();
        (
            url,
            std::fs::read_to_string(d.join(format!("err{n}"))).unwrap(),
        )
    };
    let (url, err) = start(1);
    let banner = err
        .lines()
        .find(|l| l.starts_with("sigil log: listening on "))
        .unwrap_or_else(|| panic!("no banner in {err}"));
    let data = d.join("data");
    let want = format!(
        "sigil log: listening on {url}, origin \"log.banner.test\", embedded store in {}, 0 entries, log ID ",
        data.display()
    );
    assert!(banner.starts_with(&want), "{banner}\nwanted {want}");
    let id = &banner[want.len()..];
    assert_eq!(id.len(), 64, "{banner}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{banner}");
    assert!(
        err.contains("generated the log signing key") && err.contains("(not encrypted, mode 0600"),
        "{err}"
    );
    let (_, again) = start(2);
    assert!(again.contains("is not encrypted (mode 0600)"), "{again}");
    assert!(
        again.contains(&format!("log ID {id}")),
        "the same log: {again}"
    );
}

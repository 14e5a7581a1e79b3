//! The log end to end in process: admission, batching, restart, and its proofs checked by an
//! implementation that is not ours (sigstore-rust's `sigstore-merkle`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, SigningKey};
use sigil_server::log::entries::admit;
use sigil_server::log::{Appended, Log, LogConfig};
use sigil_store::log::{Batch, Embedded, Head, IndexOptions, LogStore, StoreError};
use sigil_tlog::checkpoint::{Checkpoint, NoteVerifier};
use sigstore_types::Sha256Hash;

fn proposal(key: &SigningKey, data: &[u8]) -> Vec<u8> {
    let digest = Digest::of(HashAlgorithm::Sha256, data);
    json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "signature": {"content": STANDARD.encode(key.sign(data).unwrap()),
                      "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())}},
        "data": {"hash": {"algorithm": "sha256", "value": digest.to_hex()}}}})
    .to_string()
    .into_bytes()
}

#[path = "../../../tests/support/postgres.rs"]
mod postgres;

fn open_on(store: Arc<dyn LogStore>, key: &SigningKey) -> Arc<Log> {
    Log::open(
        store,
        LogConfig {
            origin: "log.test".into(),
            key: SigningKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap(),
            batch_max_size: 64,
            batch_max_age: Duration::from_millis(5),
        },
    )
    .unwrap()
}

fn h(hex: &str) -> Sha256Hash {
    Sha256Hash::new(
        sigil_crypto::hash::hex_decode(hex)
            .unwrap()
            .try_into()
            .unwrap(),
    )
}

fn raw(x: &[u8; 32]) -> Sha256Hash {
    Sha256Hash::new(*x)
}

#[test]
fn embedded_proofs_verify_with_sigstore_rust_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    proofs_and_restart(&move || Arc::new(Embedded::open(&path).unwrap()));
}

#[test]
fn embedded_proofs_and_searches_with_small_index_runs() {
    // Index runs of 40 entries: flushes and background merges under concurrent appends, then
    // a restart on runs and journal.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    proofs_and_restart(&move || {
        Arc::new(
            Embedded::open_with(
                &path,
                IndexOptions {
                    flush_entries: 40,
                    background: true,
                },
            )
            .unwrap(),
        )
    });
}

#[test]
fn postgres_proofs_verify_with_sigstore_rust_and_survive_a_restart() {
    let pg = postgres::TestPostgres::start();
    let url = pg.url.clone();
    proofs_and_restart(&move || {
        Arc::new(sigil_store::postgres::Postgres::connect(&url, 2).unwrap())
    });
}

#[test]
fn postgres_store_keeps_the_contract() {
    let pg = postgres::TestPostgres::start();
    storage_contract(&sigil_store::postgres::Postgres::connect(&pg.url, 2).unwrap());
}

fn proofs_and_restart(store: &dyn Fn() -> Arc<dyn LogStore>) {
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let log_key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = open_on(store(), &log_key);
    let n = 700u64;
    let results: Vec<Appended> = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..n {
            let log = log.clone();
            let p = proposal(&signer, format!("artefact {i}").as_bytes());
            tasks.push(tokio::spawn(async move {
                log.append(admit(&p).unwrap()).await.unwrap()
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let mut indexes: Vec<u64> = results
        .iter()
        .map(|a| match a {
            Appended::New(i) => *i,
            Appended::Duplicate(_) => panic!("no duplicates were sent"),
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, (0..n).collect::<Vec<_>>());
    let head = log.head();
    assert_eq!(head.size, n);
    let verifier = NoteVerifier::new("log.test", log_key.public_key().clone());
    for i in [0, 1, 255, 256, 511, 699] {
        let (uuid, e) = log.entry_json(i).unwrap().unwrap();
        let body = STANDARD.decode(e["body"].as_str().unwrap()).unwrap();
        let leaf = sigil_tlog::merkle::leaf_hash(&body);
        assert_eq!(uuid, sigil_crypto::hash::hex_lower(&leaf));
        let p = &e["verification"]["inclusionProof"];
        let hashes: Vec<Sha256Hash> = p["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| h(x.as_str().unwrap()))
            .collect();
        sigstore_merkle::verify_inclusion_proof(
            &raw(&leaf),
            i,
            n,
            &hashes,
            &h(p["rootHash"].as_str().unwrap()),
        )
        .unwrap_or_else(|e| panic!("sigstore-merkle refused inclusion of {i}: {e}"));
        let cp = Checkpoint::verify_envelope(
            p["checkpoint"].as_str().unwrap(),
            std::slice::from_ref(&verifier),
        )
        .unwrap();
        assert_eq!((cp.size, cp.root_hash), (n, head.root));
        // The SET: the log key over RFC 8785 JSON of body, integratedTime, logID, logIndex.
        let set = STANDARD
            .decode(e["verification"]["signedEntryTimestamp"].as_str().unwrap())
            .unwrap();
        let payload = json!({"body": e["body"], "integratedTime": e["integratedTime"], "logID": e["logID"], "logIndex": e["logIndex"]});
        let canonical = sigil_formats::jcs::canonicalize(&payload).unwrap();
        log_key
            .public_key()
            .verify_message(canonical.as_bytes(), &set)
            .unwrap();
    }
    // Consistency between earlier sizes and now, checked by sigstore-merkle.
    let mut roots = Vec::new();
    for m in [1u64, 2, 255, 256, 257, 500, n] {
        let (root, _) = log.consistency(m, m).unwrap();
        roots.push((m, root));
    }
    for &(m, old_root) in &roots {
        let (new_root, proof) = log.consistency(m, n).unwrap();
        assert_eq!(new_root, head.root);
        let proof: Vec<Sha256Hash> = proof.iter().map(raw).collect();
        sigstore_merkle::verify_consistency_proof(m, n, &proof, &raw(&old_root), &raw(&new_root))
            .unwrap_or_else(|e| panic!("sigstore-merkle refused consistency {m}->{n}: {e}"));
    }
    // The same proposal again (same signature bytes) is a duplicate, answered with its index;
    // ECDSA signatures differ on each signing, so a re-signature is a new entry, as in Rekor.
    let p = proposal(&signer, b"duplicate me");
    let first = rt.block_on(log.append(admit(&p).unwrap())).unwrap();
    let again = rt.block_on(log.append(admit(&p).unwrap())).unwrap();
    assert_eq!(first, Appended::New(n));
    assert_eq!(again, Appended::Duplicate(n));
    let n = n + 1;
    let head = log.head();
    // Search by artefact hash and by key.
    let hash_key = format!(
        "hash:sha256:{}",
        Digest::of(HashAlgorithm::Sha256, b"artefact 5").to_hex()
    );
    assert_eq!(log.search(&hash_key, 10).unwrap().len(), 1);
    let by_key = log
        .search(
            &sigil_server::log::entries::key_search_key(signer.public_key()),
            10_000,
        )
        .unwrap();
    assert_eq!(by_key.len() as u64, n);

    // Restart: the same head, then growth consistent with it.
    log.shutdown();
    drop(log);
    let log = open_on(store(), &log_key);
    assert_eq!(log.head(), head);
    // The indexes came back: the duplicate is still known, searches still complete.
    let again = rt.block_on(log.append(admit(&p).unwrap())).unwrap();
    assert_eq!(again, Appended::Duplicate(n - 1));
    assert_eq!(
        log.search(
            &sigil_server::log::entries::key_search_key(signer.public_key()),
            10_000
        )
        .unwrap(),
        by_key
    );
    let grown = rt
        .block_on(log.append(admit(&proposal(&signer, b"after restart")).unwrap()))
        .unwrap();
    assert_eq!(grown, Appended::New(n));
    let (new_root, proof) = log.consistency(n, n + 1).unwrap();
    let proof: Vec<Sha256Hash> = proof.iter().map(raw).collect();
    sigstore_merkle::verify_consistency_proof(n, n + 1, &proof, &raw(&head.root), &raw(&new_root))
        .unwrap();
    // Tiles: the full first level-0 tile is 256 hashes; the entry bundle holds 256 bodies.
    assert_eq!(log.tile(0, 0).unwrap().len(), 256);
    assert_eq!(log.tile(0, 2).unwrap().len(), (n + 1 - 512) as usize);
    assert_eq!(log.tile(1, 0).unwrap().len(), 2);
    assert_eq!(log.bodies(0, 256).unwrap().len(), 256);
    log.shutdown();
}

/// The storage contract every backend must keep.
pub fn storage_contract(store: &dyn LogStore) {
    assert_eq!(store.size().unwrap(), 0);
    assert_eq!(store.head().unwrap(), None);
    // The leaf hash of the body: a store may derive its partial level-0 tile from the bodies.
    let leaf = sigil_tlog::merkle::leaf_hash(b"{}");
    let batch = Batch {
        first: 0,
        entries: vec![sigil_store::log::NewEntry {
            body: b"{}".to_vec(),
            leaf,
            integrated_time: 7,
            keys: vec![[9u8; 32]],
        }],
        tiles: vec![(0, 0, vec![leaf])],
        head: Head {
            size: 1,
            root: leaf,
            checkpoint: "x\n".into(),
        },
    };
    // A head that is not the batch's tree is refused.
    let mut wrong = batch.clone();
    wrong.head.size = 2;
    assert!(matches!(
        store.append(&wrong),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.size().unwrap(), 0);
    store.append(&batch).unwrap();
    assert_eq!(store.head().unwrap(), Some(batch.head.clone()));
    assert_eq!(store.size().unwrap(), 1);
    // A batch that does not continue the tree is refused; so is a head for another size.
    assert!(matches!(
        store.append(&batch),
        Err(StoreError::Conflict {
            batch: 0,
            stored: 1
        })
    ));
    let head = Head {
        size: 2,
        root: leaf,
        checkpoint: "x\n".into(),
    };
    assert!(matches!(
        store.publish(&head),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.find_leaf(&leaf).unwrap(), Some(0));
    assert_eq!(store.find_leaf(&[2u8; 32]).unwrap(), None);
    assert_eq!(store.search(&[9u8; 32], 10).unwrap(), vec![0]);
    assert_eq!(store.tile(0, 0).unwrap(), vec![leaf]);
    assert!(store.tile(0, 1).unwrap().is_empty());
    let e = store.entries(0, 5).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].integrated_time, e[0].body.as_slice()),
        (7, &b"{}"[..])
    );
}

#[test]
fn embedded_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract(&Embedded::open(dir.path()).unwrap());
}

#[test]
fn bad_entries_are_refused_with_their_reason() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let mut v: Value = serde_json::from_slice(&proposal(&key, b"x")).unwrap();
    v["spec"]["data"]["hash"]["value"] = json!(Digest::of(HashAlgorithm::Sha256, b"y").to_hex());
    let e = admit(v.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the signature does not verify against the declared key or certificate"
    );
}

/// A CA (self-signed) and a server certificate for `localhost` under it, made by openssl.
fn test_pki(dir: &std::path::Path, name: &str) -> (Vec<u8>, Vec<u8>, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let o = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let (ca_key, ca_crt) = (format!("{name}-ca.key"), format!("{name}-ca.crt"));
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            &ca_key,
            "-out",
            &ca_crt,
            "-subj",
            &format!("/CN={name} CA"),
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    (
        std::fs::read(dir.join("server.crt")).unwrap(),
        std::fs::read(dir.join("server.key")).unwrap(),
        dir.join(ca_crt),
    )
}

/// `sslmode` in the connection string means what it means to libpq, against a real PostgreSQL
/// that accepts only TLS (`hostssl`) with a certificate from a self-signed CA.
#[test]
fn postgres_over_tls_honours_sslmode() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key, ca) = test_pki(tmp.path(), "db");
    let other = tempfile::tempdir().unwrap();
    let (_, _, other_ca) = test_pki(other.path(), "other");
    let pg = postgres::TestPostgres::start_tls(&cert, &key);
    let by_ip = pg.url.clone();
    let by_name = by_ip.replace("127.0.0.1", "localhost");
    let connect = |url: String| sigil_store::postgres::Postgres::connect(&url, 1);
    let fails = |url: String, want: &str| match connect(url.clone()) {
        Ok(_) => panic!("{url} connected"),
        Err(e) => assert!(e.to_string().contains(want), "{url}: {e}"),
    };
    // Encrypted, the certificate unchecked (libpq's require, and the default prefer).
    storage_contract(&connect(format!("{by_ip}?sslmode=require")).unwrap());
    connect(by_ip.clone()).unwrap();
    // The server refuses plain text: disable is really plain text.
    fails(
        format!("{by_ip}?sslmode=disable"),
        "rejects connection for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption",
    );
    // verify-ca: the chain, not the name.
    let ca = ca.display();
    connect(format!("{by_ip}?sslmode=verify-ca&sslrootcert={ca}")).unwrap();
    // verify-full: the chain and the name.
    connect(format!("{by_name}?sslmode=verify-full&sslrootcert={ca}")).unwrap();
    fails(
        format!("{by_ip}?sslmode=verify-full&sslrootcert={ca}"),
        "certificate not valid for name",
    );
    let other_ca = other_ca.display();
    fails(
        format!("{by_name}?sslmode=verify-full&sslrootcert={other_ca}"),
        "UnknownIssuer",
    );
    fails(
        format!("{by_name}?sslmode=require&sslrootcert={other_ca}"),
        "UnknownIssuer",
    );
    fails(
        format!("{by_name}?sslmode=verify-full&sslrootcert=/nonexistent.pem"),
        "sslrootcert /nonexistent.pem: No such file",
    );
    fails(
        format!("{by_name}?sslmode=on"),
        "sslmode=\"on\" is not one of",
    );
}

//! The client against Sigil's real log (in process, on a loopback port) and against a hostile
//! log that answers with crafted documents: every answer that does not hold up gets its own
//! error, and nothing missing becomes zero.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_crypto::{Digest, HashAlgorithm, KeyAlgorithm, SigningKey};
use sigil_rekor::entry::{ParseError, hashedrekord};
use sigil_rekor::verify::{ConsistencyError, EntryError, LogKey, verify_entry};
use sigil_rekor::{Client, RekorError};

#[path = "../../../tests/support/inproc_log.rs"]
mod inproc_log;

fn real_log() -> inproc_log::InprocLog {
    inproc_log::InprocLog::start()
}

fn proposal(signer: &SigningKey, data: &[u8]) -> Value {
    let digest = Digest::of(HashAlgorithm::Sha256, data);
    hashedrekord(&signer.sign(data).unwrap(), signer.public_key(), &digest)
}

#[test]
fn uploads_gets_and_proofs_against_the_real_log() {
    let log = real_log();
    let c = Client::new(&log.url).unwrap();
    let key = LogKey::new(c.public_key().unwrap());
    assert_eq!(key.key().spki_der(), log.key.public_key().spki_der());
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();

    let one = proposal(&signer, b"one");
    let (first, v) = c.upload_verified(&one, &key).unwrap();
    assert_eq!(
        (first.log_index, v.tree_size, v.origin.as_str()),
        (0, 1, "log.test")
    );
    let (second, _) = c.upload_verified(&proposal(&signer, b"two"), &key).unwrap();
    assert_eq!(second.log_index, 1);
    // A duplicate: 409, followed to the existing entry.
    let (again, _) = c.upload_verified(&one, &key).unwrap();
    assert_eq!(
        (again.log_index, again.uuid.as_str()),
        (0, first.uuid.as_str())
    );

    let by_index = c.entry_by_index(1).unwrap();
    assert_eq!(by_index.uuid, second.uuid);
    verify_entry(&by_index, &key).unwrap();
    let by_uuid = c.entry_by_uuid(&first.uuid).unwrap();
    assert_eq!(by_uuid.log_index, 0);
    assert!(matches!(
        c.entry_by_uuid("not-a-uuid"),
        Err(RekorError::WrongEntry { .. })
    ));
    assert!(matches!(
        c.entry_by_index(99),
        Err(RekorError::Status { status: 404, .. })
    ));

    // The entries found by digest and key.
    let found = c
        .find_entries(
            &Digest::of(HashAlgorithm::Sha256, b"two"),
            signer.public_key(),
        )
        .unwrap();
    assert_eq!(
        found.iter().map(|e| e.log_index).collect::<Vec<_>>(),
        vec![1]
    );

    // Another log's key: every entry names the wrong log.
    let other = LogKey::new(
        SigningKey::generate(KeyAlgorithm::EcdsaP256)
            .unwrap()
            .public_key()
            .clone(),
    );
    assert!(matches!(
        verify_entry(&by_index, &other),
        Err(EntryError::WrongLog { .. })
    ));
    assert!(matches!(
        c.upload_verified(&proposal(&signer, b"three"), &other),
        Err(RekorError::Entry(EntryError::WrongLog { .. }))
    ));

    // Consistency: from a checkpoint seen at size 1 to now.
    let (now, _) = c.checkpoint(&key).unwrap();
    assert_eq!(now.size, 3);
    let old = key
        .checkpoint(first.proof.as_ref().unwrap().checkpoint.as_deref().unwrap())
        .unwrap();
    c.prove_consistency(&old, &now).unwrap();
    assert!(matches!(
        c.prove_consistency(&now, &old),
        Err(RekorError::Consistency(ConsistencyError::Rollback {
            seen: 3,
            now: 1
        }))
    ));
    let (last, r1, r3) = c.prove_sizes(&key, 1, None).unwrap();
    assert_eq!((last, r1, r3), (3, old.root_hash, now.root_hash));
    assert!(matches!(
        c.prove_sizes(&key, 2, Some(9)),
        Err(RekorError::Sizes { tree_size: 3, .. })
    ));
}

/// A log that answers every request with the next canned `(status, headers, body)`.
/// One canned answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

fn hostile(answers: Vec<Answer>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (status, headers, body) in answers {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut sink = vec![0u8; len];
            let _ = r.read_exact(&mut sink);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    url
}

/// An entry of a log with `key`, correct in every part, as `{uuid: entry}`.
fn good_answer(key: &SigningKey, index: u64) -> Value {
    let body = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#;
    let body_b64 = STANDARD.encode(body);
    let leaf = sigil_tlog::merkle::leaf_hash(body);
    let log_id = sigil_crypto::hash::hex_lower(LogKey::new(key.public_key().clone()).log_id());
    let set = key
        .sign_message(
            sigil_tlog::set::payload(&body_b64, 1_700_000_000, &log_id, index)
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
    // The entry is the last of a tree of `index + 1` copies of it.
    let size = index + 1;
    let leaves: Vec<_> = (0..size).map(|_| leaf).collect();
    let root = sigil_tlog::merkle::root(&leaves);
    let proof = sigil_tlog::merkle::inclusion_proof(&leaves, index as usize);
    let text = format!("log.test\n{size}\n{}\n", STANDARD.encode(root));
    let checkpoint = sigil_tlog::checkpoint::sign_note(&text, "log.test", key).unwrap();
    json!({ sigil_crypto::hash::hex_lower(&leaf): {
        "body": body_b64, "integratedTime": 1_700_000_000, "logID": log_id, "logIndex": index,
        "verification": {"signedEntryTimestamp": STANDARD.encode(set),
            "inclusionProof": {"logIndex": index, "treeSize": size,
                "rootHash": sigil_crypto::hash::hex_lower(&root),
                "hashes": proof.iter().map(|h| sigil_crypto::hash::hex_lower(h)).collect::<Vec<_>>(),
                "checkpoint": checkpoint}}}})
}

fn json_answer(v: &Value) -> Answer {
    (
        200,
        vec![("content-type", "application/json".into())],
        v.to_string().into_bytes(),
    )
}

fn created(v: &Value) -> Answer {
    (
        201,
        vec![("content-type", "application/json".into())],
        v.to_string().into_bytes(),
    )
}

fn key_answer(key: &SigningKey) -> Answer {
    (200, vec![], key.public_key().to_pem().into_bytes())
}

fn edit(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    let e = v.as_object_mut().unwrap().values_mut().next().unwrap();
    f(e);
    v
}

#[test]
fn a_hostile_log_gets_a_specific_error_for_each_lie() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let lk = LogKey::new(key.public_key().clone());
    let signer = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let p = proposal(&signer, b"x");

    // The honest answer verifies (the fixture is right).
    let c = Client::new(&hostile(vec![created(&good_answer(&key, 2))])).unwrap();
    c.upload_verified(&p, &lk).unwrap();

    // Asked for index 3, answered with index 2.
    let c = Client::new(&hostile(vec![json_answer(&good_answer(&key, 2))])).unwrap();
    match c.entry_by_index(3) {
        Err(RekorError::WrongEntry { asked, got, .. }) => {
            assert_eq!((asked.as_str(), got.as_str()), ("index 3", "index 2"))
        }
        other => panic!("{other:?}"),
    }
    // Asked for one UUID, answered with another entry.
    let c = Client::new(&hostile(vec![json_answer(&good_answer(&key, 0))])).unwrap();
    assert!(matches!(
        c.entry_by_uuid(&"ab".repeat(32)),
        Err(RekorError::WrongEntry { .. })
    ));

    type Case = (Value, fn(&RekorError) -> bool);
    let cases: Vec<Case> = vec![
        (
            edit(good_answer(&key, 2), |e| {
                e["verification"]
                    .as_object_mut()
                    .unwrap()
                    .remove("signedEntryTimestamp");
            }),
            |e| matches!(e, RekorError::Entry(EntryError::NoSet)),
        ),
        (
            edit(good_answer(&key, 2), |e| {
                e["integratedTime"] = json!(1_700_000_001)
            }),
            |e| {
                matches!(
                    e,
                    RekorError::Entry(EntryError::Set(sigil_tlog::set::SetError::Invalid))
                )
            },
        ),
        (
            edit(good_answer(&key, 2), |e| {
                e["verification"]
                    .as_object_mut()
                    .unwrap()
                    .remove("inclusionProof");
            }),
            |e| matches!(e, RekorError::Entry(EntryError::NoProof)),
        ),
        (
            edit(good_answer(&key, 2), |e| {
                e["verification"]["inclusionProof"]
                    .as_object_mut()
                    .unwrap()
                    .remove("checkpoint");
            }),
            |e| matches!(e, RekorError::Entry(EntryError::NoCheckpoint)),
        ),
        (
            edit(good_answer(&key, 2), |e| {
                e["verification"]["inclusionProof"]["hashes"] = json!([])
            }),
            |e| matches!(e, RekorError::Entry(EntryError::Inclusion(_))),
        ),
        (
            edit(good_answer(&key, 2), |e| {
                e["verification"]["inclusionProof"]["logIndex"] = json!(1)
            }),
            |e| {
                matches!(
                    e,
                    RekorError::Entry(EntryError::ProofIndex { entry: 2, proof: 1 })
                )
            },
        ),
        (
            edit(good_answer(&key, 2), |e| {
                e.as_object_mut().unwrap().remove("integratedTime");
            }),
            |e| {
                matches!(
                    e,
                    RekorError::Answer {
                        source: ParseError::Missing {
                            field: "integratedTime",
                            ..
                        },
                        ..
                    }
                )
            },
        ),
        (
            edit(good_answer(&key, 2), |e| e["logIndex"] = json!("2")),
            |e| {
                matches!(
                    e,
                    RekorError::Answer {
                        source: ParseError::Missing {
                            field: "logIndex",
                            ..
                        },
                        ..
                    }
                )
            },
        ),
    ];
    for (answer, want) in cases {
        let c = Client::new(&hostile(vec![created(&answer)])).unwrap();
        let err = c.upload_verified(&p, &lk).unwrap_err();
        assert!(want(&err), "{answer}: {err:?}");
    }
    // The UUID is not the body's leaf hash.
    let forged = good_answer(&key, 2);
    let e = forged.as_object().unwrap().values().next().unwrap().clone();
    let forged_uuid = json!({ "cd".repeat(32): e });
    let c = Client::new(&hostile(vec![created(&forged_uuid)])).unwrap();
    assert!(matches!(
        c.upload_verified(&p, &lk),
        Err(RekorError::Entry(EntryError::UuidNotLeaf { .. }))
    ));

    // Transport-level lies.
    let c = Client::new(&hostile(vec![(409, vec![], b"{}".to_vec())])).unwrap();
    assert!(matches!(
        c.upload(&p),
        Err(RekorError::ConflictWithoutLocation { .. })
    ));
    let c = Client::new(&hostile(vec![(201, vec![], b"<html>".to_vec())])).unwrap();
    assert!(matches!(
        c.upload(&p),
        Err(RekorError::Answer {
            source: ParseError::NotJson,
            ..
        })
    ));
    let c = Client::new(&hostile(vec![(
        400,
        vec![],
        br#"{"message":"no"}"#.to_vec(),
    )]))
    .unwrap();
    match c.upload(&p) {
        Err(RekorError::Refused {
            status: 400,
            message,
        }) => assert_eq!(message, "no"),
        other => panic!("{other:?}"),
    }
    let huge = vec![b' '; (sigil_rekor::client::MAX_RESPONSE + 10) as usize];
    let c = Client::new(&hostile(vec![(200, vec![], huge)])).unwrap();
    assert!(matches!(c.info(), Err(RekorError::TooLarge { .. })));
    let c = Client::new(&hostile(vec![
        key_answer(&key),
        (200, vec![], b"-----BEGIN".to_vec()),
    ]))
    .unwrap();
    c.public_key().unwrap();
    assert!(matches!(c.public_key(), Err(RekorError::Key { .. })));
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    assert!(matches!(
        Client::new(&url).unwrap().info(),
        Err(RekorError::Unreachable { .. })
    ));

    // A split view: the log's current tree at the size already seen has another root.
    let seen = good_answer(&key, 2);
    let cp_seen = seen.as_object().unwrap().values().next().unwrap()["verification"]["inclusionProof"]["checkpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_root = [7u8; 32];
    let other = sigil_tlog::checkpoint::sign_note(
        &format!("log.test\n3\n{}\n", STANDARD.encode(other_root)),
        "log.test",
        &key,
    )
    .unwrap();
    let c = Client::new(&hostile(vec![json_answer(
        &json!({"treeSize": 3, "signedTreeHead": other}),
    )]))
    .unwrap();
    let (now, _) = c.checkpoint(&lk).unwrap();
    let old = lk.checkpoint(&cp_seen).unwrap();
    assert!(matches!(
        c.prove_consistency(&old, &now),
        Err(RekorError::Consistency(ConsistencyError::SplitView {
            size: 3
        }))
    ));
}

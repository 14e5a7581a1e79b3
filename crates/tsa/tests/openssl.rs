//! The authority's replies are checked by a verifier nobody here wrote (`openssl ts -verify`),
//! for requests openssl made and requests Sigil made, and by Sigil's own timestamp verifier;
//! hostile requests get their specific errors.

use std::path::Path;
use std::process::Command;

use sigil_crypto::{HashAlgorithm, KeyAlgorithm, SigningKey};
use sigil_pki::issue::{self, Extension, Issuer, Template, attr, key_usage, name};
use sigil_tsa::{Authority, Request, RequestError};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A root and a timestamping certificate below it: (authority, root DER).
fn authority(alg: KeyAlgorithm) -> (Authority, Vec<u8>) {
    let t = now();
    let root_key = SigningKey::generate(alg).unwrap();
    let root_name = name(&[
        (attr::ORGANIZATION, "sigil-test"),
        (attr::COMMON_NAME, "tsa root"),
    ]);
    let root = issue::self_signed_ca(&root_key, &root_name, t - 3600, 30, Some(0)).unwrap();
    let key = SigningKey::generate(alg).unwrap();
    let cert = issue::issue(
        &Template {
            serial: issue::random_serial(),
            subject: name(&[
                (attr::ORGANIZATION, "sigil-test"),
                (attr::COMMON_NAME, "tsa"),
            ]),
            not_before: t - 3600,
            not_after: t + 86_400,
            public_key: key.public_key().clone(),
            extensions: vec![
                Extension::key_usage(key_usage::DIGITAL_SIGNATURE),
                Extension::extended_key_usage(&[issue::EKU_TIME_STAMPING], true),
                Extension::subject_key_id(&issue::key_id(key.public_key())),
                Extension::authority_key_id(&issue::key_id(root_key.public_key())),
            ],
        },
        &Issuer {
            name: &root_name,
            key: &root_key,
        },
    )
    .unwrap();
    (Authority::new(key, cert, vec![root.clone()]).unwrap(), root)
}

fn pem(der: &[u8]) -> String {
    sigil_crypto::pem::encode("CERTIFICATE", der)
}

fn openssl(d: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(d)
        .output()
        .expect("openssl")
}

#[test]
fn openssl_accepts_the_replies() {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Rsa { bits: 2048 },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (tsa, root) = authority(alg);
        std::fs::write(d.join("root.pem"), pem(&root)).unwrap();
        std::fs::write(d.join("tsa.pem"), pem(tsa.certificate())).unwrap();
        std::fs::write(d.join("data"), b"a signature to timestamp").unwrap();
        // A query openssl made (SHA-384, with a nonce and certReq).
        let o = openssl(
            d,
            &[
                "ts", "-query", "-data", "data", "-sha384", "-cert", "-out", "q.tsq",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let req = Request::parse_der(&std::fs::read(d.join("q.tsq")).unwrap()).unwrap();
        assert_eq!(req.hash, HashAlgorithm::Sha384);
        assert!(req.cert_req && req.nonce.is_some());
        std::fs::write(d.join("r.tsr"), tsa.reply(&req, now()).unwrap()).unwrap();
        let o = openssl(
            d,
            &[
                "ts",
                "-verify",
                "-in",
                "r.tsr",
                "-queryfile",
                "q.tsq",
                "-CAfile",
                "root.pem",
            ],
        );
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Verification: OK"),
            "{alg:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // A query Sigil made, without certReq: the certificate comes from -untrusted.
        let req = Request::for_data(
            HashAlgorithm::Sha256,
            b"a signature to timestamp",
            Some(7),
            false,
        );
        std::fs::write(d.join("r2.tsr"), tsa.reply(&req, now()).unwrap()).unwrap();
        let o = openssl(
            d,
            &[
                "ts",
                "-verify",
                "-in",
                "r2.tsr",
                "-data",
                "data",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "tsa.pem",
            ],
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Verification: OK"),
            "{alg:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // Other data: openssl refuses.
        std::fs::write(d.join("other"), b"something else").unwrap();
        let o = openssl(
            d,
            &[
                "ts", "-verify", "-in", "r.tsr", "-data", "other", "-CAfile", "root.pem",
            ],
        );
        assert!(!o.status.success());
    }
}

#[test]
fn sigils_verifier_accepts_the_replies_and_the_nonce_is_echoed() {
    let (tsa, root) = authority(KeyAlgorithm::EcdsaP256);
    let data = b"signature bytes";
    let req = Request::for_data(HashAlgorithm::Sha256, data, Some(0xdead_beef), true);
    let t = now();
    let reply = tsa
        .reply(&Request::parse_der(&req.to_der()).unwrap(), t)
        .unwrap();
    let authority = sigil_formats::trust_root::Authority {
        uri: None,
        chain: vec![tsa.certificate().to_vec(), root],
        validity: sigil_formats::trust_root::Validity {
            start: sigil_formats::time::Timestamp::from_unix(t - 3600),
            end: None,
        },
        operator: None,
    };
    let v =
        sigil_pki::tsa::verify_timestamp(&reply, data, std::slice::from_ref(&authority)).unwrap();
    assert_eq!(v.time.seconds, t);
    assert!(sigil_pki::tsa::verify_timestamp(&reply, b"other", &[authority]).is_err());
    // The nonce is in the reply as the request gave it.
    let nonce = sigil_pki::encode::u64(0xdead_beef);
    assert!(reply.windows(nonce.len()).any(|w| w == nonce.as_slice()));
}

#[test]
fn hostile_requests_get_their_reason() {
    let good = Request::for_data(HashAlgorithm::Sha256, b"x", None, false).to_der();
    assert!(matches!(
        Request::parse_der(b"\x30\x00"),
        Err(RequestError::Malformed(_))
    ));
    assert!(matches!(
        Request::parse_der(&vec![0x30; 20_000]),
        Err(RequestError::TooLarge(20_000))
    ));
    // Version 2.
    let mut v2 = good.clone();
    v2[4] = 2;
    assert_eq!(Request::parse_der(&v2), Err(RequestError::Version(2)));
    // SHA-1.
    let sha1 = sigil_pki::encode::seq(&[
        &sigil_pki::encode::u64(1),
        &sigil_pki::encode::seq(&[
            &sigil_pki::encode::seq(&[&sigil_pki::encode::oid("1.3.14.3.2.26")]),
            &sigil_pki::encode::octets(&[0; 20]),
        ]),
    ]);
    assert_eq!(
        Request::parse_der(&sha1),
        Err(RequestError::Hash("1.3.14.3.2.26".into()))
    );
    // A SHA-256 imprint of 20 bytes.
    let short = sigil_pki::encode::seq(&[
        &sigil_pki::encode::u64(1),
        &sigil_pki::encode::seq(&[
            &sigil_pki::encode::seq(&[&sigil_pki::encode::oid("2.16.840.1.101.3.4.2.1")]),
            &sigil_pki::encode::octets(&[0; 20]),
        ]),
    ]);
    assert!(matches!(
        Request::parse_der(&short),
        Err(RequestError::ImprintLength {
            want: 32,
            got: 20,
            ..
        })
    ));
    // Trailing garbage after the request.
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(Request::parse_der(&trailing).is_err());
    // JSON form.
    let j = Request::parse_json(
        br#"{"artifactHash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","hashAlgorithm":"sha256","nonce":5,"certificates":true}"#,
    )
    .unwrap();
    assert!(j.cert_req && j.nonce == Some(vec![5]));
    assert!(matches!(
        Request::parse_json(br#"{"artifactHash":"AAAA","hashAlgorithm":"md5"}"#),
        Err(RequestError::Hash(_))
    ));
    assert!(matches!(
        Request::parse_json(br#"{"artifactHash":"AAAA","hashAlgorithm":"sha256"}"#),
        Err(RequestError::ImprintLength { .. })
    ));
    // Another policy.
    let (tsa, _) = authority(KeyAlgorithm::EcdsaP256);
    let mut req = Request::for_data(HashAlgorithm::Sha256, b"x", None, false);
    req.policy = Some(sigil_pki::encode::contents(&sigil_pki::encode::oid("1.2.3.4")).to_vec());
    assert!(
        tsa.reply(&req, now())
            .unwrap_err()
            .to_string()
            .contains("1.2.3.4")
    );
}

//! `generate-key-pair`, `import-key-pair`, `public-key` through the real binary, checked with
//! openssl where a peer can check.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

const ALGORITHMS: [&str; 6] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "ecdsa-p521",
    "ed25519",
    "rsa-3072",
    "rsa-4096",
];

#[test]
fn generate_every_algorithm_writes_cosign_files_openssl_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for alg in ALGORITHMS {
        generate(d, alg, alg);
        let key = std::fs::read_to_string(d.join(format!("{alg}.key"))).unwrap();
        assert!(
            key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"),
            "{alg}"
        );
        let mode = std::fs::metadata(d.join(format!("{alg}.key")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{alg}: private key mode");
        // openssl parses the public key and agrees on its type.
        let text = ok(openssl(d).args([
            "pkey",
            "-pubin",
            "-in",
            &format!("{alg}.pub"),
            "-noout",
            "-text",
        ]));
        let expect = match alg {
            "ecdsa-p256" => "P-256",
            "ecdsa-p384" => "P-384",
            "ecdsa-p521" => "P-521",
            "ed25519" => "ED25519",
            "rsa-3072" => "3072 bit",
            _ => "4096 bit",
        };
        assert!(text.contains(expect), "{alg}: {text}");
    }
    // Default: P-256 into cosign.key / cosign.pub.
    ok(sigil(d).arg("generate-key-pair"));
    let text = ok(openssl(d).args(["pkey", "-pubin", "-in", "cosign.pub", "-noout", "-text"]));
    assert!(text.contains("P-256"), "{text}");
}

#[test]
fn never_overwrites_without_force() {
    let dir = with_key();
    let d = dir.path();
    let before = std::fs::read(d.join("k.key")).unwrap();
    fails(
        sigil(d).args(["generate-key-pair", "--output-key-prefix", "k"]),
        3,
        "already exists; pass --force",
    );
    assert_eq!(
        std::fs::read(d.join("k.key")).unwrap(),
        before,
        "key unchanged"
    );
    // Only the .pub exists: still refused, and no .key appears.
    std::fs::remove_file(d.join("k.key")).unwrap();
    fails(
        sigil(d).args(["generate-key-pair", "--output-key-prefix", "k"]),
        3,
        "k.pub already exists",
    );
    assert!(!d.join("k.key").exists());
    ok(sigil(d).args(["generate-key-pair", "--output-key-prefix", "k", "--force"]));
    assert!(d.join("k.key").exists());
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".sigil-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn passwords_from_either_variable_and_empty_password() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(sigil(d)
        .env_remove("COSIGN_PASSWORD")
        .env("SIGIL_PASSWORD", "other")
        .args(["generate-key-pair", "--output-key-prefix", "s"]));
    std::fs::write(d.join("f"), b"x").unwrap();
    // The wrong password is reported as such.
    fails(
        sigil(d).args(["sign-blob", "--key", "s.key", "f"]),
        3,
        "wrong password",
    );
    ok(sigil(d)
        .env("COSIGN_PASSWORD", "other")
        .args(["sign-blob", "--key", "s.key", "f"]));
    // Empty password, as cosign allows.
    ok(sigil(d)
        .env("COSIGN_PASSWORD", "")
        .args(["generate-key-pair", "--output-key-prefix", "e"]));
    ok(sigil(d)
        .env("COSIGN_PASSWORD", "")
        .args(["sign-blob", "--key", "e.key", "f"]));
    // No password and no terminal: a clear error, not a hang.
    fails(
        sigil(d)
            .env_remove("COSIGN_PASSWORD")
            .args(["sign-blob", "--key", "e.key", "f"]),
        3,
        "set COSIGN_PASSWORD",
    );
}

#[test]
fn cosign_vector_keys_sign_and_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"signed with a key cosign wrote").unwrap();
    for name in ["cosign-legacy-label.key", "sigstore-label.key"] {
        let key = data(&format!("cosign/{name}"));
        let pubkey = ok(sigil(d)
            .env("COSIGN_PASSWORD", "hello")
            .args(["public-key", "--key"])
            .arg(&key));
        std::fs::write(d.join("v.pub"), pubkey).unwrap();
        let sig = ok(sigil(d)
            .env("COSIGN_PASSWORD", "hello")
            .args(["sign-blob", "--key"])
            .arg(&key)
            .arg("f"));
        std::fs::write(d.join("v.der"), base64_decode(sig.trim())).unwrap();
        let out = ok(openssl(d).args([
            "dgst",
            "-sha256",
            "-verify",
            "v.pub",
            "-signature",
            "v.der",
            "f",
        ]));
        assert!(out.contains("Verified OK"), "{name}: {out}");
    }
    fails(
        sigil(d)
            .env("COSIGN_PASSWORD", "hello")
            .args(["sign-blob", "--key"])
            .arg(data("cosign/sec1-inside_fail.key"))
            .arg("f"),
        3,
        "SEC1 EC PRIVATE KEY, but cosign key files must hold PKCS#8",
    );
}

#[test]
fn import_pkcs1_sec1_pkcs8_from_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"imported").unwrap();
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "rsa-pkcs1",
            &["genrsa", "-traditional", "-out", "rsa-pkcs1.pem", "2048"],
            "-sha256",
        ),
        (
            "ec-sec1",
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "ec-sec1.pem",
            ],
            "-sha256",
        ),
        (
            "ec384-pkcs8",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
                "ec384-pkcs8.pem",
            ],
            "-sha384",
        ),
        (
            "rsa-pkcs8",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
                "-out",
                "rsa-pkcs8.pem",
            ],
            "-sha256",
        ),
        (
            "ed-pkcs8",
            &["genpkey", "-algorithm", "ED25519", "-out", "ed-pkcs8.pem"],
            "",
        ),
    ];
    for (name, gen_args, digest) in cases {
        ok(openssl(d).args(gen_args));
        ok(sigil(d).args([
            "import-key-pair",
            "--key",
            &format!("{name}.pem"),
            "--output-key-prefix",
            name,
        ]));
        // Sigil's public key is the one openssl derives from the original.
        let theirs = ok(openssl(d).args(["pkey", "-in", &format!("{name}.pem"), "-pubout"]));
        let ours = std::fs::read_to_string(d.join(format!("{name}.pub"))).unwrap();
        assert_eq!(ours, theirs, "{name}");
        if digest.is_empty() {
            continue; // OpenSSL 3.0 cannot make Ed25519ph signatures; covered by RFC 8032 vectors.
        }
        // openssl signs with the original key; Sigil verifies with the imported public key.
        ok(openssl(d).args([
            "dgst",
            digest,
            "-sign",
            &format!("{name}.pem"),
            "-out",
            "o.der",
            "f",
        ]));
        std::fs::write(
            d.join("o.sig"),
            base64_encode(&std::fs::read(d.join("o.der")).unwrap()),
        )
        .unwrap();
        let o = run(sigil(d).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            &format!("{name}.pub"),
            "--signature",
            "o.sig",
            "f",
        ]));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains("Verified OK"));
    }
}

#[test]
fn import_refusals_follow_cosign_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        (
            "rsa-1024.pem",
            "RSA key of 1024 bits refused: cosign accepts RSA keys of 2048 to 4096 bits",
        ),
        ("rsa-4608.pem", "RSA key of 4608 bits refused"),
        ("p224-sec1.pem", "unsupported elliptic curve P-224"),
        ("secp256k1-sec1.pem", "unsupported elliptic curve secp256k1"),
        (
            "pgp.asc",
            "found \"PGP PRIVATE KEY BLOCK\"; OpenPGP keys are not supported",
        ),
    ];
    for (file, msg) in cases {
        fails(
            sigil(d)
                .args(["import-key-pair", "--key"])
                .arg(data(&format!("import/{file}"))),
            3,
            msg,
        );
    }
    // An already-encrypted cosign key and a public key are refused with advice.
    generate(d, "ecdsa-p256", "c");
    fails(
        sigil(d).args(["import-key-pair", "--key", "c.key"]),
        3,
        "already encrypted",
    );
    fails(
        sigil(d).args(["import-key-pair", "--key", "c.pub"]),
        3,
        "this is a public key",
    );
    // Garbage and truncated PEM.
    std::fs::write(d.join("garbage.pem"), b"\x00\x01\x02 not a key").unwrap();
    fails(
        sigil(d).args(["import-key-pair", "--key", "garbage.pem"]),
        3,
        "no PEM block found",
    );
    let full = std::fs::read_to_string(data("import/rsa-4608.pem")).unwrap();
    std::fs::write(d.join("trunc.pem"), &full[..full.len() / 2]).unwrap();
    fails(
        sigil(d).args(["import-key-pair", "--key", "trunc.pem"]),
        3,
        "no matching -----END",
    );
    assert!(
        !d.join("import-cosign.key").exists(),
        "no output after a refusal"
    );
}

#[test]
fn public_key_from_private_env_and_url() {
    let dir = with_key();
    let d = dir.path();
    let expected = std::fs::read_to_string(d.join("k.pub")).unwrap();
    assert_eq!(
        ok(sigil(d).args(["public-key", "--key", "k.key"])),
        expected
    );
    assert_eq!(
        ok(sigil(d).args(["public-key", "--key", "k.pub"])),
        expected
    );
    ok(sigil(d).args(["public-key", "--key", "k.key", "--outfile", "out.pub"]));
    assert_eq!(
        std::fs::read_to_string(d.join("out.pub")).unwrap(),
        expected
    );

    // env:// holds the private key PEM; it never touches disk.
    let private = std::fs::read_to_string(d.join("k.key")).unwrap();
    std::fs::write(d.join("f"), b"env signed").unwrap();
    let sig = ok(sigil(d).env("SIGIL_TEST_KEY", &private).args([
        "sign-blob",
        "--key",
        "env://SIGIL_TEST_KEY",
        "f",
    ]));
    std::fs::write(d.join("f.sig"), sig).unwrap();
    ok(sigil(d).env("SIGIL_TEST_PUB", &expected).args([
        "verify-blob",
        "--private-infrastructure",
        "--key",
        "env://SIGIL_TEST_PUB",
        "--signature",
        "f.sig",
        "f",
    ]));
    fails(
        sigil(d).args(["public-key", "--key", "env://SIGIL_UNSET_VAR"]),
        3,
        "SIGIL_UNSET_VAR (from --key env://SIGIL_UNSET_VAR) is not set",
    );

    // http:// public key from a one-shot local server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = expected.clone();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(resp.as_bytes()).unwrap();
    });
    ok(sigil(d).args([
        "verify-blob",
        "--private-infrastructure",
        "--key",
        &format!("http://127.0.0.1:{port}/k.pub"),
        "--signature",
        "f.sig",
        "f",
    ]));
    server.join().unwrap();
    // A private key cannot come from a URL.
    fails(
        sigil(d).args(["sign-blob", "--key", "https://127.0.0.1:1/k.key", "f"]),
        3,
        "private keys cannot be loaded from a URL",
    );
    // KMS references are refused clearly.
    fails(
        sigil(d).args(["sign-blob", "--key", "awskms:///alias/x", "f"]),
        3,
        "not supported by Sigil",
    );
}

#[test]
fn key_files_with_unsupported_scrypt_parameters_are_refused_before_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"x").unwrap();
    let salt = base64_encode(&[0u8; 32]);
    let nonce = base64_encode(&[0u8; 24]);
    let ct = base64_encode(&[0u8; 64]);
    for (n, r, p) in [(1024, 8, 1), (65536, 1, 1), (65536, 8, 2), (1 << 20, 8, 1)] {
        let json = format!(
            r#"{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":{r},"p":{p}}},"salt":"{salt}"}},"cipher":{{"name":"nacl/secretbox","nonce":"{nonce}"}},"ciphertext":"{ct}"}}"#
        );
        let b64 = base64_encode(json.as_bytes());
        let mut pem = String::from("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
        std::fs::write(d.join("odd.key"), pem).unwrap();
        // No password in the environment: the refusal comes before any prompt.
        fails(
            sigil(d)
                .env_remove("COSIGN_PASSWORD")
                .args(["sign-blob", "--key", "odd.key", "f"]),
            3,
            &format!("unsupported scrypt parameters N={n}, r={r}, p={p}"),
        );
    }
}

/// With no password variable, the password is asked on the terminal, twice (script(1) provides
/// the pseudo-terminal); the key then opens with what was typed, and a mismatch writes nothing.
#[test]
fn password_is_asked_twice_on_a_terminal() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run_on_tty = |input: &str, prefix: &str| {
        let mut child = std::process::Command::new("script")
            .args([
                "-qec",
                &format!(
                    "{} generate-key-pair --output-key-prefix {prefix}",
                    env!("CARGO_BIN_EXE_sigil")
                ),
                "/dev/null",
            ])
            .current_dir(d)
            .env_remove("COSIGN_PASSWORD")
            .env_remove("SIGIL_PASSWORD")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = run_on_tty("typed-pw\ntyped-pw\n", "t");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Enter password for private key:")
            && out.contains("Enter password for private key again:"),
        "{out}"
    );
    std::fs::write(d.join("f"), b"x").unwrap();
    ok(sigil(d)
        .env("COSIGN_PASSWORD", "typed-pw")
        .args(["sign-blob", "--key", "t.key", "f"]));
    let (code, out) = run_on_tty("one\ntwo\n", "u");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("passwords do not match"), "{out}");
    assert!(!d.join("u.key").exists() && !d.join("u.pub").exists());
}

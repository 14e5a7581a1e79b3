//! Helpers for driving the real `sigil` binary and real peers (openssl, coreutils).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASSWORD: &str = "test-password";

/// `sigil` with a password in the environment and no terminal.
pub fn sigil(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sigil"));
    c.current_dir(dir)
        .env_remove("SIGIL_PASSWORD")
        .env("COSIGN_PASSWORD", PASSWORD)
        .stdin(Stdio::null());
    c
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run command")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "command failed: {:?}\nstdout: {}\nstderr: {}",
        cmd,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Asserts the exit code and that stderr contains `needle`; returns stderr.
#[track_caller]
pub fn fails(cmd: &mut Command, code: i32, needle: &str) -> String {
    let o = run(cmd);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{:?}\nstdout: {}\nstderr: {err}",
        cmd,
        stdout(&o)
    );
    assert!(
        err.contains(needle),
        "stderr of {:?} lacks {needle:?}:\n{err}",
        cmd
    );
    err
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

pub fn generate(dir: &Path, alg: &str, prefix: &str) {
    ok(sigil(dir).args([
        "generate-key-pair",
        "--algorithm",
        alg,
        "--output-key-prefix",
        prefix,
    ]));
}

/// A temporary directory holding a P-256 key pair `k.key` / `k.pub` and a file `f`.
pub fn with_key() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "ecdsa-p256", "k");
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    dir
}

pub fn openssl(dir: &Path) -> Command {
    let mut c = Command::new("openssl");
    c.current_dir(dir);
    c
}

/// The openssl digest flag for a Sigil algorithm name.
pub fn openssl_digest(alg: &str) -> &'static str {
    match alg {
        "ecdsa-p384" => "-sha384",
        "ecdsa-p521" => "-sha512",
        _ => "-sha256",
    }
}

/// Decodes a base64 signature file to DER for openssl.
pub fn b64_to_file(dir: &Path, b64_file: &str, out: &str) {
    let text = std::fs::read_to_string(dir.join(b64_file)).unwrap();
    std::fs::write(dir.join(out), base64_decode(text.trim())).unwrap();
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

pub fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Pushes a one-layer linux/amd64 image `addr/name` to a real registry; its digest.
pub fn push_image(addr: &str, name: &str, content: &[u8]) -> String {
    use sigil_oci::manifest as mf;
    let image = sigil_oci::ImageRef::parse(&format!("{addr}/{name}")).unwrap();
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
                        "rootfs": {"type": "layers", "diff_ids": [mf::sha256_digest(content)]}});
    sigil_oci::Registry::new(&sigil_oci::RegistryOptions::default())
        .unwrap()
        .push_image(
            &image,
            &[sigil_oci::Layer {
                data: content.to_vec(),
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            }],
            config.to_string().as_bytes(),
            mf::OCI_CONFIG,
        )
        .unwrap()
}

/// A test CA (`ca.pem`, `ca.key`) and a server certificate for 127.0.0.1 it signed
/// (`tls.pem`, `tls.key`) in `d`, made with openssl.
pub fn tls_certificates(d: &Path) {
    let sh = |script: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=sigil-test-ca 2>/dev/null",
    );
    sh(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 2>/dev/null",
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(
        "openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tls.pem -days 2 -extfile ext.cnf 2>/dev/null",
    );
}

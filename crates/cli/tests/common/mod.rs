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

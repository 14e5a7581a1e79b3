//! `checksums sign` / `checksums verify` through the real binary; coreutils checks our files.

mod common;

use common::*;
use std::path::Path;

fn release(d: &Path) {
    std::fs::create_dir_all(d.join("dist/sub")).unwrap();
    std::fs::write(d.join("dist/a.tar.gz"), vec![1u8; 100_000]).unwrap();
    std::fs::write(d.join("dist/sub/b with space.bin"), b"bee").unwrap();
    std::fs::write(d.join("dist/back\\slash"), b"escaped name").unwrap();
    generate(d, "ecdsa-p256", "k");
}

const FILES: [&str; 3] = ["a.tar.gz", "sub/b with space.bin", "back\\slash"];

#[test]
fn sign_then_verify_and_coreutils_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    release(d);
    let dist = d.join("dist");
    for (alg, tool, name) in [
        ("sha256", "sha256sum", "SHA256SUMS"),
        ("sha512", "sha512sum", "SHA512SUMS"),
    ] {
        ok(sigil(&dist)
            .args(["checksums", "sign", "--key", "../k.key", "--algorithm", alg])
            .args(FILES));
        assert!(dist.join(name).exists() && dist.join(format!("{name}.sig")).exists());
        // GNU coreutils reads what we wrote, including the escaped name.
        let out = ok(std::process::Command::new(tool)
            .current_dir(&dist)
            .args(["-c", name]));
        assert_eq!(out.matches(": OK").count(), 3, "{out}");
        // The .sig is a plain sign-blob signature over the file.
        ok(sigil(&dist).args([
            "verify-blob",
            "--private-infrastructure",
            "--key",
            "../k.pub",
            "--signature",
            &format!("{name}.sig"),
            name,
        ]));
        // Verify from elsewhere: paths are relative to the checksum file's directory.
        let out = ok(sigil(d).args([
            "checksums",
            "verify",
            "--private-infrastructure",
            "--key",
            "k.pub",
            &format!("dist/{name}"),
        ]));
        assert_eq!(out.matches(": OK").count(), 3, "{out}");
    }
    // Files that coreutils wrote are verified too (after signing them as a blob).
    let theirs = ok(std::process::Command::new("sha256sum")
        .current_dir(&dist)
        .args(["a.tar.gz", "sub/b with space.bin"]));
    std::fs::write(dist.join("THEIRS"), theirs).unwrap();
    ok(sigil(&dist).args([
        "sign-blob",
        "--key",
        "../k.key",
        "--output-signature",
        "THEIRS.sig",
        "THEIRS",
    ]));
    ok(sigil(&dist).args([
        "checksums",
        "verify",
        "--private-infrastructure",
        "--key",
        "../k.pub",
        "THEIRS",
    ]));
}

#[test]
fn tampered_checksum_file_is_refused_before_any_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    release(d);
    let dist = d.join("dist");
    ok(sigil(&dist)
        .args(["checksums", "sign", "--key", "../k.key"])
        .args(FILES));
    let text = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    // Point the line for a.tar.gz at a different digest.
    let tampered = text.replacen(&text[..8], "00000000", 1);
    std::fs::write(dist.join("SHA256SUMS"), tampered).unwrap();
    let err = fails(
        sigil(&dist).args([
            "checksums",
            "verify",
            "--private-infrastructure",
            "--key",
            "../k.pub",
            "SHA256SUMS",
        ]),
        1,
        "the signature of SHA256SUMS did not verify: the signature does not match",
    );
    assert_eq!(err.matches("does not match").count(), 1, "said once: {err}");
}

#[test]
fn modified_and_missing_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    release(d);
    let dist = d.join("dist");
    ok(sigil(&dist)
        .args(["checksums", "sign", "--key", "../k.key"])
        .args(FILES));
    std::fs::write(dist.join("a.tar.gz"), b"changed").unwrap();
    std::fs::remove_file(dist.join("sub/b with space.bin")).unwrap();
    let o = run(sigil(&dist).args([
        "checksums",
        "verify",
        "--private-infrastructure",
        "--key",
        "../k.pub",
        "SHA256SUMS",
    ]));
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("a.tar.gz: FAILED (sha256 is "), "{out}");
    assert!(out.contains("sub/b with space.bin: MISSING"), "{out}");
    // Escaped as GNU sha256sum -c prints it.
    assert!(out.contains("\\back\\\\slash: OK"), "{out}");
    let o = run(sigil(&dist).args([
        "checksums",
        "verify",
        "--private-infrastructure",
        "--key",
        "../k.pub",
        "--output",
        "json",
        "SHA256SUMS",
    ]));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(v["summary"]["missing"], 1);
    assert_eq!(v["files"][1]["status"], "MISSING");
}

#[test]
fn escaping_paths_are_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    release(d);
    let dist = d.join("dist");
    std::fs::write(d.join("outside"), b"secret").unwrap();
    std::os::unix::fs::symlink("../outside", dist.join("link-out")).unwrap();
    std::os::unix::fs::symlink("a.tar.gz", dist.join("link-in")).unwrap();
    let h = |p: &Path| {
        let out = ok(std::process::Command::new("sha256sum").arg(p));
        out[..64].to_owned()
    };
    let secret = h(&d.join("outside"));
    let inside = h(&dist.join("a.tar.gz"));
    let text = format!(
        "{secret}  ../outside\n{secret}  /etc/../{}\n{secret}  link-out\n{inside}  link-in\n{inside}  a.tar.gz\n",
        d.join("outside").display()
    );
    std::fs::write(dist.join("SUMS"), &text).unwrap();
    ok(sigil(&dist).args([
        "sign-blob",
        "--key",
        "../k.key",
        "--output-signature",
        "SUMS.sig",
        "SUMS",
    ]));
    let o = run(sigil(&dist).args([
        "checksums",
        "verify",
        "--private-infrastructure",
        "--key",
        "../k.pub",
        "SUMS",
    ]));
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("../outside: REFUSED (path escapes the directory with `..`)"),
        "{out}"
    );
    assert!(out.contains("REFUSED (absolute path)"), "{out}");
    assert!(
        out.contains("link-out: REFUSED (a symbolic link points outside the directory)"),
        "{out}"
    );
    assert!(out.contains("link-in: OK"), "{out}");
    assert!(out.contains("a.tar.gz: OK"), "{out}");
    // Signing refuses such paths up front.
    fails(
        sigil(&dist).args(["checksums", "sign", "--key", "../k.key", "../outside"]),
        3,
        "path escapes the directory",
    );
    fails(
        sigil(&dist)
            .args(["checksums", "sign", "--key", "../k.key"])
            .arg(d.join("outside")),
        3,
        "absolute path",
    );
}

#[test]
fn malformed_lines_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    release(d);
    let dist = d.join("dist");
    std::fs::write(dist.join("SUMS"), "0123  a.tar.gz\n").unwrap();
    ok(sigil(&dist).args([
        "sign-blob",
        "--key",
        "../k.key",
        "--output-signature",
        "SUMS.sig",
        "SUMS",
    ]));
    fails(
        sigil(&dist).args([
            "checksums",
            "verify",
            "--private-infrastructure",
            "--key",
            "../k.pub",
            "SUMS",
        ]),
        3,
        "checksum file line 1: digest has 4 hex characters",
    );
    fails(
        sigil(&dist).args([
            "checksums",
            "verify",
            "--private-infrastructure",
            "--key",
            "../k.pub",
            "NOPE",
        ]),
        3,
        "cannot read the checksum file",
    );
    fails(
        sigil(&dist).args(["checksums", "sign", "--key", "../k.key", "sub"]),
        3,
        "sub is a directory",
    );
    fails(
        sigil(&dist).args(["checksums", "sign", "--key", "../k.key", "nope"]),
        3,
        "cannot open nope",
    );
    assert!(
        !dist.join("SHA256SUMS").exists(),
        "no output after a failure"
    );
}

#[test]
fn many_files_in_parallel() {
    let dir = with_key();
    let d = dir.path();
    let dist = d.join("many");
    std::fs::create_dir(&dist).unwrap();
    let mut names = Vec::new();
    for i in 0..300 {
        let n = format!("f{i:04}");
        std::fs::write(dist.join(&n), format!("content {i}").repeat(i + 1)).unwrap();
        names.push(n);
    }
    ok(sigil(&dist)
        .args(["checksums", "sign", "--key", "../k.key", "-j", "4"])
        .args(&names));
    let out = ok(sigil(d).args([
        "checksums",
        "verify",
        "--private-infrastructure",
        "--key",
        "k.pub",
        "-j",
        "3",
        "many/SHA256SUMS",
    ]));
    assert_eq!(out.matches(": OK").count(), 300);
    // Output order follows the file, not thread completion.
    let first: Vec<&str> = out.lines().take(3).collect();
    assert_eq!(first, ["f0000: OK", "f0001: OK", "f0002: OK"]);
}

/// A listed name holding a newline or an escape sequence cannot forge report lines: it is
/// escaped as GNU `sha256sum -c` escapes it (and control characters as `\xHH`).
#[test]
fn report_names_are_escaped_as_coreutils_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "ecdsa-p256", "k");
    let dist = d.join("dist");
    std::fs::create_dir(&dist).unwrap();
    let evil = "x\nnot-listed: OK";
    std::fs::write(dist.join(evil), b"one").unwrap();
    std::fs::write(dist.join("esc\u{1b}[2K"), b"two").unwrap();
    ok(sigil(&dist).args([
        "checksums",
        "sign",
        "--key",
        "../k.key",
        evil,
        "esc\u{1b}[2K",
    ]));
    let out = ok(sigil(&dist).args([
        "checksums",
        "verify",
        "--private-infrastructure",
        "--key",
        "../k.pub",
        "SHA256SUMS",
    ]));
    assert_eq!(out.lines().count(), 2, "{out:?}");
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(out.contains("\\esc\\x1b[2K: OK"), "{out:?}");
    // The newline case reads exactly as GNU's report.
    let gnu = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&dist)
        .output()
        .unwrap();
    let gnu_line = String::from_utf8_lossy(&gnu.stdout)
        .lines()
        .find(|l| l.contains("not-listed"))
        .unwrap()
        .to_owned();
    assert!(
        out.lines().any(|l| l == gnu_line),
        "ours {out:?}, GNU {gnu_line:?}"
    );
}

/// A directory swapped for a symbolic link out while `checksums verify` runs: every file is
/// opened beneath the checksum file's directory, component by component, so the file outside
/// (whose digest the checksum file lists) is never read and never reported OK.
#[test]
fn a_directory_swapped_for_a_link_out_during_verify_never_reads_outside() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = with_key();
    let d = dir.path();
    let dist = d.join("race");
    std::fs::create_dir_all(dist.join("sub")).unwrap();
    std::fs::write(dist.join("sub/f"), b"the real file").unwrap();
    std::fs::create_dir_all(d.join("elsewhere")).unwrap();
    std::fs::write(d.join("elsewhere/f"), b"what an attacker wants verified").unwrap();
    let outside = ok(std::process::Command::new("sha256sum").arg(d.join("elsewhere/f")));
    let line = format!("{}  sub/f\n", &outside[..64]);
    std::fs::write(dist.join("SUMS"), line.repeat(300)).unwrap();
    ok(sigil(&dist).args([
        "sign-blob",
        "--key",
        "../k.key",
        "--output-signature",
        "SUMS.sig",
        "SUMS",
    ]));
    let stop = AtomicBool::new(false);
    /// Stops the swapping when the checks end, also when one fails.
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::rename(dist.join("sub"), dist.join("sub.real"));
                let _ = std::os::unix::fs::symlink(d.join("elsewhere"), dist.join("sub"));
                let _ = std::fs::remove_file(dist.join("sub"));
                let _ = std::fs::rename(dist.join("sub.real"), dist.join("sub"));
            }
        });
        let _stop = Stop(&stop);
        for _ in 0..15 {
            let o = run(sigil(&dist).args([
                "checksums",
                "verify",
                "--private-infrastructure",
                "--key",
                "../k.pub",
                "--output",
                "json",
                "SUMS",
            ]));
            assert_eq!(o.status.code(), Some(1));
            let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
            for f in report["files"].as_array().unwrap() {
                assert_ne!(f["status"], "OK", "{f}");
            }
        }
    });
}

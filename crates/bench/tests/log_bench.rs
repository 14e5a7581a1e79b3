//! The load generator against Sigil's real log (in process, on a loopback port): it appends
//! every entry it signs, reads proofs back, and reports both; a URL it cannot drive is refused
//! with the reason.

use std::process::Command;

#[path = "../../../tests/support/inproc_log.rs"]
mod inproc_log;

const BIN: &str = env!("CARGO_BIN_EXE_sigil-log-bench");

#[test]
fn reports_what_it_appended() {
    let server = inproc_log::InprocLog::start();
    let (url, dir, log) = (&server.url, &server.dir, &server.log);
    let out = Command::new(BIN)
        .args(["--rekor-url", url, "--entries", "300", "--clients", "8"])
        .args(["--proofs", "25", "-o", "json", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"], 300, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["treeSize"], 300, "{v}");
    assert_eq!(v["firstIndexThisRun"], 0, "{v}");
    assert_eq!(v["proofMs"]["count"], 25, "{v}");
    assert!(v["allocatedBytes"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(log.head().size, 300);

    // Only plain HTTP at the log's root.
    for bad in ["https://127.0.0.1:1".to_owned(), format!("{url}/api")] {
        let out = Command::new(BIN)
            .args(["--rekor-url", &bad, "--entries", "1"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "log bench drives a log over plain HTTP at its root: --rekor-url http://HOST:PORT"
            ),
            "{err}"
        );
    }
}

//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8), started on a
//! random loopback port with storage in a temporary directory, stopped when dropped.
//! `scripts/test` installs the package.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRegistry {
    child: Child,
    _dir: tempfile::TempDir,
    pub addr: String,
}

impl TestRegistry {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Starts with extra top-level configuration (for example an `auth:` block).
    ///
    /// `docker-registry` cannot listen on port 0 and report its port, so a free port is taken
    /// from the kernel and handed over; a parallel test may take it in between. The registry
    /// answers with a header carrying a value unique to this start, so a server found on the
    /// port is known to be this one; when the registry exits (the port was taken), it is
    /// started again on another port.
    pub fn start_with(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for attempt in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = format!("127.0.0.1:{port}");
            let nonce = format!("{}-{port}-{attempt}", std::process::id());
            let config = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  headers:\n    X-Sigil-Test-Registry: [\"{nonce}\"]\n{extra}",
                dir.path().join("data").display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("docker-registry (apt-get install docker-registry; scripts/test does it)");
            let mut reg = Self {
                child,
                _dir: tempfile::tempdir().expect("temp dir"),
                addr,
            };
            let start = Instant::now();
            loop {
                if matches!(reg.child.try_wait(), Ok(Some(_))) {
                    break; // it could not listen: try another port
                }
                if answers_as(&reg.addr, &nonce) {
                    reg._dir = dir;
                    return reg;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "the registry did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("the registry could not listen on any of 20 free ports");
    }
}

/// Whether the server at `addr` answers `GET /v2/` with this start's header value.
fn answers_as(addr: &str, nonce: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(
        format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .is_err()
    {
        return false;
    }
    let mut head = Vec::new();
    let _ = s.take(16 * 1024).read_to_end(&mut head);
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    text.contains(&format!(
        "x-sigil-test-registry: {}",
        nonce.to_ascii_lowercase()
    ))
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

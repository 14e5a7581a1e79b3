//! `sigil log serve` as a child process on a random loopback port, for tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct LogServer {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
}

impl LogServer {
    /// Starts a log with its data in `data` (and `extra` flags); waits until it listens.
    pub fn start(bin: &str, data: &Path, extra: &[&str]) -> Self {
        Self::start_with_ready_file(bin, data, &data.with_extension("ready"), extra)
    }

    /// [`start`](Self::start) with the ready file elsewhere (when `data`'s directory cannot be
    /// written).
    pub fn start_with_ready_file(bin: &str, data: &Path, ready: &Path, extra: &[&str]) -> Self {
        let ready = ready.to_owned();
        let _ = std::fs::remove_file(&ready);
        let child = Command::new(bin)
            .args(["log", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--ready-file")
            .arg(&ready)
            .args(extra)
            .stdout(Stdio::null())
            // SIGIL_TEST_VERBOSE=1 shows the server's messages.
            .stderr(if std::env::var_os("SIGIL_TEST_VERBOSE").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start sigil log serve");
        let start = Instant::now();
        let url = loop {
            if let Ok(s) = std::fs::read_to_string(&ready)
                && s.ends_with('\n')
            {
                break s.trim().to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the log did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            url,
            data: data.to_owned(),
        }
    }

    /// SIGKILL, no shutdown.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful stop.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait")
    }
}

impl Drop for LogServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

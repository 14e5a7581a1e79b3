//! `sigil tsa serve` for tests: started on a random loopback port with its data in `dir/tsa`,
//! stopped when dropped. `url` is the server's base URL.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tsa {
    child: Child,
    pub url: String,
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tsa {
    /// Starts the binary `bin` in `dir` (its key encrypted with `password`).
    pub fn start(bin: &str, dir: &Path, password: &str) -> Self {
        let child = Command::new(bin)
            .current_dir(dir)
            .env("COSIGN_PASSWORD", password)
            .args(["tsa", "serve", "--data", "tsa", "--listen", "127.0.0.1:0"])
            .args(["--ready-file", "tsa.ready"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("tsa.err")).expect("tsa.err"))
            .spawn()
            .expect("start sigil tsa serve");
        let mut t = Self {
            child,
            url: String::new(),
        };
        let start = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(dir.join("tsa.ready"))
                && s.ends_with('\n')
            {
                t.url = s.trim().to_owned();
                return t;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the TSA did not start: {}",
                std::fs::read_to_string(dir.join("tsa.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its timestamp URL.
    pub fn timestamp_url(&self) -> String {
        format!("{}/api/v1/timestamp", self.url)
    }
}

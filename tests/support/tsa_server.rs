//! Sigil's services for tests: `sigil tsa serve`, `sigil ca serve` and `sigil serve`, each
//! started on a random loopback port with its data under the test's directory and stopped
//! (killed) when dropped. `url` is the server's base URL, read from its `--ready-file`.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Service {
    child: Child,
    pub url: String,
}

/// The timestamp authority under its old name.
pub type Tsa = Service;

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Runs `bin args… --listen 127.0.0.1:0 --ready-file NAME.ready` in `dir` (keys encrypted
    /// with `password`), its stderr in `dir/NAME.err`; waits until it is listening.
    pub fn launch(bin: &str, dir: &Path, name: &str, args: &[&str], password: &str) -> Self {
        Self::launch_on(bin, dir, name, args, password, "127.0.0.1:0")
    }

    /// [`Service::launch`] listening on `listen`.
    pub fn launch_on(
        bin: &str,
        dir: &Path,
        name: &str,
        args: &[&str],
        password: &str,
        listen: &str,
    ) -> Self {
        let ready = dir.join(format!("{name}.ready"));
        let err = dir.join(format!("{name}.err"));
        let _ = std::fs::remove_file(&ready);
        let child = Command::new(bin)
            .current_dir(dir)
            .env("COSIGN_PASSWORD", password)
            .args(args)
            .args(["--listen", listen, "--ready-file"])
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("start the sigil service");
        let mut t = Self {
            child,
            url: String::new(),
        };
        let start = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&ready)
                && s.ends_with('\n')
            {
                t.url = s.trim().to_owned();
                return t;
            }
            if let Ok(Some(status)) = t.child.try_wait() {
                panic!(
                    "{name} exited ({status}): {}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{name} did not start: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `sigil tsa serve` with its data in `dir/tsa`.
    pub fn start(bin: &str, dir: &Path, password: &str) -> Self {
        Self::launch(
            bin,
            dir,
            "tsa",
            &["tsa", "serve", "--data", "tsa"],
            password,
        )
    }

    /// Its timestamp URL (for a TSA, or `sigil serve`).
    pub fn timestamp_url(&self) -> String {
        format!("{}/api/v1/timestamp", self.url)
    }

    /// What it wrote to stderr.
    pub fn stderr(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default()
    }
}

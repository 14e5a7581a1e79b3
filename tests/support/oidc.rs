//! The test OIDC issuer (`tests/support/oidc_issuer.py`: PyJWT and cryptography, not Sigil's
//! code) on a random loopback port, stopped when dropped. `token(query)` mints a token; the
//! query takes `sub`, `aud`, `exp`, `nbf` (seconds from now), `kid`, `alg`, `iss` and `claims`
//! (JSON merged into the claims).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct TestIssuer {
    child: Child,
    pub url: String,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestIssuer {
    pub fn start() -> Self {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/support/oidc_issuer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (scripts/test installs PyJWT)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("http://"),
            "the test issuer did not start: {line:?}"
        );
        Self {
            child,
            url: line.trim().to_owned(),
        }
    }

    /// A token: `query` as `/token` takes it (already URL-encoded).
    pub fn token(&self, query: &str) -> String {
        reqwest::blocking::get(format!("{}/token?{query}", self.url))
            .unwrap()
            .text()
            .unwrap()
    }

    /// A token with `claims` (JSON) merged in, and more of the query.
    pub fn token_with(&self, claims: &serde_json::Value, query: &str) -> String {
        self.token(&format!(
            "claims={}&{query}",
            urlencode(&claims.to_string())
        ))
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

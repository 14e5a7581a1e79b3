//! A Docker token service for the real registry's `auth: token` mode: it answers
//! `GET /token` (anonymous or basic credentials) and `POST /token` (OAuth2 refresh-token grant)
//! with a JWT signed ES256 by a certificate the registry trusts (made with openssl), and counts
//! the requests it serves. The registry itself verifies every token.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

pub const SERVICE: &str = "sigil-test-registry";
pub const ISSUER: &str = "sigil-test-issuer";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "wonderland";
pub const REFRESH_TOKEN: &str = "refresh-me";

pub struct TokenServer {
    pub realm: String,
    pub cert_path: std::path::PathBuf,
    pub gets: Arc<AtomicUsize>,
    pub posts: Arc<AtomicUsize>,
    pub refused: Arc<AtomicUsize>,
}

/// Signs `header.claims` with openssl and returns the compact JWS.
fn jwt(dir: &Path, repos: &[&str]) -> String {
    let cert_pem = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
    let der: String = cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [der]});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let access: Vec<_> = repos
        .iter()
        .map(|r| serde_json::json!({"type": "repository", "name": r, "actions": ["pull", "push", "delete"]}))
        .collect();
    let claims = serde_json::json!({"iss": ISSUER, "sub": USER, "aud": SERVICE,
        "exp": now + 3600, "nbf": now - 60, "iat": now, "jti": format!("t{now}"), "access": access});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    std::fs::write(dir.join("input"), &input).unwrap();
    let o = Command::new("openssl")
        .args([
            "dgst", "-sha256", "-sign", "key.pem", "-out", "sig.der", "input",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let der = std::fs::read(dir.join("sig.der")).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(der_to_raw(&der)))
}

/// ECDSA DER (SEQUENCE of two INTEGERs) to JWS's fixed-width r||s.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    let mut i = 2;
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        let mut v = &der[i + 2..i + 2 + len];
        while v.len() > 32 && v[0] == 0 {
            v = &v[1..];
        }
        out.extend(std::iter::repeat_n(0u8, 32 - v.len()));
        out.extend_from_slice(v);
        i += 2 + len;
    }
    out
}

impl TokenServer {
    /// Starts the service (keys in `dir`) granting access to `repos`.
    pub fn start(dir: &Path, repos: &[&str]) -> Self {
        let o = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=sigil test token issuer",
            ])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let token = jwt(dir, repos);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let (gets, posts, refused) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (g, p, r) = (gets.clone(), posts.clone(), refused.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut auth = None;
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("authorization:") {
                        auth = Some(line["authorization:".len()..].trim().to_owned());
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).into_owned();
                let basic = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
                let granted = if request_line.starts_with("POST") {
                    p.fetch_add(1, Ordering::Relaxed);
                    body.contains("grant_type=refresh_token")
                        && body.contains(&format!("refresh_token={REFRESH_TOKEN}"))
                } else {
                    g.fetch_add(1, Ordering::Relaxed);
                    auth.as_deref() == Some(basic.as_str())
                };
                let (status, text) = if granted {
                    (
                        "200 OK",
                        serde_json::json!({"token": token, "access_token": token}).to_string(),
                    )
                } else {
                    r.fetch_add(1, Ordering::Relaxed);
                    (
                        "401 Unauthorized",
                        r#"{"details":"bad credentials"}"#.to_owned(),
                    )
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Self {
            realm,
            cert_path: dir.join("cert.pem"),
            gets,
            posts,
            refused,
        }
    }

    /// The registry configuration block for this service.
    pub fn registry_auth_config(&self) -> String {
        format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.realm,
            self.cert_path.display()
        )
    }
}

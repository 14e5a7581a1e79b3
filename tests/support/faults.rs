//! A fault-injecting HTTP proxy in front of the real test registry: requests whose path contains
//! a given string (and method, when set) get a canned status and body, every time or the first
//! `times` times; everything else is forwarded unchanged (one upstream connection per request,
//! `Connection: close`). It counts the faults it injected.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct FaultProxy {
    pub addr: String,
    stop: Arc<AtomicBool>,
    pub faults: Arc<AtomicUsize>,
}

/// Which requests get which canned answer.
#[derive(Clone)]
pub struct Rule {
    pub method: Option<&'static str>,
    pub needle: &'static str,
    /// The status to answer; 0 closes the connection without an answer.
    pub status: u16,
    pub body: &'static str,
    /// Inject only this many faults, then forward (`usize::MAX`: always).
    pub times: usize,
}

impl FaultProxy {
    /// Forwards to `upstream`; answers `status` to requests whose path contains `needle`.
    pub fn start(upstream: &str, needle: &'static str, status: u16) -> Self {
        Self::with_rule(
            upstream,
            Rule {
                method: None,
                needle,
                status,
                body: "injected fault",
                times: usize::MAX,
            },
        )
    }

    /// Forwards to `upstream`, answering as `rule` says.
    pub fn with_rule(upstream: &str, rule: Rule) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(AtomicUsize::new(0));
        let (s, f, up) = (stop.clone(), faults.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (f, up, rule) = (f.clone(), up.clone(), rule.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &up, &rule, &f);
                });
            }
        });
        Self { addr, stop, faults }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(
    conn: TcpStream,
    upstream: &str,
    rule: &Rule,
    faults: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut head = Vec::new();
        let mut content_length = 0usize;
        let mut request_line = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if request_line.is_empty() {
                request_line = line.clone();
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:") {
                continue;
            }
            if line == "\r\n" {
                head.extend_from_slice(b"Connection: close\r\n\r\n");
                break;
            }
            head.extend_from_slice(line.as_bytes());
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body)?;
        let mut words = request_line.split_whitespace();
        let method = words.next().unwrap_or("");
        let path = words.next().unwrap_or("");
        if path.contains(rule.needle)
            && rule.method.is_none_or(|m| m == method)
            && faults
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < rule.times).then_some(n + 1)
                })
                .is_ok()
        {
            if rule.status == 0 {
                return Ok(());
            }
            let msg = rule.body.as_bytes();
            let kind = if msg.starts_with(b"{") {
                "application/json"
            } else {
                "text/plain"
            };
            write!(
                conn,
                "HTTP/1.1 {} Injected\r\nContent-Length: {}\r\nContent-Type: {kind}\r\n\r\n",
                rule.status,
                msg.len()
            )?;
            conn.write_all(msg)?;
            continue;
        }
        let mut up = TcpStream::connect(upstream)?;
        up.write_all(&head)?;
        up.write_all(&body)?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp)?;
        // Re-frame: the upstream closed, so its response is complete; keep our client's
        // connection open only if the response says how long it is.
        conn.write_all(&resp)?;
        let text = String::from_utf8_lossy(&resp[..resp.len().min(4096)]).to_ascii_lowercase();
        if !text.contains("content-length:") {
            return Ok(());
        }
    }
}

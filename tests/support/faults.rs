//! A fault-injecting HTTP proxy in front of the real test registry: requests whose path contains
//! a given string get a canned status; everything else is forwarded unchanged (one upstream
//! connection per request, `Connection: close`). It counts what it forwards.
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

impl FaultProxy {
    /// Forwards to `upstream`; answers `status` to requests whose path contains `needle`.
    pub fn start(upstream: &str, needle: &'static str, status: u16) -> Self {
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
                let (f, up) = (f.clone(), up.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &up, needle, status, &f);
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
    needle: &str,
    status: u16,
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
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        if path.contains(needle) {
            faults.fetch_add(1, Ordering::Relaxed);
            let msg = b"injected fault";
            write!(
                conn,
                "HTTP/1.1 {status} Injected\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
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

//! The HTTP client the signing flows share (the log, the keyless CA, the timestamp authority):
//! one per process, so the system trust store is read once rather than by every client
//! (reading it costs about 10 ms), and not at all while every URL is plain `http` (loopback
//! deployments, tests). Redirects are not followed: an answer from elsewhere is not the
//! service's.

use std::sync::OnceLock;
use std::time::Duration;

/// The default deadline of a request.
pub const TIMEOUT: Duration = Duration::from_secs(60);

fn build(plain: bool) -> Result<reqwest::blocking::Client, String> {
    let mut b = reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if plain {
        // No roots: this client never speaks TLS.
        b = b.tls_certs_only(Vec::<reqwest::Certificate>::new());
    }
    b.build().map_err(|e| e.to_string())
}

/// The shared client for `url`: without TLS roots for `http://`, with the system's for the rest.
pub fn client_for(url: &str) -> Result<reqwest::blocking::Client, String> {
    static PLAIN: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    static TLS: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    let plain = url.starts_with("http://");
    let cell = if plain { &PLAIN } else { &TLS };
    if let Some(c) = cell.get() {
        return Ok(c.clone());
    }
    let c = build(plain)?;
    Ok(cell.get_or_init(|| c).clone())
}

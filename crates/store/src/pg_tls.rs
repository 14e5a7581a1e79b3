//! TLS for the PostgreSQL store, on rustls, with libpq's `sslmode` semantics.
//!
//! The connection string's `sslmode` (and `sslrootcert`) are read here, since the driver knows
//! only `disable`, `prefer` and `require` and would verify nothing:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it | not checked |
//! | `require` | always | not checked, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `verify-ca` | always | chains to `sslrootcert` |
//! | `verify-full` | always | chains to `sslrootcert` and names the host |
//!
//! `sslrootcert` is a PEM file of CA certificates (libpq's default, `~/.postgresql/root.crt`,
//! when absent); `sslrootcert=system` means the operating system's roots.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::config::SslMode;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Not at all (libpq's `prefer` and `require`): the connection is encrypted, not
    /// authenticated.
    Nothing,
    /// The chain, to the given roots (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// A connection string split into what the driver reads and what TLS needs.
#[derive(Debug)]
pub struct Parsed {
    /// The driver's configuration (with `sslmode` set to what the driver should do).
    pub config: postgres::Config,
    /// How the server's certificate is checked.
    pub verify: Verify,
    /// Where the roots come from (`sslrootcert`).
    pub root_cert: Option<String>,
}

/// Why a connection string cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// `sslmode` is not one of libpq's.
    #[error("sslmode={0:?} is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    SslMode(String),
    /// The rest of the connection string.
    #[error("the connection string: {0}")]
    Config(String),
    /// `verify-ca` or `verify-full` without roots.
    #[error(
        "sslmode={0} needs the CA certificates to trust: sslrootcert=FILE (or ~/.postgresql/root.crt, or sslrootcert=system)"
    )]
    NoRoots(&'static str),
    /// rustls refused the configuration.
    #[error("TLS: {0}")]
    Tls(String),
    /// The roots file.
    #[error("sslrootcert {path}: {error}")]
    Roots {
        /// The file.
        path: String,
        /// Why.
        error: String,
    },
}

/// Splits `url` (a `postgres://` URL or `key=value` pairs) into the driver's configuration and
/// the TLS settings.
pub fn parse(url: &str) -> Result<Parsed, TlsSetupError> {
    let mut mode: Option<String> = None;
    let mut root_cert: Option<String> = None;
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    match k {
                        "sslmode" => mode = Some(percent_decode(v)),
                        "sslrootcert" => root_cert = Some(percent_decode(v)),
                        _ => kept.push(pair),
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            match pair.split_once('=') {
                Some(("sslmode", v)) => mode = Some(v.trim_matches('\'').to_owned()),
                Some(("sslrootcert", v)) => root_cert = Some(v.trim_matches('\'').to_owned()),
                _ => kept.push(pair),
            }
        }
        kept.join(" ")
    };
    let mut config: postgres::Config = rest
        .parse()
        .map_err(|e: postgres::Error| TlsSetupError::Config(with_sources(&e)))?;
    let (driver, mut verify) = match mode.as_deref().unwrap_or("prefer") {
        "disable" => (SslMode::Disable, Verify::Nothing),
        // libpq's allow tries plain text first; a server that wants TLS then gets it.
        "allow" | "prefer" => (SslMode::Prefer, Verify::Nothing),
        "require" => (SslMode::Require, Verify::Nothing),
        "verify-ca" => (SslMode::Require, Verify::Chain),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => return Err(TlsSetupError::SslMode(other.to_owned())),
    };
    if root_cert.is_none() && verify != Verify::Nothing {
        root_cert = default_root_cert();
        if root_cert.is_none() {
            return Err(TlsSetupError::NoRoots(if verify == Verify::Full {
                "verify-full"
            } else {
                "verify-ca"
            }));
        }
    }
    // libpq: require with a root certificate file verifies the chain.
    if verify == Verify::Nothing && driver == SslMode::Require && root_cert.is_some() {
        verify = Verify::Chain;
    }
    config.ssl_mode(driver);
    Ok(Parsed {
        config,
        verify,
        root_cert,
    })
}

/// An error's text followed by its sources' (the driver's top-level texts hide the reason).
pub fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

fn default_root_cert() -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let p = std::path::Path::new(&home).join(".postgresql/root.crt");
    p.is_file().then(|| p.to_string_lossy().into_owned())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes rustls connections for the driver.
#[derive(Clone)]
pub struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
}

impl RustlsConnect {
    /// The connector for `parsed`'s settings.
    pub fn new(parsed: &Parsed) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Tls(e.to_string()))?;
        let config = match parsed.verify {
            Verify::Nothing => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth(),
            Verify::Chain | Verify::Full => {
                let path = parsed.root_cert.clone().unwrap_or_default();
                let roots = load_roots(&path)?;
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| TlsSetupError::Roots {
                    path: path.clone(),
                    error: e.to_string(),
                })?;
                let verifier: Arc<dyn ServerCertVerifier> = if parsed.verify == Verify::Full {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth()
            }
        };
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

fn load_roots(path: &str) -> Result<rustls::RootCertStore, TlsSetupError> {
    let err = |error: String| TlsSetupError::Roots {
        path: path.to_owned(),
        error,
    };
    let mut roots = rustls::RootCertStore::empty();
    if path == "system" {
        let found = rustls_native_certs::load_native_certs();
        for c in found.certs {
            let _ = roots.add(c);
        }
        if roots.is_empty() {
            return Err(err("no system CA certificates found".into()));
        }
        return Ok(roots);
    }
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    use rustls::pki_types::pem::PemObject;
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|e| err(format!("not PEM certificates: {e}")))?;
        roots
            .add(c)
            .map_err(|e| err(format!("a certificate cannot be a root: {e}")))?;
    }
    if roots.is_empty() {
        return Err(err("no certificates in the file".into()));
    }
    Ok(roots)
}

/// `sslmode=require` without roots: encrypted, the certificate accepted as it is (as libpq).
/// The handshake signatures are still checked, so the session is bound to the key shown.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must reach a root; the name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnectOne;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnectOne, Self::Error> {
        Ok(RustlsConnectOne {
            config: self.config.clone(),
            name: ServerName::try_from(domain.to_owned())?,
        })
    }
}

/// One connection's handshake.
pub struct RustlsConnectOne {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnectOne
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        Box::pin(async move {
            let s = connector.connect(self.name, stream).await?;
            Ok(RustlsStream(s))
        })
    }
}

/// A TLS connection to the database.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM's channel binding (tls-server-end-point) is not offered; authentication
        // methods work without it.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_not_ignored() {
        let p = parse("postgres://u@db.example:5432/log?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x").unwrap();
        assert_eq!(p.verify, Verify::Full);
        assert_eq!(p.root_cert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(p.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(p.config.get_application_name(), Some("x"));
        let p = parse("host=db user=u sslmode=verify-ca sslrootcert=/ca.pem").unwrap();
        assert_eq!(
            (p.verify, p.root_cert.as_deref()),
            (Verify::Chain, Some("/ca.pem"))
        );
        let p = parse("postgres://u@db/log?sslmode=require&sslrootcert=/ca.pem").unwrap();
        assert_eq!(
            p.verify,
            Verify::Chain,
            "require with a root file verifies the chain"
        );
        let p = parse("postgres://u@db/log").unwrap();
        assert_eq!(
            (p.verify, p.config.get_ssl_mode()),
            (Verify::Nothing, SslMode::Prefer)
        );
        let p = parse("postgres://u@db/log?sslmode=disable").unwrap();
        assert_eq!(p.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(
            parse("postgres://u@db/log?sslmode=verify_full")
                .unwrap_err()
                .to_string(),
            "sslmode=\"verify_full\" is not one of disable, allow, prefer, require, verify-ca, verify-full"
        );
        // What is not supported is refused, never ignored.
        let e = parse("postgres://u@db/log?sslmode=require&sslcert=/c.pem").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the connection string: invalid connection string: unknown option `sslcert`"
        );
    }
}

//! TLS for the `postgres` kind: a tokio-postgres [`TlsConnect`] over rustls
//! with the project's crypto provider and trust (written here rather than
//! taken from `tokio-postgres-rustls`, which would add a second `sha2`), that
//! records what was negotiated for evidence and gives SCRAM its
//! `tls-server-end-point` channel binding. Also the `sslmode=verify-ca`
//! verifier: the chain must verify, the host name need not match.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

/// What a completed handshake negotiated.
#[derive(Debug, Clone)]
pub struct Negotiated {
    /// `TLSv1_3`.
    pub version: String,
    /// `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// How long the handshake took.
    pub handshake: Duration,
}

/// Where a connector leaves what it negotiated (empty: no TLS happened).
pub type Seen = Arc<Mutex<Option<Negotiated>>>;

/// Connects TLS with a rustls configuration, for one server name.
pub struct Connector {
    /// The client configuration (trust, client certificate, ALPN).
    pub config: Arc<rustls::ClientConfig>,
    /// The name to verify and send as SNI.
    pub name: ServerName<'static>,
    /// Filled in once the handshake completes.
    pub seen: Seen,
}

/// The boxed handshake future.
type Handshake = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

impl TlsConnect<TcpStream> for Connector {
    type Stream = Stream;
    type Error = io::Error;
    type Future = Handshake;

    fn connect(self, stream: TcpStream) -> Handshake {
        Box::pin(async move {
            let started = Instant::now();
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await?;
            let (_, connection) = tls.get_ref();
            let negotiated = Negotiated {
                version: connection
                    .protocol_version()
                    .and_then(|v| v.as_str())
                    .unwrap_or("unknown")
                    .to_owned(),
                cipher: connection
                    .negotiated_cipher_suite()
                    .and_then(|c| c.suite().as_str())
                    .unwrap_or("unknown")
                    .to_owned(),
                handshake: started.elapsed(),
            };
            let binding = connection
                .peer_certificates()
                .and_then(<[_]>::first)
                .map(|leaf| end_point_hash(leaf.as_ref()));
            *self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(negotiated);
            Ok(Stream {
                inner: Box::new(tls),
                binding,
            })
        })
    }
}

/// The `tls-server-end-point` channel binding (RFC 5929): the server
/// certificate hashed with its signature's hash, SHA-256 for MD5, SHA-1 and
/// anything not recognised.
fn end_point_hash(der: &[u8]) -> Vec<u8> {
    let oid = x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert.signature_algorithm.algorithm.to_id_string())
        .unwrap_or_default();
    let algorithm = match oid.as_str() {
        // ecdsa-with-SHA384, sha384WithRSAEncryption
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => &ring::digest::SHA384,
        // ecdsa-with-SHA512, sha512WithRSAEncryption
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => &ring::digest::SHA512,
        _ => &ring::digest::SHA256,
    };
    ring::digest::digest(algorithm, der).as_ref().to_vec()
}

/// A TLS session to the server.
pub struct Stream {
    inner: Box<tokio_rustls::client::TlsStream<TcpStream>>,
    binding: Option<Vec<u8>>,
}

impl TlsStream for Stream {
    fn channel_binding(&self) -> ChannelBinding {
        match &self.binding {
            Some(hash) => ChannelBinding::tls_server_end_point(hash.clone()),
            None => ChannelBinding::none(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; a host name
/// that does not match is accepted (libpq's meaning of the mode).
#[derive(Debug)]
pub struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ChainOnly {
    /// A verifier over these roots.
    pub fn new(roots: RootCertStore) -> Result<ChainOnly, String> {
        WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            super::super::fetch::crypto_provider(),
        )
        .build()
        .map(ChainOnly)
        .map_err(|e| format!("TLS setup: {e}"))
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_point_hash_follows_the_signature_hash() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        assert_eq!(end_point_hash(cert.der()).len(), 48);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        assert_eq!(end_point_hash(cert.der()).len(), 32);
        assert_eq!(end_point_hash(b"not a certificate").len(), 32);
    }
}

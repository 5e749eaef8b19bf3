//! A self-signed certificate made at test time (rcgen), and an HTTPS client over rustls that
//! trusts only it.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::http::{AsTcp, Reply, exchange};

/// A certificate for 127.0.0.1 and localhost, and its key, as PEM.
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
    der: CertificateDer<'static>,
}

impl SelfSigned {
    pub fn new() -> Self {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a self-signed certificate");
        Self { cert_pem: made.cert.pem(), key_pem: made.signing_key.serialize_pem(), der: made.cert.der().clone() }
    }

    /// A client that trusts this certificate only, and offers h2 and http/1.1 by ALPN.
    pub fn client(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("a valid certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// Sends `request` over TLS to `addr` (as 127.0.0.1); the answer and the ALPN protocol
    /// the server chose.
    pub fn https(&self, addr: SocketAddr, request: &[u8]) -> (Reply, Option<Vec<u8>>) {
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(20)).expect("connect to the API");
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = ClientConnection::new(self.client(), name).expect("a TLS client");
        let mut stream = StreamOwned::new(tls, tcp);
        let bytes = exchange(&mut stream, request);
        (Reply::parse(&bytes), stream.conn.alpn_protocol().map(<[u8]>::to_vec))
    }
}

impl AsTcp for &mut StreamOwned<ClientConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

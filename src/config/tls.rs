//! HTTPS for the admin API: the certificate chain and key named by `api.tls_cert` and
//! `api.tls_key`, read when the server is prepared to start (the same code `check-config`
//! runs). A restart picks up new files. Errors name the key and the file; the key's content
//! never appears in one.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{Problem, TlsFiles};

/// A certificate chain or key file: a few kilobytes; a megabyte is far past any real one.
const PEM_FILE_LIMIT: u64 = 1024 * 1024;

/// Reads and checks the certificate and key, and builds the TLS configuration the API's
/// listener serves with.
/// HTTP/1.1 only, by ALPN: the API has no use for HTTP/2.
///
/// # Errors
/// A file that cannot be read, holds no PEM certificate or key, or a key that does not go with
/// the certificate.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, Problem> {
    let (cert, key) = (files.cert.display(), files.key.display());
    let fail = |at: &str, why: String| Problem::new(format!("api.{at}"), why);
    // Read as root, possibly from a directory another user controls: see `crate::files`.
    let cert_pem = crate::files::read(&files.cert, PEM_FILE_LIMIT)
        .map_err(|e| fail("tls_cert", format!("cannot read {cert}: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("tls_cert", format!("cannot read a PEM certificate chain from {cert}: {}", pem_error(&e))))?;
    if chain.is_empty() {
        return Err(fail("tls_cert", format!("{cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")));
    }
    // The parser's own message could quote a line of the key file: name the file only.
    let key_pem = crate::files::read(&files.key, PEM_FILE_LIMIT)
        .map_err(|e| fail("tls_key", format!("cannot read {key}: {e}")))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| fail("tls_key", format!("{key} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("tls_cert", format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| fail("tls_key", format!("{key} cannot serve the certificate in {cert}: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A PEM error without the bytes of the line it may quote.
fn pem_error(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::Io(e) => e.to_string(),
        Error::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
        Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        Error::Base64Decode(_) => "a PEM section is not valid base64".into(),
        _ => "not PEM".into(),
    }
}

//! SIP over TLS (RFC 3261 §26.2, RFC 5630): the rustls client and server configurations the
//! TCP side wraps its connections in when `sip.transport = "tls"`.
//!
//! What TLS covers: signalling to and from the trunk, and therefore the SDES keys of the
//! media (see `sip::sdes`). The trunk's certificate is verified against `sip.tls_ca` and the
//! trunk's name (its IP address unless `sip.tls_server_name` says otherwise); a handshake that
//! fails closes the connection and fails the call — there is no fallback to plain TCP or UDP.
//! Our certificate serves the listener (trunks calling in) and is also offered as a client
//! certificate to trunks that ask for one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Where the TLS material is and how the trunk is checked (from `[sip]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Our certificate chain, PEM (`sip.tls_certificate`).
    pub certificate: PathBuf,
    /// Its private key, PEM (`sip.tls_private_key`).
    pub private_key: PathBuf,
    /// CA certificates the trunk's certificate must chain to, PEM (`sip.tls_ca`).
    pub ca: Option<PathBuf>,
    /// Verify the trunk's certificate (`sip.tls_verify`, default true).
    pub verify: bool,
    /// The name the trunk's certificate must carry: a DNS name or an IP address.
    pub server_name: String,
}

/// Why the TLS material could not be loaded; each names the `[sip]` key to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable or holds no usable PEM item.
    #[error("{key}: {path}: {message}")]
    File {
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the material (a key that does not match, an unusable CA…).
    #[error("{key}: {message}")]
    Rejected {
        /// The config key to look at.
        key: &'static str,
        /// rustls's reason.
        message: String,
    },
}

/// The loaded client and server sides, ready to wrap connections.
#[derive(Clone)]
pub struct TlsMaterial {
    pub(super) connector: TlsConnector,
    pub(super) acceptor: TlsAcceptor,
    pub(super) server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn file_error(key: &'static str, path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        key,
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(key, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, e))?;
    if certs.is_empty() {
        return Err(file_error(key, path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

impl TlsMaterial {
    /// Reads the files and builds both configurations (at start, so errors show before the
    /// first call).
    pub fn load(s: &TlsSettings) -> Result<TlsMaterial, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certificates("sip.tls_certificate", &s.certificate)?;
        let key = PrivateKeyDer::from_pem_file(&s.private_key)
            .map_err(|e| file_error("sip.tls_private_key", &s.private_key, e))?;
        let server_name =
            ServerName::try_from(s.server_name.clone()).map_err(|e| TlsError::Rejected {
                key: "sip.tls_server_name",
                message: format!("`{}`: {e}", s.server_name),
            })?;
        let rejected = |key: &'static str| {
            move |e: rustls::Error| TlsError::Rejected {
                key,
                message: e.to_string(),
            }
        };
        let client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(rejected("sip.transport"))?;
        let client = if s.verify {
            let ca_path = s.ca.as_deref().ok_or_else(|| TlsError::Rejected {
                key: "sip.tls_ca",
                message: "name the CA bundle the trunk's certificate chains to (or set \
                          sip.tls_verify = false, which lets anyone on the path pose as the trunk)"
                    .into(),
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificates("sip.tls_ca", ca_path)? {
                roots.add(ca).map_err(rejected("sip.tls_ca"))?;
            }
            client.with_root_certificates(roots)
        } else {
            client
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(danger::AnyCertificate(
                    provider.clone(),
                )))
        };
        let client = client
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(rejected("sip.tls_private_key"))?;
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(rejected("sip.transport"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(rejected("sip.tls_private_key"))?;
        Ok(TlsMaterial {
            connector: TlsConnector::from(Arc::new(client)),
            acceptor: TlsAcceptor::from(Arc::new(server)),
            server_name,
        })
    }
}

/// `sip.tls_verify = false`: encryption without knowing who the peer is (lab trunks with
/// self-signed certificates). Signatures are still checked so the handshake is sound.
mod danger {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    pub(super) struct AnyCertificate(pub(super) Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
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
            verify_tls12_signature(
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
            verify_tls13_signature(
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
}

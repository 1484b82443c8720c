//! TLS for `https://` WHIP/WHEP URLs: one rustls client configuration per run, shared by
//! every request. It trusts the system's roots plus any CA files given, or, for
//! self-signed test boxes, any certificate at all.

mod any_certificate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ConfigBuilder, RootCertStore, WantsVerifier};

use any_certificate::AnyCertificate;

/// How every `https://` request of a run is secured; cheap to clone, built once.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

/// The TLS setup cannot be built: a configuration error, found before any request.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot use the CA certificate file {}: {problem}", path.display())]
    CaFile { path: PathBuf, problem: String },
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

impl ClientTls {
    /// Verifies servers the usual way: the chain must lead to one of the system's roots or
    /// to a certificate in one of `ca_files` (PEM, any number each), and name the host.
    pub fn verifying(ca_files: &[PathBuf]) -> Result<Self, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        // System certificates that cannot be read only narrow what is trusted: a server
        // they leave out fails its handshake with an error that suggests --ca-cert.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        for path in ca_files {
            add_ca_file(&mut roots, path)?;
        }
        let config = builder(provider())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self::with_alpn(config))
    }

    /// Accepts any certificate for any name. The handshake signatures are still checked
    /// against the certificate's key, but who holds that key is not: for test boxes only.
    pub fn insecure() -> Result<Self, TlsSetupError> {
        let provider = provider();
        let verifier = AnyCertificate::new(provider.signature_verification_algorithms);
        let config = builder(provider)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Self::with_alpn(config))
    }

    fn with_alpn(mut config: ClientConfig) -> Self {
        // The client speaks HTTP/1.1 only; saying so keeps servers from choosing h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            config: Arc::new(config),
        }
    }

    /// A new client session for `host` (a DNS name or an IP literal without brackets).
    pub(super) fn connect(
        &self,
        host: ServerName<'static>,
    ) -> Result<ClientConnection, rustls::Error> {
        ClientConnection::new(self.config.clone(), host)
    }
}

/// The name a certificate must carry for `host`; `None` when `host` is neither a DNS name
/// nor an IP address.
pub(super) fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).ok()
}

/// A note for certificate errors, which the bench's options can work around.
pub(super) fn certificate_hint(error: &rustls::Error) -> &'static str {
    match error {
        rustls::Error::InvalidCertificate(_) => {
            " (pass --ca-cert with the server's CA certificate, or --insecure for a test box)"
        }
        _ => "",
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

fn builder(
    provider: Arc<CryptoProvider>,
) -> Result<ConfigBuilder<ClientConfig, WantsVerifier>, TlsSetupError> {
    Ok(ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?)
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsSetupError> {
    let problem = |problem: String| TlsSetupError::CaFile {
        path: path.to_owned(),
        problem,
    };
    let mut added = 0;
    for certificate in
        CertificateDer::pem_file_iter(path).map_err(|error| problem(error.to_string()))?
    {
        let certificate = certificate.map_err(|error| problem(error.to_string()))?;
        roots
            .add(certificate)
            .map_err(|error| problem(error.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(problem("no PEM certificate in it".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary_file(name: &str, contents: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("shardcast-bench-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn ca_file_problem(path: PathBuf) -> String {
        let error = ClientTls::verifying(std::slice::from_ref(&path)).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(
            matches!(&error, TlsSetupError::CaFile { path: named, .. } if *named == path),
            "{error:?}"
        );
        error.to_string()
    }

    #[test]
    fn takes_ca_files_and_refuses_unusable_ones() {
        let certificate = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .unwrap()
            .cert
            .pem();
        let good = temporary_file("good.pem", &certificate);
        let trusted = ClientTls::verifying(std::slice::from_ref(&good));
        let _ = std::fs::remove_file(&good);
        assert!(trusted.is_ok(), "{trusted:?}");

        let missing = std::env::temp_dir().join("shardcast-bench-tls-no-such-file.pem");
        assert!(ca_file_problem(missing).contains("no-such-file"));
        let empty = ca_file_problem(temporary_file("empty.pem", "not a certificate\n"));
        assert!(empty.contains("no PEM certificate"), "{empty}");
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let junk = ca_file_problem(temporary_file("junk.pem", junk));
        assert!(junk.contains("junk.pem"), "{junk}");
    }

    #[test]
    fn only_certificate_errors_get_the_hint() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(certificate_hint(&unknown).contains("--insecure"));
        assert_eq!(certificate_hint(&rustls::Error::DecryptError), "");
    }

    #[test]
    fn server_names_take_hosts_and_ip_literals() {
        assert!(matches!(
            server_name("sfu.example"),
            Some(ServerName::DnsName(_))
        ));
        assert!(matches!(server_name("::1"), Some(ServerName::IpAddress(_))));
        assert!(matches!(
            server_name("127.0.0.1"),
            Some(ServerName::IpAddress(_))
        ));
        assert_eq!(server_name("bad host!"), None);
    }
}

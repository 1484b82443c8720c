//! The engine's one certificate: generated at start, shared read-only by every shard.

use aws_lc_rs::digest;
use shardcast_control::Fingerprint;

#[derive(Clone)]
pub struct Certificate {
    inner: dimpl::DtlsCertificate,
    fingerprint: Fingerprint,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot generate the DTLS certificate: {0}")]
pub struct CertificateError(dimpl::certificate::CertificateError);

impl Certificate {
    /// A fresh self-signed ECDSA P-256 certificate.
    pub fn generate() -> Result<Self, CertificateError> {
        let inner =
            dimpl::certificate::generate_self_signed_certificate().map_err(CertificateError)?;
        Ok(Self::from_dimpl(inner))
    }

    fn from_dimpl(inner: dimpl::DtlsCertificate) -> Self {
        let fingerprint = sha256_fingerprint(&inner.certificate);
        Self { inner, fingerprint }
    }

    /// The SHA-256 fingerprint that goes into `a=fingerprint` of every answer.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The certificate and key in the form dimpl takes.
    pub fn dimpl(&self) -> dimpl::DtlsCertificate {
        self.inner.clone()
    }
}

/// The SHA-256 fingerprint of a DER certificate.
pub fn sha256_fingerprint(der: &[u8]) -> Fingerprint {
    Fingerprint {
        algorithm: "sha-256".into(),
        value: digest::digest(&digest::SHA256, der).as_ref().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_has_sha256_fingerprint_of_its_der() {
        let cert = Certificate::generate().unwrap();
        assert_eq!(cert.fingerprint().algorithm, "sha-256");
        assert_eq!(cert.fingerprint().value.len(), 32);
        assert_eq!(
            cert.fingerprint(),
            &sha256_fingerprint(&cert.dimpl().certificate)
        );
        let other = Certificate::generate().unwrap();
        assert_ne!(cert.fingerprint(), other.fingerprint());
    }
}

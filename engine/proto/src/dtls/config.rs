//! The DTLS settings every session shares, built once per process.

use std::sync::Arc;

use super::DtlsError;

/// dimpl's configuration, shared read-only by every [`DtlsTransport`](super::DtlsTransport).
#[derive(Clone)]
pub struct DtlsConfig {
    dimpl: Arc<dimpl::Config>,
}

impl DtlsConfig {
    pub fn new() -> Result<Self, DtlsError> {
        let config = dimpl::Config::builder()
            // Named rather than left to dimpl's process-wide default, so the one crypto provider
            // of the build is plainly aws-lc-rs.
            .with_crypto_provider(dimpl::crypto::aws_lc_rs::default_provider())
            // WebRTC authenticates both ends by certificate fingerprint.
            .require_client_certificate(true)
            // Datagrams only reach a session from the address that passed ICE connectivity
            // checks, which already proves return reachability; a cookie round trip would only
            // delay the first media packet.
            .use_server_cookie(false)
            .build()
            .map_err(DtlsError::Protocol)?;
        Ok(Self {
            dimpl: Arc::new(config),
        })
    }

    pub(super) fn dimpl(&self) -> Arc<dimpl::Config> {
        Arc::clone(&self.dimpl)
    }
}

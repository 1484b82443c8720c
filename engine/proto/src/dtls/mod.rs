//! DTLS 1.2 for DTLS-SRTP (RFC 5764), driven through dimpl.

mod certificate;
mod config;
mod error;
mod fingerprint;
#[cfg(test)]
mod tests;
mod transport;

pub use certificate::Certificate;
pub use config::DtlsConfig;
pub use error::DtlsError;
pub use transport::{DtlsEvent, DtlsTransport};

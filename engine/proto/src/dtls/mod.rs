//! DTLS 1.2 for DTLS-SRTP (RFC 5764), driven through dimpl.

mod certificate;

pub use certificate::Certificate;

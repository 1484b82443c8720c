//! SRTP and SRTCP (RFC 3711, RFC 7714) keyed from DTLS-SRTP, through rtc-srtp on aws-lc-rs.

mod error;
mod keys;
mod profile;
mod session;
#[cfg(test)]
mod tests;

pub use error::SrtpError;
pub use keys::{SrtpKeys, SrtpMasterKey};
pub use profile::SrtpProfile;
pub use session::SrtpSession;

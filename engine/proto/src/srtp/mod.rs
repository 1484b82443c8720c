//! SRTP and SRTCP (RFC 3711, RFC 7714) keyed from DTLS-SRTP, on aws-lc-rs.
//!
//! Profiles: AEAD_AES_128_GCM, AEAD_AES_256_GCM and AES_CM_128_HMAC_SHA1_80. Packets are
//! encrypted and decrypted in the caller's buffer: once an SSRC has been seen, protecting or
//! unprotecting a packet allocates nothing (the `*_in_place` methods; the copying ones reuse
//! the caller's `out`). Inbound packets are authenticated before any state changes, then checked
//! against a per-SSRC replay window; the rollover counter is estimated per SSRC in both
//! directions.
//!
//! A packet goes through `header` (the clear fields), `index` (ROC || SEQ), `replay` (inbound
//! only), then `transform`: `aes_gcm` (on `gcm_key`, aws-lc's own context) or `aes_cm`, keyed by
//! `kdf`. `session` pairs an `outbound` and an `inbound` side.

mod aes_cm;
mod aes_gcm;
mod error;
mod gcm_key;
mod header;
mod inbound;
mod index;
mod kdf;
mod keys;
mod outbound;
mod profile;
mod replay;
mod session;
mod ssrc_table;
#[cfg(test)]
mod tests;
mod transform;

pub use error::SrtpError;
pub use keys::{SrtpKeys, SrtpMasterKey};
pub use profile::SrtpProfile;
pub use session::SrtpSession;

//! Why a packet could not be protected or unprotected, or a session not be built.

use aws_lc_rs::error::Unspecified;

#[derive(Debug, thiserror::Error)]
pub enum SrtpError {
    /// The authentication tag did not verify: forged, corrupted, or keyed for someone else.
    #[error("SRTP authentication failed")]
    Authentication,
    /// The packet index was already seen, is older than the replay window, or lies before the
    /// first packet of its SSRC.
    #[error("SRTP replay rejected")]
    Replay,
    /// Too short, not version 2, a header longer than the packet, or unencrypted SRTCP.
    #[error("malformed SRTP packet: {0}")]
    Malformed(&'static str),
    /// 2^48 RTP (or 2^31 RTCP) packets of one SSRC under one key: RFC 3711 9.2 says stop.
    #[error("SRTP key exhausted, the session needs new keys")]
    KeyExhausted,
    /// The session already tracks as many SSRCs in this direction as it allows.
    #[error("too many SSRCs in one SRTP session")]
    TooManySsrcs,
    #[error("DTLS-SRTP keying material is {actual} bytes, the profile needs {expected}")]
    KeyingMaterialLength { expected: usize, actual: usize },
    #[error(
        "SRTP master key and salt are {key} and {salt} bytes, the profile needs \
         {expected_key} and {expected_salt}"
    )]
    MasterKeyLength {
        key: usize,
        salt: usize,
        expected_key: usize,
        expected_salt: usize,
    },
    /// The crypto provider refused a key or an operation.
    #[error("SRTP crypto provider failed")]
    Crypto(#[source] Unspecified),
}

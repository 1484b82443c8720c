//! Why a packet could not be protected or unprotected.

use rtc_shared::error::Error as RtcError;

#[derive(Debug, thiserror::Error)]
pub enum SrtpError {
    /// The authentication tag did not verify: forged, corrupted, or keyed for someone else.
    #[error("SRTP authentication failed")]
    Authentication,
    /// The packet index was already seen or is older than the replay window.
    #[error("SRTP replay rejected")]
    Replay,
    /// Too short, or not RTP/RTCP at all.
    #[error("malformed SRTP packet: {0}")]
    Malformed(#[source] RtcError),
    /// 2^48 RTP (or 2^31 RTCP) packets under one key: RFC 3711 9.2 says stop.
    #[error("SRTP key exhausted, the session needs new keys")]
    KeyExhausted,
    #[error("DTLS-SRTP keying material is {actual} bytes, the profile needs {expected}")]
    KeyingMaterialLength { expected: usize, actual: usize },
    /// The crypto provider rejected the keys or the profile.
    #[error("cannot build SRTP context: {0}")]
    Context(#[source] RtcError),
}

impl SrtpError {
    /// Sorts a per-packet failure from rtc-srtp into what the caller acts on.
    pub(super) fn from_packet(error: RtcError) -> Self {
        match error {
            RtcError::ErrFailedToVerifyAuthTag
            | RtcError::RtpFailedToVerifyAuthTag
            | RtcError::RtcpFailedToVerifyAuthTag => Self::Authentication,
            RtcError::SrtpSsrcDuplicated(..) | RtcError::SrtcpSsrcDuplicated(..) => Self::Replay,
            RtcError::ErrExceededMaxPackets => Self::KeyExhausted,
            other => Self::Malformed(other),
        }
    }
}

//! Why a DTLS transport stopped. Every one of these is final for the transport.

#[derive(Debug, thiserror::Error)]
pub enum DtlsError {
    /// The peer's certificate does not hash to the `a=fingerprint` of its SDP.
    #[error("peer certificate does not match the signalled fingerprint")]
    FingerprintMismatch,
    /// The SDP named a hash we do not compute.
    #[error("unsupported fingerprint hash {0:?}")]
    UnsupportedFingerprintAlgorithm(String),
    /// The handshake finished without the peer presenting a certificate.
    #[error("handshake completed without a peer certificate")]
    MissingPeerCertificate,
    /// The handshake finished without negotiating an SRTP profile (no use_srtp).
    #[error("handshake completed without an SRTP profile")]
    NoSrtpProfile,
    /// dimpl negotiated an SRTP profile this build does not know.
    #[error("negotiated SRTP profile {0} is not supported")]
    UnsupportedSrtpProfile(String),
    /// The exported keying material did not fit the negotiated profile.
    #[error("bad SRTP keying material: {0}")]
    Keys(#[from] crate::srtp::SrtpError),
    /// dimpl failed; its errors are all fatal.
    #[error("DTLS: {0}")]
    Protocol(dimpl::Error),
    /// The transport already failed or the peer closed it.
    #[error("DTLS transport is closed")]
    Closed,
}

//! Why a datagram given to ICE was refused. Every variant means "nothing changed".

/// A STUN datagram [`IceLite`](super::IceLite) refused; the caller logs and counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IceError {
    #[error("not a well-formed STUN message")]
    Malformed,
    #[error("not a STUN Binding request or indication")]
    NotBindingRequest,
    #[error("Binding request without FINGERPRINT")]
    MissingFingerprint,
    #[error("Binding request with a wrong FINGERPRINT")]
    BadFingerprint,
    #[error("Binding request without USERNAME")]
    MissingUsername,
    #[error("Binding request for other credentials")]
    WrongUsername,
    #[error("Binding request without MESSAGE-INTEGRITY")]
    MissingIntegrity,
    #[error("Binding request with a wrong MESSAGE-INTEGRITY")]
    BadIntegrity,
    #[error("consent has expired; the session is over")]
    ConsentExpired,
    #[error("could not encode the Binding response")]
    ResponseEncoding,
}

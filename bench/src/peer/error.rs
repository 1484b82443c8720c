//! Why an answer cannot be used, or why something cannot be sent.

use shardcast_proto::dtls::DtlsError;
use shardcast_proto::rtcp::RtcpError;
use shardcast_proto::rtp::RtpError;
use shardcast_proto::srtp::SrtpError;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the answer is not SDP: {0}")]
    NotSdp(String),
    #[error("the answer has no {0}")]
    Missing(&'static str),
    #[error("the answer's {what} cannot be read: {value:?}")]
    Invalid { what: &'static str, value: String },
    #[error("the answer has no usable candidate (UDP, IPv4 or IPv6, not mDNS)")]
    NoCandidate,
    #[error("the answer accepts no codec we offered")]
    NoCommonCodec,
    #[error("the answer says a=setup:{0}, which an answer to actpass cannot")]
    BadSetup(String),
    #[error("an answer was already accepted")]
    AnswerAlreadyAccepted,
    #[error("not connected yet")]
    NotConnected,
    #[error("payload type {0} was not negotiated")]
    UnknownPayloadType(u8),
    #[error(transparent)]
    Dtls(#[from] DtlsError),
    #[error(transparent)]
    Srtp(#[from] SrtpError),
    #[error(transparent)]
    Rtp(#[from] RtpError),
    #[error(transparent)]
    Rtcp(#[from] RtcpError),
}

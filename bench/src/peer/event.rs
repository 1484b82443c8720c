//! What a peer reports to whoever drives it.

use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// A connectivity check succeeded; media will flow to and from `remote`.
    IceConnected { remote: SocketAddr },
    /// DTLS finished and SRTP is keyed: media can be sent and received.
    Connected,
    /// The session is over: every check failed, consent expired, or the server closed DTLS.
    Disconnected { reason: &'static str },
    /// One RTP packet. With `verified` false (lite mode) only the clear header was read:
    /// the payload was neither authenticated nor inspected, so `keyframe_start` is false.
    Rtp {
        ssrc: u32,
        payload_type: u8,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload_len: usize,
        keyframe_start: bool,
        /// The abs-capture-time extension's NTP timestamp, when the sender set it.
        abs_capture_time: Option<u64>,
        /// Arrived as RTX (RFC 4588): `ssrc`, `payload_type` and `seq` are the original's.
        retransmission: bool,
        verified: bool,
    },
    /// The server asks us (a publisher) to resend these packets of `media_ssrc`.
    Nack { media_ssrc: u32, lost: Vec<u16> },
    /// PLI or FIR: the server asks us (a publisher) for a keyframe.
    KeyframeRequest { media_ssrc: u32 },
}

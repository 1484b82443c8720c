//! The client side of one WebRTC session, played the way a browser plays it.
//!
//! [`ClientPeer`] writes the SDP offer, reads any WHIP/WHEP server's answer, runs ICE as the
//! controlling agent, DTLS in whichever role the answer picked, and SRTP; it surfaces received
//! media and feedback as [`PeerEvent`]s. Like the engine's core it is sans-IO: time comes in
//! as `now`, datagrams leave through [`ClientPeer::poll_transmit`].
//!
//! The files follow the session's life: `offer` (what we ask for), `answer` (what the server
//! said), `stun` and `ice` (connectivity), `receive` (media in), `client` (everything
//! tied together).

mod answer;
mod client;
mod config;
mod error;
mod event;
mod ice;
mod offer;
mod receive;
mod stun;

#[cfg(test)]
mod answer_tests;
#[cfg(test)]
mod shard_tests;

pub use answer::RemoteDescription;
pub use client::{ClientPeer, PeerCounters};
pub use config::PeerConfig;
pub use error::PeerError;
pub use event::PeerEvent;
pub use offer::{AUDIO_PAYLOAD_TYPE, H264_PAYLOAD_TYPE, LocalDescription, VP8_PAYLOAD_TYPE};

//! What signaling and the engine say to each other.
//!
//! Signaling parses and negotiates SDP; the engine never does. Signaling sends a shard a
//! [`Request`] describing the negotiated session as plain data, and the shard answers with
//! what signaling needs to write the SDP answer (ICE credentials, fingerprint, candidates,
//! SSRCs). Messages are JSON, one per line, one request per connection on the shard's Unix
//! socket. A shard also answers [`Request::Stats`] with its figures, for `/metrics`.

mod message;
mod placement;
mod stats;

pub use message::*;
pub use placement::{control_socket_path, engine_info_path, shard_for};
pub use stats::*;

/// Serializes a message as one JSON line.
pub fn encode<T: serde::Serialize>(message: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail: no maps with non-string keys, no custom impls.
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Parses one JSON line (the trailing newline is optional).
pub fn decode<T: serde::de::DeserializeOwned>(line: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(line.trim_ascii_end())
}

/// The longest line either side accepts, so a broken peer cannot make the other buffer forever.
pub const MAX_LINE: usize = 256 * 1024;

//! What each viewer saw, measured the way a browser's receiver would, and the summary over
//! all viewers.
//!
//! Pure logic fed by the viewer peer: every decrypted RTP packet goes into the track's
//! [`ReceiveLog`] with an explicit `now`; the peer asks it for NACKs ([`ReceiveLog::poll_nack`])
//! and keyframe requests ([`ReceiveLog::needs_keyframe`]) and reports what it sent. At the
//! end each log's [`ViewerStats`] is added to a [`Summary`] per track kind. Files in the order
//! a packet meets them: `history` (duplicates, neighbours), `missing` (gaps, NACKs,
//! recovery deadline), `frames` (complete frames), `freeze`, `bitrate`, `histogram`
//! (latency), then `receive_log` joining them, `stats` and `summary`.

mod bitrate;
mod config;
mod frames;
mod freeze;
mod histogram;
mod history;
mod missing;
mod percentile;
mod receive_log;
mod stats;
mod summary;
#[cfg(test)]
mod tests;

pub use config::{MeasurementWindow, ReceiveConfig, TrackKind};
pub use histogram::{LatencyHistogram, LatencyPercentiles};
pub use percentile::{Spread, percentile};
pub use receive_log::{ReceiveLog, ReceivedPacket};
pub use stats::{Counters, ViewerStats};
pub use summary::{BitrateSpread, Summary};

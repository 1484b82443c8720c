//! `shardcast-bench baseline`: the engine's fan-out without the engine, sent through plain
//! syscalls or glommio, to set beside shardcast's own figures.
//!
//! A publisher stream shaped like the bench's (the same VP8 and Opus files at their own pace,
//! ~1.5 Mbps, ~200 packets/s) is fanned out to N viewers: for each packet and each viewer,
//! the engine's egress rewrites the header and the engine's SRTP encrypts it (`viewers`),
//! then a `sender` puts the datagram on the wire. The viewers are N UDP sockets on 127.0.0.1
//! drained by one thread (`receivers`), so the count of what arrived checks the count of what
//! was sent. The figure that matters is the sender thread's CPU time per viewer-packet.

mod receivers;
mod report;
mod sender;
mod stream;
#[cfg(test)]
mod tests;
mod viewers;

pub use report::BaselineReport;
pub use sender::SenderKind;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use shardcast_proto::srtp::SrtpError;

use crate::media::MediaError;
use receivers::{Receivers, STILL_SENDING};
use viewers::Viewers;

/// Seeds the viewers' SSRCs, numbering and SRTP keys: runs are repeatable.
const SEED: u64 = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct BaselineConfig {
    pub viewers: usize,
    /// How long the publisher stream plays.
    pub duration: Duration,
    pub sender: SenderKind,
    /// The CPU to pin the sender to.
    pub cpu: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("media files: {0}")]
    Media(#[from] MediaError),
    #[error("SRTP: {0}")]
    Srtp(#[from] SrtpError),
    #[error("cannot pin the sender to CPU {0}")]
    Pin(usize),
    #[error("the sender failed: {0}")]
    SenderFailed(String),
    #[error("the sender did not finish a {0:?} stream in time")]
    SenderHung(Duration),
    #[error("the receiving thread panicked")]
    ReceiverPanicked,
}

/// Binds the viewers' sockets, plays the stream through the chosen sender, then counts what
/// arrived.
pub fn run(config: &BaselineConfig) -> Result<BaselineReport, BaselineError> {
    let receivers = Receivers::bind(config.viewers)?;
    let viewers = Viewers::new(&receivers.addresses()?, SEED)?;
    let sent_total = Arc::new(AtomicU64::new(STILL_SENDING));
    let receiving = receivers.spawn(sent_total.clone())?;
    let sent = sender::run(config, viewers);
    let total = sent.as_ref().map_or(0, |sent| sent.datagrams);
    sent_total.store(total, Ordering::Release);
    let received = receiving
        .join()
        .map_err(|_| BaselineError::ReceiverPanicked)??;
    Ok(BaselineReport::new(config, &sent?, &received))
}

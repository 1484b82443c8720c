//! Transport-wide congestion control feedback to a publisher: when each packet it numbered
//! arrived. Its send-side bandwidth estimate (and with it the simulcast layers it sends)
//! grows on this feedback; without it a browser only has our receiver reports' loss.
//!
//! Every packet with the transport-wide sequence number counts, RTX and padding-only probes
//! included: a browser probes for bandwidth with padding, and the probe's arrival times are
//! what tells it the bandwidth is there.

use std::time::{Duration, Instant};

use shardcast_control::MediaSection;

use crate::rtcp::{MAX_FEEDBACK_LEN, PacketArrival, TransportCcHeader, write_transport_cc};
use crate::rtp::{ExtensionKind, ExtensionMap, RtpPacket, SequenceUnwrapper};

/// How often feedback goes out while packets arrive (libwebrtc's receiver sends every
/// 50-250 ms, scaled to the bitrate; the shortest keeps a ramp-up quick).
pub const FEEDBACK_INTERVAL: Duration = Duration::from_millis(50);
/// Arrivals waiting that make feedback go out at once instead of at the interval.
pub const FEEDBACK_BATCH: usize = 100;
/// Arrivals remembered at most; more wait for no one (feedback is due long before).
const MAX_PENDING: usize = 1024;
/// A sequence number further ahead than this after the last one reported starts over
/// there instead of reporting the gap lost (the publisher restarted its numbering).
const MAX_GAP: u64 = 1 << 14;

/// The arrivals of one publisher session not yet reported, and the feedback they become.
#[derive(Debug)]
pub struct ArrivalFeedback {
    extension_id: u8,
    unwrapper: SequenceUnwrapper,
    /// Arrival times count from the first arrival.
    epoch: Option<Instant>,
    /// In ascending sequence order, each sequence number once.
    pending: Vec<PacketArrival>,
    /// The first sequence number the next feedback describes; everything below it was.
    next_seq: Option<u64>,
    feedback_count: u8,
    deadline: Option<Instant>,
    /// The SSRC of the latest packet, named in the feedback (receivers ignore it).
    media_ssrc: u32,
    /// The feedback packet being handed out.
    buffer: Vec<u8>,
    sent: u64,
}

impl ArrivalFeedback {
    /// A recorder when the publisher negotiated the transport-wide sequence number extension.
    pub fn negotiated(media: &[MediaSection]) -> Option<Self> {
        // Under BUNDLE one extension ID means the same thing in every section.
        let extensions: Vec<_> = media.iter().flat_map(|m| m.extensions.clone()).collect();
        ExtensionMap::new(&extensions)
            .id_of(ExtensionKind::TransportCc)
            .map(Self::new)
    }

    pub fn new(extension_id: u8) -> Self {
        Self {
            extension_id,
            unwrapper: SequenceUnwrapper::new(),
            epoch: None,
            pending: Vec::with_capacity(MAX_PENDING),
            next_seq: None,
            feedback_count: 0,
            deadline: None,
            media_ssrc: 0,
            buffer: Vec::with_capacity(MAX_FEEDBACK_LEN),
            sent: 0,
        }
    }

    /// Notes the arrival of a decrypted packet at `now`, if it carries a transport-wide
    /// sequence number. A number already reported (a late arrival) or already noted is
    /// ignored: the first arrival counts.
    pub fn record(&mut self, now: Instant, rtp: &RtpPacket<'_>) {
        let Some(&[high, low]) = rtp.extension(self.extension_id) else {
            return;
        };
        let seq = self.unwrapper.unwrap(u16::from_be_bytes([high, low]));
        let epoch = *self.epoch.get_or_insert(now);
        let arrival_us =
            i64::try_from(now.saturating_duration_since(epoch).as_micros()).unwrap_or(i64::MAX);
        if seq < *self.next_seq.get_or_insert(seq) || self.pending.len() >= MAX_PENDING {
            return;
        }
        let Err(index) = self.pending.binary_search_by_key(&seq, |a| a.seq) else {
            return;
        };
        self.pending
            .insert(index, PacketArrival { seq, arrival_us });
        self.media_ssrc = rtp.ssrc();
        self.deadline = if self.pending.len() >= FEEDBACK_BATCH {
            Some(now)
        } else {
            Some(self.deadline.unwrap_or(now + FEEDBACK_INTERVAL))
        };
    }

    /// When feedback is due next; `None` while nothing waits to be reported.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The next feedback packet (plain RTCP, one per datagram) when feedback is due at
    /// `now`; call until `None`.
    pub fn poll_feedback(&mut self, now: Instant, sender_ssrc: u32) -> Option<&[u8]> {
        if self.deadline.is_none_or(|at| at > now) {
            return None;
        }
        let (Some(first), Some(mut base)) = (self.pending.first(), self.next_seq) else {
            self.deadline = None;
            return None;
        };
        if first.seq > base + MAX_GAP {
            base = first.seq;
        }
        let header = TransportCcHeader {
            sender_ssrc,
            media_ssrc: self.media_ssrc,
            feedback_count: self.feedback_count,
        };
        self.buffer.clear();
        let written = write_transport_cc(&mut self.buffer, &header, base, &self.pending);
        let Some(written) = written else {
            self.pending.clear();
            self.deadline = None;
            return None;
        };
        self.pending.drain(..written.arrivals);
        self.next_seq = Some(written.next_seq);
        self.feedback_count = self.feedback_count.wrapping_add(1);
        self.sent += 1;
        // What did not fit goes in the next packet, right away.
        self.deadline = (!self.pending.is_empty()).then_some(now);
        Some(&self.buffer)
    }

    /// Feedback packets written so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
#[path = "arrival_feedback_tests.rs"]
mod tests;

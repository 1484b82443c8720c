//! One viewer track's receiver, as a browser would run it: it accounts every decrypted RTP
//! packet, and tells the viewer peer which NACKs and keyframe requests to send.
//!
//! Latency: the publisher writes its send time into every packet (abs-capture-time). The
//! publisher and the viewers live in one process and share one monotonic clock, so the
//! viewer peer converts the extension back to an [`Instant`] of that clock and passes it
//! here; `now - send_time` is then the end-to-end latency without any clock offset.

use std::time::{Duration, Instant};

use shardcast_proto::rtp::SequenceUnwrapper;

use super::bitrate::BitrateMeter;
use super::config::{ReceiveConfig, TrackKind};
use super::frames::{CompletedFrame, FrameAssembler};
use super::freeze::FreezeDetector;
use super::histogram::LatencyHistogram;
use super::history::{PacketHistory, Received};
use super::missing::{Arrival, MissingRegister};
use super::stats::{Counters, ViewerStats};

/// One decrypted RTP packet, as the viewer peer hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedPacket {
    pub sequence_number: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// The payload starts a keyframe (the codec module's keyframe detection).
    pub keyframe_start: bool,
    pub payload_len: usize,
    /// The publisher's send time on the bench's clock, when the packet carried it.
    pub send_time: Option<Instant>,
}

#[derive(Debug)]
pub struct ReceiveLog {
    config: ReceiveConfig,
    sequences: SequenceUnwrapper,
    history: PacketHistory,
    /// Also counts the losses, by when each gap was found.
    missing: MissingRegister,
    frames: FrameAssembler,
    freezes: FreezeDetector,
    bitrate: BitrateMeter,
    /// Everything else, counted when it happens inside the window.
    counters: Counters,
    longest_freeze: Duration,
    latency: LatencyHistogram,
    join_posted: Option<Instant>,
    first_packet: Option<Instant>,
    join_time: Option<Duration>,
    first_keyframe_time: Option<Duration>,
    has_keyframe: bool,
    newest_frame: Option<u64>,
    /// The newest sequence number given up on since the last usable keyframe: pictures
    /// after it cannot be decoded until a keyframe that starts later arrives.
    broken_after: Option<u64>,
    last_keyframe_request: Option<Instant>,
}

impl ReceiveLog {
    pub fn new(config: ReceiveConfig) -> Self {
        Self {
            config,
            sequences: SequenceUnwrapper::new(),
            history: PacketHistory::new(config.history_len),
            missing: MissingRegister::new(&config),
            frames: FrameAssembler::default(),
            freezes: FreezeDetector::new(config.freeze_threshold),
            bitrate: BitrateMeter::new(config.bitrate_window),
            counters: Counters::default(),
            longest_freeze: Duration::ZERO,
            latency: LatencyHistogram::default(),
            join_posted: None,
            first_packet: None,
            join_time: None,
            first_keyframe_time: None,
            has_keyframe: false,
            newest_frame: None,
            broken_after: None,
            last_keyframe_request: None,
        }
    }

    /// The WHEP offer was posted: join times count from here.
    pub fn on_join_posted(&mut self, now: Instant) {
        self.join_posted = Some(now);
    }

    pub fn on_packet(&mut self, now: Instant, packet: ReceivedPacket) {
        self.expire(now);
        let counting = self.config.window.contains(now);
        if counting {
            self.counters.bytes += packet.payload_len as u64;
        }
        self.bitrate.on_bytes(now, packet.payload_len);
        let sequence = self.sequences.unwrap(packet.sequence_number);
        if self.history.contains(sequence) {
            self.counters.duplicates += u64::from(counting);
            return;
        }
        let arrival = self.missing.on_arrival(now, sequence);
        if counting {
            self.counters.packets += 1;
            match arrival {
                // The register counts these by when their gap was found.
                Arrival::Newest | Arrival::Recovered | Arrival::Late => {}
                Arrival::Reordered => self.counters.reordered += 1,
                Arrival::Unknown => self.counters.unclassified += 1,
            }
            if let Some(sent) = packet.send_time {
                self.latency.record(now.saturating_duration_since(sent));
            }
        }
        if self.first_packet.is_none() {
            self.first_packet = Some(now);
            self.join_time = self.since_join_posted(now);
        }
        // For audio every packet is a whole frame that decodes on its own.
        let audio = self.config.kind == TrackKind::Audio;
        let received = Received {
            timestamp: packet.timestamp,
            marker: packet.marker || audio,
            keyframe_start: packet.keyframe_start || audio,
        };
        self.history.insert(sequence, received);
        if !self.history.contains(sequence) {
            return;
        }
        for frame in self.frames.on_packet(&self.history, sequence, received) {
            self.on_frame_complete(now, frame, counting);
        }
    }

    /// The viewer sent NACKs for `count` sequence numbers.
    pub fn on_nack_sent(&mut self, now: Instant, count: usize) {
        if self.config.window.contains(now) {
            self.counters.nacks_sent += count as u64;
        }
    }

    /// The viewer sent a keyframe request (PLI); the next one waits for the request interval.
    pub fn on_pli_sent(&mut self, now: Instant) {
        self.last_keyframe_request = Some(now);
        if self.config.window.contains(now) {
            self.counters.plis_sent += 1;
        }
    }

    /// The sequence numbers to NACK now: losses older than the reorder window, each at most
    /// `max_nacks` times and `nack_interval` apart.
    pub fn poll_nack(&mut self, now: Instant) -> Vec<u16> {
        self.expire(now);
        let due = self.missing.poll_nack(now);
        // The low 16 bits are the sequence number on the wire.
        due.into_iter().map(|sequence| sequence as u16).collect()
    }

    /// Whether to send a keyframe request now: media flows but no keyframe came within one
    /// request interval, or a loss was given up on since the last keyframe; never sooner
    /// than the request interval after the previous request.
    pub fn needs_keyframe(&mut self, now: Instant) -> bool {
        self.expire(now);
        self.keyframe_request_due().is_some_and(|due| now >= due)
    }

    /// The next moment [`Self::poll_nack`] or [`Self::needs_keyframe`] may have work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let keyframe = self.keyframe_request_due();
        match (self.missing.next_timeout(), keyframe) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn stats(&self, now: Instant) -> ViewerStats {
        let losses = self.missing.counts();
        ViewerStats {
            counters: Counters {
                lost: losses.lost,
                recovered: losses.recovered,
                unrecovered: losses.unrecovered,
                late: losses.late,
                ..self.counters
            },
            longest_freeze: self.longest_freeze,
            frozen_for: self.freezes.ongoing(now),
            join_time: self.join_time,
            first_keyframe_time: self.first_keyframe_time,
            latency: self.latency.clone(),
            bitrate_bps: self.bitrate.bits_per_second(now),
        }
    }

    fn keyframe_request_due(&self) -> Option<Instant> {
        if self.config.kind == TrackKind::Audio {
            return None;
        }
        let interval = self.config.keyframe_request_interval;
        let first_packet = self.first_packet?;
        let wanted_from = if !self.has_keyframe {
            // Servers send a keyframe to a joining viewer: give it one interval to arrive.
            first_packet + interval
        } else if self.broken_after.is_some() {
            first_packet
        } else {
            return None;
        };
        Some(match self.last_keyframe_request {
            Some(last) => wanted_from.max(last + interval),
            None => wanted_from,
        })
    }

    fn expire(&mut self, now: Instant) {
        let abandoned = self.missing.expire(now);
        if abandoned.is_some() {
            self.broken_after = self.broken_after.max(abandoned);
        }
    }

    fn on_frame_complete(&mut self, now: Instant, frame: CompletedFrame, counting: bool) {
        if self
            .newest_frame
            .is_none_or(|newest| frame.timestamp > newest)
        {
            self.newest_frame = Some(frame.timestamp);
            let freeze = self.freezes.on_frame(now);
            if counting {
                self.counters.frames += 1;
                if let Some(freeze) = freeze {
                    self.counters.freezes += 1;
                    self.longest_freeze = self.longest_freeze.max(freeze);
                }
            }
        }
        if frame.keyframe {
            if !self.has_keyframe {
                self.has_keyframe = true;
                self.first_keyframe_time = self.since_join_posted(now);
            }
            if self
                .broken_after
                .is_some_and(|broken| frame.first_sequence > broken)
            {
                self.broken_after = None;
            }
        }
    }

    /// The time since the offer was posted, when the post was inside the window.
    fn since_join_posted(&self, now: Instant) -> Option<Duration> {
        let posted = self
            .join_posted
            .filter(|&at| self.config.window.contains(at))?;
        Some(now.saturating_duration_since(posted))
    }
}

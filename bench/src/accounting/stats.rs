//! What one viewer track measured, as counters that add up across viewers.

use std::time::Duration;

use super::histogram::LatencyHistogram;

/// Event counts of one track (or, summed, of many). Only events inside the measurement
/// window are counted, and a missing packet's whole story (`lost`, `recovered`,
/// `unrecovered`, `late`) is an event of the moment its gap was found: so `recovered +
/// unrecovered <= lost` and `late <= unrecovered` in any window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets received once or more (a duplicate is not counted again).
    pub packets: u64,
    /// Payload bytes received, duplicates included: what the viewer's link carried.
    pub bytes: u64,
    pub duplicates: u64,
    /// Packets that filled a gap before the reorder window ran out.
    pub reordered: u64,
    /// Sequence numbers still missing when the reorder window ran out.
    pub lost: u64,
    /// Losses that arrived before the recovery deadline (retransmitted or late).
    pub recovered: u64,
    /// Losses not repaired by the recovery deadline. Losses still pending at the snapshot
    /// are neither recovered nor unrecovered.
    pub unrecovered: u64,
    /// Unrecovered losses that arrived after all.
    pub late: u64,
    /// Older packets that were neither awaited nor remembered, so cannot be classified:
    /// duplicates of forgotten packets, or packets from before the first one.
    pub unclassified: u64,
    /// Sequence numbers the viewer NACKed.
    pub nacks_sent: u64,
    pub plis_sent: u64,
    /// Complete frames that were newer than every frame completed before them.
    pub frames: u64,
    /// Waits for the next complete frame longer than the freeze threshold, once ended.
    pub freezes: u64,
}

impl Counters {
    pub fn add(&mut self, other: &Self) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.lost += other.lost;
        self.recovered += other.recovered;
        self.unrecovered += other.unrecovered;
        self.late += other.late;
        self.unclassified += other.unclassified;
        self.nacks_sent += other.nacks_sent;
        self.plis_sent += other.plis_sent;
        self.frames += other.frames;
        self.freezes += other.freezes;
    }
}

/// A snapshot of one viewer track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerStats {
    pub counters: Counters,
    pub longest_freeze: Duration,
    /// How long the viewer has waited for a new frame at snapshot time, when that is
    /// already a freeze. Not counted in `counters.freezes`: at the end of a run it may be
    /// the publisher stopping rather than the server failing.
    pub frozen_for: Option<Duration>,
    /// From posting the WHEP offer to the first media packet; `None` when no packet came or
    /// the post was outside the measurement window.
    pub join_time: Option<Duration>,
    /// From posting the WHEP offer to the first complete keyframe, likewise.
    pub first_keyframe_time: Option<Duration>,
    /// End-to-end latency of the packets that carried a send time.
    pub latency: LatencyHistogram,
    /// Receive bitrate over the configured window, at snapshot time.
    pub bitrate_bps: u64,
}

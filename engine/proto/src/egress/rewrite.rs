//! Per-viewer sequence number and timestamp rewriting.
//!
//! A viewer's track must look like one unbroken RTP stream even though the packets behind it
//! come from a succession of mappings: the publisher reconnects with a new SSRC and random
//! sequence/timestamp bases, a viewer joins mid-stream, or the viewer moves to another
//! simulcast layer (each layer numbers its packets on its own). Each mapping, one source
//! layer, gets fixed offsets, chosen when its first packet arrives so that the output
//! continues where it stopped; every later packet of that layer (reordered or retransmitted
//! too) maps through the same offsets.
//!
//! Sources are identified by an epoch number that grows with each new source: a packet
//! with a larger epoch than the current one starts a new source, a smaller one is stale.
//! Which layer to forward is the track's decision; a packet of another layer of the current
//! source starts a mapping for that layer. The mapping before the current one is kept, so a
//! NACK for a packet sent just before a switch still finds its way back.

use std::time::{Duration, Instant};

use crate::rtp::{SequenceUnwrapper, is_newer_ts};

/// Keeps one outgoing track continuous across source and layer changes. See the module docs.
#[derive(Debug, Clone)]
pub struct TrackRewriter {
    first_seq: u16,
    first_ts: u32,
    current: Option<SourceMapping>,
    /// The mapping before the current one, and the last sequence number it sent.
    previous: Option<(SourceMapping, u16)>,
    last: Option<LastOutput>,
}

/// Which of the track's mappings a packet went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    Current,
    Previous,
}

/// A packet's numbers on the track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub seq: u16,
    pub ts: u32,
    /// It started a new mapping.
    pub started: bool,
    /// It is the newest packet sent so far (not a late one filling a gap).
    pub newest: bool,
}

/// What a viewer's sequence number stands for: the layer packet behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePacket {
    pub source: u64,
    pub layer: u8,
    pub seq: u16,
}

/// Offsets from one source layer's numbering to the track's.
#[derive(Debug, Clone)]
struct SourceMapping {
    source: u64,
    layer: u8,
    seq_offset: u16,
    ts_offset: u32,
    input_seqs: SequenceUnwrapper,
    /// Extended input sequence number of the mapping's first packet; anything older is dropped.
    first_input: u64,
    first_output_seq: u16,
}

impl SourceMapping {
    fn is(&self, source: u64, layer: u8) -> bool {
        self.source == source && self.layer == layer
    }

    /// The source packet behind `out_seq`, if it lies between this mapping's first output
    /// and `last_seq`.
    fn source_packet(&self, out_seq: u16, last_seq: u16) -> Option<SourcePacket> {
        let sent_span = last_seq.wrapping_sub(self.first_output_seq);
        (out_seq.wrapping_sub(self.first_output_seq) <= sent_span).then(|| SourcePacket {
            source: self.source,
            layer: self.layer,
            seq: out_seq.wrapping_sub(self.seq_offset),
        })
    }

    /// The track's numbers of a packet already forwarded through this mapping.
    fn map(&self, seq: u16, ts: u32) -> Option<(u16, u32)> {
        (self.input_seqs.peek(seq) >= self.first_input).then(|| {
            (
                seq.wrapping_add(self.seq_offset),
                ts.wrapping_add(self.ts_offset),
            )
        })
    }
}

/// The newest output so far, where the next source continues from.
#[derive(Debug, Clone, Copy)]
struct LastOutput {
    seq: u16,
    ts: u32,
    /// When `ts` was first sent: the clock that later timestamps extrapolate from.
    ts_sent_at: Instant,
}

impl TrackRewriter {
    /// The track's first packet will carry `first_seq` and `first_ts` (pick them at random).
    pub fn new(first_seq: u16, first_ts: u32) -> Self {
        Self {
            first_seq,
            first_ts,
            current: None,
            previous: None,
            last: None,
        }
    }

    /// Maps a packet of `layer` of `source` to the track's numbers, or None for a packet to
    /// drop: one from an older source, or older than the first packet forwarded through its
    /// mapping. A packet of a newer source, or of another layer, starts a new mapping.
    ///
    /// `clock_rate` is the payload's RTP clock (90000 for video, 48000 for Opus).
    pub fn rewrite(
        &mut self,
        source: u64,
        layer: u8,
        seq: u16,
        ts: u32,
        clock_rate: u32,
        now: Instant,
    ) -> Option<Rewritten> {
        let started = match &self.current {
            Some(mapping) if source < mapping.source => return None,
            Some(mapping) if mapping.is(source, layer) => false,
            _ => {
                self.start_mapping(source, layer, seq, ts, clock_rate, now);
                true
            }
        };
        let mapping = self.current.as_mut()?;
        let previous_highest = mapping.input_seqs.highest();
        let extended = mapping.input_seqs.unwrap(seq);
        if extended < mapping.first_input {
            return None;
        }
        let out_seq = seq.wrapping_add(mapping.seq_offset);
        let out_ts = ts.wrapping_add(mapping.ts_offset);

        let newest = previous_highest.is_none_or(|highest| extended > highest);
        if let Some(last) = self.last.as_mut() {
            if newest {
                last.seq = out_seq;
            }
            if is_newer_ts(out_ts, last.ts) {
                last.ts = out_ts;
                last.ts_sent_at = now;
            }
        }
        Some(Rewritten {
            seq: out_seq,
            ts: out_ts,
            started,
            newest,
        })
    }

    /// The highest sequence number and the newest timestamp sent so far.
    pub fn last_output(&self) -> Option<(u16, u32)> {
        self.last.map(|last| (last.seq, last.ts))
    }

    /// The track's RTP time at `now`, extrapolated from the newest timestamp sent: what a
    /// sender report pairs with the NTP time of `now`.
    pub fn rtp_time_at(&self, now: Instant, clock_rate: u32) -> Option<u32> {
        let last = self.last?;
        let elapsed = now.saturating_duration_since(last.ts_sent_at);
        Some(last.ts.wrapping_add(ticks(elapsed, clock_rate)))
    }

    /// The source layer packet behind an output sequence number, for answering a viewer's
    /// NACK from the stream's retransmission cache. None when the number was not sent
    /// through the current mapping or the one before.
    pub fn source_sequence(&self, out_seq: u16) -> Option<SourcePacket> {
        let last = self.last?;
        let current = self.current.as_ref()?;
        current.source_packet(out_seq, last.seq).or_else(|| {
            let (previous, last_seq) = self.previous.as_ref()?;
            previous.source_packet(out_seq, *last_seq)
        })
    }

    /// The track's numbers of a packet already forwarded, without changing anything: what a
    /// retransmission of it carries, and the mapping it went through. None for a packet of
    /// another source or layer, or from before its mapping's first forwarded packet.
    pub fn map(&self, source: u64, layer: u8, seq: u16, ts: u32) -> Option<(u16, u32, Mapping)> {
        if let Some(current) = self.current.as_ref().filter(|m| m.is(source, layer)) {
            let (seq, ts) = current.map(seq, ts)?;
            return Some((seq, ts, Mapping::Current));
        }
        let (previous, _) = self
            .previous
            .as_ref()
            .filter(|(m, _)| m.is(source, layer))?;
        let (seq, ts) = previous.map(seq, ts)?;
        Some((seq, ts, Mapping::Previous))
    }

    /// Chooses offsets so this packet lands right after the last output (or at the track's
    /// first numbers), with the timestamp advanced by the wall time since then.
    fn start_mapping(
        &mut self,
        source: u64,
        layer: u8,
        seq: u16,
        ts: u32,
        clock_rate: u32,
        now: Instant,
    ) {
        let (out_seq, out_ts) = match self.last {
            None => (self.first_seq, self.first_ts),
            Some(last) => {
                let elapsed = now.saturating_duration_since(last.ts_sent_at);
                // Two frames must never share a timestamp, even when no time seems to pass.
                let advance = ticks(elapsed, clock_rate).max(1);
                (last.seq.wrapping_add(1), last.ts.wrapping_add(advance))
            }
        };
        let input_seqs = SequenceUnwrapper::new();
        let mapping = SourceMapping {
            source,
            layer,
            seq_offset: out_seq.wrapping_sub(seq),
            ts_offset: out_ts.wrapping_sub(ts),
            first_input: input_seqs.peek(seq),
            input_seqs,
            first_output_seq: out_seq,
        };
        if let (Some(current), Some(last)) = (self.current.replace(mapping), self.last) {
            self.previous = Some((current, last.seq));
        }
        self.last = Some(LastOutput {
            seq: out_seq,
            ts: out_ts,
            ts_sent_at: now,
        });
    }
}

/// `elapsed` in RTP clock ticks, modulo 2^32 like the timestamps it is added to.
fn ticks(elapsed: Duration, clock_rate: u32) -> u32 {
    (elapsed.as_nanos() * u128::from(clock_rate) / 1_000_000_000) as u32
}

#[cfg(test)]
mod tests;

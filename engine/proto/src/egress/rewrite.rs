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

use crate::rtp::SequenceUnwrapper;

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

/// RTP timestamp order within half the 32-bit space (RFC 3550 serial arithmetic).
fn is_newer_ts(ts: u32, than: u32) -> bool {
    (ts.wrapping_sub(than) as i32) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: u32 = 90_000;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// A packet of layer 0 of `source`, as the track numbers it.
    fn put(
        track: &mut TrackRewriter,
        source: u64,
        seq: u16,
        ts: u32,
        rate: u32,
        now: Instant,
    ) -> Option<(u16, u32)> {
        track
            .rewrite(source, 0, seq, ts, rate, now)
            .map(|r| (r.seq, r.ts))
    }

    fn packet(source: u64, layer: u8, seq: u16) -> Option<SourcePacket> {
        Some(SourcePacket { source, layer, seq })
    }

    #[test]
    fn first_source_starts_at_the_chosen_numbers() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(1000, 5000);
        assert_eq!(track.last_output(), None);
        assert_eq!(track.rtp_time_at(start, VIDEO), None);
        assert_eq!(
            put(&mut track, 1, 40000, 123_456, VIDEO, start),
            Some((1000, 5000))
        );
        assert_eq!(
            put(&mut track, 1, 40001, 126_456, VIDEO, start + ms(33)),
            Some((1001, 8000))
        );
        assert_eq!(track.last_output(), Some((1001, 8000)));
    }

    #[test]
    fn input_and_output_wrap_around() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(65534, u32::MAX - 1000);
        let mut now = start;
        let mut out = Vec::new();
        for (seq, ts) in [
            (65535u16, u32::MAX - 2999),
            (0, u32::MAX - 9),
            (1, 2990),
            (2, 5990),
        ] {
            out.push(put(&mut track, 7, seq, ts, VIDEO, now).unwrap());
            now += ms(33);
        }
        assert_eq!(
            out,
            vec![
                (65534, u32::MAX - 1000),
                (65535, 1989),
                (0, 4989),
                (1, 7989)
            ]
        );
        assert_eq!(track.last_output(), Some((1, 7989)));
    }

    #[test]
    fn reordered_and_retransmitted_packets_map_consistently() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(100, 0);
        assert_eq!(put(&mut track, 1, 10, 900, VIDEO, start), Some((100, 0)));
        assert_eq!(
            put(&mut track, 1, 13, 3900, VIDEO, start + ms(40)),
            Some((103, 3000))
        );
        // Late packets fill the gap and do not move the newest output back.
        assert_eq!(
            put(&mut track, 1, 11, 900, VIDEO, start + ms(41)),
            Some((101, 0))
        );
        assert_eq!(
            put(&mut track, 1, 12, 3900, VIDEO, start + ms(42)),
            Some((102, 3000))
        );
        assert_eq!(track.last_output(), Some((103, 3000)));
        // A retransmission of a packet already sent maps to the same numbers.
        assert_eq!(
            put(&mut track, 1, 11, 900, VIDEO, start + ms(90)),
            Some((101, 0))
        );
        // Older than the source's first forwarded packet: the viewer never had its frame.
        assert_eq!(put(&mut track, 1, 9, 0, VIDEO, start + ms(91)), None);
        assert_eq!(put(&mut track, 1, 65000, 0, VIDEO, start + ms(91)), None);
    }

    #[test]
    fn new_source_continues_the_track() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(500, 1_000_000);
        put(&mut track, 1, 20, 7000, VIDEO, start).unwrap();
        put(&mut track, 1, 21, 10000, VIDEO, start + ms(33)).unwrap();
        assert_eq!(track.last_output(), Some((501, 1_003_000)));

        // The publisher returns 2 s later with fresh random numbering.
        let back = start + ms(33) + ms(2000);
        assert_eq!(
            put(&mut track, 2, 60000, 42, VIDEO, back),
            Some((502, 1_003_000 + 180_000))
        );
        assert_eq!(
            put(&mut track, 2, 60001, 3042, VIDEO, back + ms(33)),
            Some((503, 1_186_000))
        );
        // Late packets of the old source no longer belong to this track.
        assert_eq!(put(&mut track, 1, 22, 13000, VIDEO, back + ms(34)), None);
        assert_eq!(track.last_output(), Some((503, 1_186_000)));
    }

    #[test]
    fn immediate_switch_still_advances_the_timestamp() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(0, 0);
        put(&mut track, 1, 5, 5, VIDEO, start).unwrap();
        assert_eq!(put(&mut track, 2, 9, 9, VIDEO, start), Some((1, 1)));
    }

    #[test]
    fn switch_uses_the_time_the_newest_timestamp_was_first_sent() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(0, 0);
        // Three packets of one frame spread over 10 ms.
        put(&mut track, 1, 1, 100, VIDEO, start).unwrap();
        put(&mut track, 1, 2, 100, VIDEO, start + ms(5)).unwrap();
        put(&mut track, 1, 3, 100, VIDEO, start + ms(10)).unwrap();
        assert_eq!(
            put(&mut track, 2, 1, 0, VIDEO, start + ms(100)),
            Some((3, 9000))
        );
    }

    #[test]
    fn rtp_time_extrapolates_from_the_newest_timestamp() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(0, u32::MAX - 47);
        put(&mut track, 1, 0, 0, 48_000, start).unwrap();
        assert_eq!(track.rtp_time_at(start, 48_000), Some(u32::MAX - 47));
        assert_eq!(track.rtp_time_at(start + ms(20), 48_000), Some(912));
        // A time before the last packet does not run the clock backwards.
        put(&mut track, 1, 1, 960, 48_000, start + ms(20)).unwrap();
        assert_eq!(track.rtp_time_at(start + ms(10), 48_000), Some(912));
    }

    #[test]
    fn maps_output_sequence_numbers_back_for_nacks() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(65530, 0);
        assert_eq!(track.source_sequence(65530), None);
        for seq in 100..110u16 {
            put(&mut track, 4, seq, 0, VIDEO, start).unwrap();
        }
        assert_eq!(track.source_sequence(65530), packet(4, 0, 100));
        assert_eq!(track.source_sequence(3), packet(4, 0, 109));
        assert_eq!(track.source_sequence(4), None);
        assert_eq!(track.source_sequence(65529), None);

        // After a switch, what went just before it still maps back, one mapping deep.
        put(&mut track, 5, 7, 0, VIDEO, start + ms(1)).unwrap();
        assert_eq!(track.source_sequence(4), packet(5, 0, 7));
        assert_eq!(track.source_sequence(3), packet(4, 0, 109));
        track.rewrite(5, 2, 900, 0, VIDEO, start + ms(2)).unwrap();
        assert_eq!(track.source_sequence(5), packet(5, 2, 900));
        assert_eq!(track.source_sequence(4), packet(5, 0, 7));
        assert_eq!(track.source_sequence(3), None, "two mappings back");
    }

    #[test]
    fn a_layer_switch_continues_the_track_and_old_layer_packets_map_to_their_own() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(10, 1000);
        let low = track.rewrite(1, 0, 500, 90_000, VIDEO, start).unwrap();
        assert_eq!(
            (low.seq, low.ts, low.started, low.newest),
            (10, 1000, true, true)
        );
        track
            .rewrite(1, 0, 501, 93_000, VIDEO, start + ms(33))
            .unwrap();
        // Layer 2 numbers its packets far away; its keyframe lands right after.
        let high = track
            .rewrite(1, 2, 40_000, 7, VIDEO, start + ms(66))
            .unwrap();
        assert_eq!(
            (high.seq, high.ts, high.started),
            (12, 1000 + 3000 + 2970, true)
        );
        let next = track
            .rewrite(1, 2, 40_001, 3007, VIDEO, start + ms(99))
            .unwrap();
        assert_eq!((next.seq, next.ts, next.started), (13, 6970 + 3000, false));
        // A retransmission of a layer 0 packet maps through the mapping before.
        assert_eq!(
            track.map(1, 0, 501, 93_000),
            Some((11, 4000, Mapping::Previous))
        );
        assert_eq!(
            track.map(1, 2, 40_001, 3007),
            Some((13, 9970, Mapping::Current))
        );
        assert_eq!(track.map(1, 1, 40_001, 3007), None, "a layer never sent");
        // Back to an older source: stale.
        assert_eq!(track.rewrite(0, 0, 502, 0, VIDEO, start + ms(100)), None);
    }

    #[test]
    fn maps_a_forwarded_packet_again_without_moving_the_track() {
        let start = Instant::now();
        let mut track = TrackRewriter::new(65_535, 1000);
        assert_eq!(track.map(1, 0, 10, 0), None, "nothing forwarded yet");
        put(&mut track, 1, 10, 500, VIDEO, start).unwrap();
        put(&mut track, 1, 12, 3500, VIDEO, start + ms(33)).unwrap();
        assert_eq!(track.map(1, 0, 11, 500), Some((0, 1000, Mapping::Current)));
        assert_eq!(
            track.map(1, 0, 9, 0),
            None,
            "before the source's first packet"
        );
        assert_eq!(track.map(2, 0, 11, 500), None, "another source");
        assert_eq!(track.last_output(), Some((1, 4000)));
    }
}

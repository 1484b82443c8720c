//! Which frames are complete: every sequence number from the frame's first packet to its
//! last arrived. Packets belong to a frame by RTP timestamp.
//!
//! A frame's first packet is known when it starts a keyframe, or when the packet before it
//! arrived and either carried the marker or another timestamp. Its last packet is the one
//! with the marker, or the one followed by a packet of another timestamp. Either edge may
//! become known from a neighbour that arrives later (a retransmission), so each arrival
//! looks at its own frame and at the frame of the packet right after it.

use std::collections::BTreeMap;

use shardcast_proto::rtp::TimestampUnwrapper;

use super::history::{PacketHistory, Received};

/// Frames remembered while incomplete; older ones are forgotten (at 30 fps, four seconds).
const FRAMES_REMEMBERED: usize = 128;

/// A frame that just became complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompletedFrame {
    pub timestamp: u64,
    pub first_sequence: u64,
    pub keyframe: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    first: Option<u64>,
    last: Option<u64>,
    received: u64,
    keyframe: bool,
    complete: bool,
}

#[derive(Debug, Default)]
pub(crate) struct FrameAssembler {
    timestamps: TimestampUnwrapper,
    frames: BTreeMap<u64, Progress>,
}

impl FrameAssembler {
    /// Accounts a packet the caller has just stored in `history` (never a duplicate); returns
    /// the frames this arrival completed, at most its own and the next one.
    pub fn on_packet(
        &mut self,
        history: &PacketHistory,
        sequence: u64,
        packet: Received,
    ) -> Vec<CompletedFrame> {
        let timestamp = self.timestamps.unwrap(packet.timestamp);
        let before = history
            .get(sequence - 1)
            .map(|b| (b, self.timestamps.peek(b.timestamp)));
        let after = history
            .get(sequence + 1)
            .map(|a| (a, self.timestamps.peek(a.timestamp)));

        let progress = self.frames.entry(timestamp).or_default();
        progress.received += 1;
        if packet.keyframe_start {
            progress.first = Some(sequence);
            progress.keyframe = true;
        }
        let starts_after_before = before.is_some_and(|(b, ts)| b.marker || ts != timestamp);
        if starts_after_before {
            progress.first = Some(sequence);
        }
        let ends_before_after = after.is_some_and(|(_, ts)| ts != timestamp);
        if packet.marker || ends_before_after {
            progress.last = Some(sequence);
        }

        let mut completed = Vec::new();
        if let Some((_, previous)) = before.filter(|&(_, ts)| ts != timestamp) {
            self.set_edge(previous, |p| p.last = Some(sequence - 1));
            completed.extend(self.try_complete(history, previous));
        }
        completed.extend(self.try_complete(history, timestamp));
        if let Some((_, next)) = after.filter(|&(_, ts)| packet.marker || ts != timestamp) {
            self.set_edge(next, |p| p.first = Some(sequence + 1));
            completed.extend(self.try_complete(history, next));
        }
        while self.frames.len() > FRAMES_REMEMBERED {
            self.frames.pop_first();
        }
        completed
    }

    fn set_edge(&mut self, timestamp: u64, set: impl FnOnce(&mut Progress)) {
        if let Some(progress) = self.frames.get_mut(&timestamp) {
            set(progress);
        }
    }

    fn try_complete(&mut self, history: &PacketHistory, timestamp: u64) -> Option<CompletedFrame> {
        let progress = self.frames.get_mut(&timestamp)?;
        let (first, last) = (progress.first?, progress.last?);
        if progress.complete || last < first || progress.received < last - first + 1 {
            return None;
        }
        // Counting is not proof: a confused sender may put this timestamp outside the edges.
        let all_there = (first..=last).all(|sequence| {
            history
                .get(sequence)
                .is_some_and(|p| self.timestamps.peek(p.timestamp) == timestamp)
        });
        if !all_there {
            return None;
        }
        progress.complete = true;
        Some(CompletedFrame {
            timestamp,
            first_sequence: first,
            keyframe: progress.keyframe,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 100_000;

    struct Stream {
        history: PacketHistory,
        frames: FrameAssembler,
    }

    impl Stream {
        fn new() -> Self {
            Self {
                history: PacketHistory::new(64),
                frames: FrameAssembler::default(),
            }
        }

        fn arrive(&mut self, offset: u64, timestamp: u32, marker: bool, key: bool) -> Vec<u64> {
            let packet = Received {
                timestamp,
                marker,
                keyframe_start: key,
            };
            self.history.insert(BASE + offset, packet);
            let done = self.frames.on_packet(&self.history, BASE + offset, packet);
            done.iter().map(|f| f.first_sequence - BASE).collect()
        }
    }

    #[test]
    fn a_keyframe_completes_at_its_marker() {
        let mut stream = Stream::new();
        assert!(stream.arrive(0, 1000, false, true).is_empty());
        assert!(stream.arrive(1, 1000, false, false).is_empty());
        assert_eq!(stream.arrive(2, 1000, true, false), vec![0]);
        assert_eq!(
            stream.arrive(3, 4000, true, false),
            vec![3],
            "one-packet frame"
        );
    }

    #[test]
    fn a_delta_frame_needs_its_predecessor_to_know_where_it_starts() {
        let mut stream = Stream::new();
        assert!(stream.arrive(5, 4000, false, false).is_empty());
        assert!(
            stream.arrive(6, 4000, true, false).is_empty(),
            "start unknown"
        );
        assert_eq!(
            stream.arrive(4, 1000, true, false),
            vec![5],
            "4's own start is unknown"
        );
    }

    #[test]
    fn a_retransmission_in_the_middle_completes_the_frame_once() {
        let mut stream = Stream::new();
        stream.arrive(0, 1000, true, true);
        stream.arrive(1, 4000, false, false);
        stream.arrive(3, 4000, true, false);
        assert_eq!(
            stream.arrive(4, 7000, true, false),
            vec![4],
            "starts after a marker"
        );
        assert_eq!(stream.arrive(2, 4000, false, false), vec![1]);
    }

    #[test]
    fn a_marker_loss_is_bridged_by_the_next_timestamp() {
        let mut stream = Stream::new();
        stream.arrive(0, 1000, false, true);
        assert!(stream.arrive(1, 1000, false, false).is_empty());
        assert_eq!(stream.arrive(2, 4000, true, false), vec![0, 2]);
    }
}

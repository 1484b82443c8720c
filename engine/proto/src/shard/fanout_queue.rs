//! Media packets waiting to be written to this shard's viewers, oldest first.
//!
//! A packet is not encrypted for every viewer when it arrives: that would make one received
//! packet cost a thousand encryptions before the shard could look at its timers again.
//! Instead each packet becomes a job with a cursor into its stream's viewer list, and the
//! runtime advances the cursors as it has send buffers to fill: one datagram at a time, or
//! several jobs' cursors together when their packets go to one viewer as a run.
//! The queue is bounded: a shard that cannot keep up drops its oldest packets rather than
//! growing without limit.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::media::MediaPacket;

/// One packet on its way to a stream's local viewers.
#[derive(Debug)]
pub struct FanoutJob {
    pub stream: Arc<str>,
    pub packet: Arc<MediaPacket>,
    /// The position in the stream's viewer list of the next viewer to write to.
    pub next_viewer: usize,
    /// The simulcast layers (bit i: layer i) viewers asked keyframes of while this packet was
    /// written; each request goes out once per packet, not once per viewer.
    pub keyframe_layers: u8,
}

impl FanoutJob {
    pub fn new(stream: Arc<str>, packet: Arc<MediaPacket>) -> Self {
        Self {
            stream,
            packet,
            next_viewer: 0,
            keyframe_layers: 0,
        }
    }
}

pub struct FanoutQueue {
    jobs: VecDeque<FanoutJob>,
    capacity: usize,
}

impl FanoutQueue {
    /// A queue holding at most `capacity` jobs (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            jobs: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Appends `job`; when the queue is full the oldest job makes room and is returned.
    pub fn push(&mut self, job: FanoutJob) -> Option<FanoutJob> {
        let dropped = if self.jobs.len() == self.capacity {
            self.jobs.pop_front()
        } else {
            None
        };
        self.jobs.push_back(job);
        dropped
    }

    /// The job to work on next.
    pub fn front(&self) -> Option<&FanoutJob> {
        self.jobs.front()
    }

    /// The job `index` places behind the front (0 is the front).
    pub fn get_mut(&mut self, index: usize) -> Option<&mut FanoutJob> {
        self.jobs.get_mut(index)
    }

    /// True when the job `index` places behind the front is of the front job's stream and
    /// its cursor stands at `position`: it belongs in the run being written there.
    pub fn stands_with_front(&self, index: usize, position: usize) -> bool {
        match (self.jobs.front(), self.jobs.get(index)) {
            (Some(front), Some(job)) => {
                job.next_viewer == position
                    && (Arc::ptr_eq(&front.stream, &job.stream) || *front.stream == *job.stream)
            }
            _ => false,
        }
    }

    /// The jobs from the front.
    pub fn iter(&self) -> impl Iterator<Item = &FanoutJob> {
        self.jobs.iter()
    }

    pub fn pop_front(&mut self) -> Option<FanoutJob> {
        self.jobs.pop_front()
    }

    /// The viewer at `position` in `stream`'s list is gone and the ones after it moved up by
    /// one: jobs past it follow them, so nobody is skipped and nobody gets a packet twice.
    pub fn viewer_removed(&mut self, stream: &str, position: usize) {
        for job in &mut self.jobs {
            if job.next_viewer > position && *job.stream == *stream {
                job.next_viewer -= 1;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use shardcast_control::{CodecName, MediaKind};

    use super::*;
    use crate::media::{MediaOrigin, PacketLayout};
    use crate::rtp::{RtpHeader, RtpPacket, write_rtp};

    fn packet(sequence_number: u16) -> Arc<MediaPacket> {
        let mut buffer = [0u8; 64];
        let header = RtpHeader {
            marker: false,
            payload_type: 111,
            sequence_number,
            timestamp: 0,
            ssrc: 1,
        };
        let len = write_rtp(&mut buffer, &header, &[], b"opus").unwrap();
        let layout = PacketLayout::of(&RtpPacket::parse(&buffer[..len]).unwrap(), |_| None);
        let origin = MediaOrigin {
            source: 1,
            kind: MediaKind::Audio,
            codec: CodecName::Opus,
            clock_rate: 48_000,
            keyframe: false,
            arrival: Instant::now(),
            layer: 0,
            layers: crate::layers::LayerRates::default(),
        };
        Arc::new(MediaPacket::new(origin, layout, buffer[..len].to_vec()))
    }

    fn job(stream: &str, sequence_number: u16) -> FanoutJob {
        FanoutJob::new(Arc::from(stream), packet(sequence_number))
    }

    #[test]
    fn a_full_queue_drops_its_oldest_job() {
        let mut queue = FanoutQueue::new(2);
        assert!(queue.push(job("s", 1)).is_none());
        assert!(queue.push(job("s", 2)).is_none());
        let dropped = queue.push(job("s", 3)).unwrap();
        assert_eq!(dropped.packet.layout.sequence_number, 1);
        let order: Vec<_> = std::iter::from_fn(|| queue.pop_front())
            .map(|job| job.packet.layout.sequence_number)
            .collect();
        assert_eq!(order, [2, 3]);
        assert!(queue.is_empty());
    }

    #[test]
    fn removing_a_viewer_moves_only_the_cursors_past_it_on_its_stream() {
        let mut queue = FanoutQueue::new(8);
        for (stream, cursor) in [("s", 0), ("s", 2), ("s", 3), ("s", 5), ("t", 5)] {
            let mut job = job(stream, 0);
            job.next_viewer = cursor;
            queue.push(job);
        }
        queue.viewer_removed("s", 2);
        let cursors: Vec<_> = std::iter::from_fn(|| queue.pop_front())
            .map(|job| job.next_viewer)
            .collect();
        // Position 2 now holds the viewer that was at 3, which the job at 2 has yet to serve.
        assert_eq!(cursors, [0, 2, 2, 4, 5]);
    }
}

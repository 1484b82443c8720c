//! Media packets waiting to be written to this shard's viewers, oldest first.
//!
//! A packet is not encrypted for every viewer when it arrives: that would make one received
//! packet cost a thousand encryptions before the shard could look at its timers again.
//! Instead each packet becomes a job with a cursor into its stream's viewer list, and the
//! runtime advances the cursors as it has send buffers to fill: one datagram at a time, or
//! several jobs' cursors together when their packets go to one viewer as a run.
//! The queue is bounded: a shard that cannot keep up drops its oldest packets rather than
//! growing without limit.
//!
//! A job queued behind others of its stream starts where the last of them stands, not at
//! the top of the list: from there it travels with them, so a viewer's packets from several
//! arrivals (a frame's and the audio between, two frames) leave in one run rather than one
//! walk each. It goes on to the end of the list, then from the top down to where it started.
//! A later job never reaches a viewer before an earlier one: it starts where the earlier
//! stands and can only move along with it, so each viewer still gets packets in order.

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
    /// Where the walk began: it goes to the end of the list, then from the top up to here.
    start: usize,
    /// The walk went past the end and goes on from the top.
    wrapped: bool,
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
            start: 0,
            wrapped: false,
            keyframe_layers: 0,
        }
    }

    /// Every viewer had its turn: from the start to the end, and from the top to the start.
    fn is_done(&self, viewers: usize) -> bool {
        if self.wrapped {
            self.came_round()
        } else {
            self.start == 0 && self.next_viewer >= viewers
        }
    }

    /// The walk went past the end and came back round to where it began.
    fn came_round(&self) -> bool {
        self.wrapped && self.next_viewer >= self.start
    }

    /// At the end of a list of `viewers`, a walk that began below the top goes on there.
    fn wrap_at_end(&mut self, viewers: usize) {
        if !self.wrapped && self.start > 0 && self.next_viewer >= viewers {
            self.next_viewer = 0;
            self.wrapped = true;
        }
    }
}

/// A queued job's part in a run written at one viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPlace {
    /// Its cursor stands there, on the front job's stream: its packet goes in the run.
    Joins,
    /// Its cursor stands there but its walk ended there, where it began.
    PassedOver,
    /// It stands elsewhere or is of another stream: the run ends before it.
    Ends,
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

    /// Appends `job`, starting it where the last job of its stream stands; when the queue is
    /// full the oldest job makes room and is returned.
    pub fn push(&mut self, mut job: FanoutJob) -> Option<FanoutJob> {
        if let Some(last) = self
            .jobs
            .iter()
            .rev()
            .find(|other| same_stream(other, &job))
        {
            job.start = last.next_viewer;
            job.next_viewer = last.next_viewer;
        }
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

    /// Where the front job writes next in its stream's list of `viewers`, after the walks of
    /// its stream standing at the end go on from the top. `None` when the front job is done.
    pub fn front_position(&mut self, viewers: usize) -> Option<usize> {
        let front = self.jobs.front()?;
        if front.next_viewer >= viewers {
            let stream = front.stream.clone();
            for job in self.jobs.iter_mut().filter(|job| *job.stream == *stream) {
                job.wrap_at_end(viewers);
            }
        }
        let front = self.jobs.front()?;
        (!front.is_done(viewers)).then_some(front.next_viewer)
    }

    /// The job `index` places behind the front (0 is the front).
    pub fn get_mut(&mut self, index: usize) -> Option<&mut FanoutJob> {
        self.jobs.get_mut(index)
    }

    /// What the job `index` places behind the front does in a run written at `position`.
    pub fn place_in_run(&self, index: usize, position: usize) -> RunPlace {
        match (self.jobs.front(), self.jobs.get(index)) {
            (Some(front), Some(job)) if job.next_viewer == position && same_stream(front, job) => {
                if job.came_round() {
                    RunPlace::PassedOver
                } else {
                    RunPlace::Joins
                }
            }
            _ => RunPlace::Ends,
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
        for job in self.jobs.iter_mut().filter(|job| *job.stream == *stream) {
            if job.next_viewer > position {
                job.next_viewer -= 1;
            }
            if job.start > position {
                job.start -= 1;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

fn same_stream(one: &FanoutJob, other: &FanoutJob) -> bool {
    Arc::ptr_eq(&one.stream, &other.stream) || *one.stream == *other.stream
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
            queue.push(job(stream, 0));
            if let Some(job) = queue.jobs.back_mut() {
                job.next_viewer = cursor;
            }
        }
        queue.viewer_removed("s", 2);
        let cursors: Vec<_> = std::iter::from_fn(|| queue.pop_front())
            .map(|job| job.next_viewer)
            .collect();
        // Position 2 now holds the viewer that was at 3, which the job at 2 has yet to serve.
        assert_eq!(cursors, [0, 2, 2, 4, 5]);
    }

    /// One run as the shard writes it for a list of `viewers`: the front's next viewer, with
    /// every job standing there (at most `most`). Returns (sequence number, viewer) of each.
    fn run(queue: &mut FanoutQueue, viewers: usize, most: usize) -> Vec<(u16, usize)> {
        let position = loop {
            if queue.is_empty() {
                return Vec::new();
            }
            match queue.front_position(viewers) {
                Some(position) => break position,
                None => drop(queue.pop_front()),
            }
        };
        let mut written = Vec::new();
        for index in 0.. {
            match queue.place_in_run(index, position) {
                RunPlace::PassedOver => continue,
                RunPlace::Ends => break,
                RunPlace::Joins if written.len() == most => break,
                RunPlace::Joins => {}
            }
            let Some(job) = queue.get_mut(index) else {
                break;
            };
            job.next_viewer += 1;
            written.push((job.packet.layout.sequence_number, position));
        }
        written
    }

    /// For each viewer, the sequence numbers it got, in order.
    fn per_viewer(runs: &[Vec<(u16, usize)>], viewers: usize) -> Vec<Vec<u16>> {
        let mut got = vec![Vec::new(); viewers];
        for &(seq, viewer) in runs.iter().flatten() {
            got[viewer].push(seq);
        }
        got
    }

    #[test]
    fn a_job_queued_mid_walk_joins_the_runs_there_and_every_viewer_gets_all_in_order() {
        let viewers = 10;
        let mut queue = FanoutQueue::new(16);
        queue.push(job("s", 1));
        queue.push(job("s", 2));
        let mut runs = Vec::new();
        for _ in 0..4 {
            runs.push(run(&mut queue, viewers, 8));
        }
        // Arrives while the first two stand at viewer 4: it starts there, in their runs.
        queue.push(job("s", 3));
        runs.push(run(&mut queue, viewers, 8));
        assert_eq!(runs[4], [(1, 4), (2, 4), (3, 4)]);
        for _ in 0..3 {
            runs.push(run(&mut queue, viewers, 8));
        }
        // And another, at viewer 8.
        queue.push(job("s", 4));
        loop {
            let written = run(&mut queue, viewers, 8);
            if written.is_empty() {
                break;
            }
            runs.push(written);
        }
        assert!(queue.is_empty());
        for (viewer, got) in per_viewer(&runs, viewers).iter().enumerate() {
            assert_eq!(got, &[1, 2, 3, 4], "viewer {viewer}");
        }
        // 10 runs take the first two to every viewer, the third and fourth riding along from
        // 4 and 8; then 0-3 for the third with the fourth, and 4-7 for the fourth: 18 runs
        // where walks one after the other take 40.
        assert_eq!(runs.len(), 10 + 4 + 4);
    }

    #[test]
    fn a_full_run_leaves_the_rest_behind_and_order_holds_per_viewer() {
        let viewers = 7;
        let mut queue = FanoutQueue::new(16);
        let mut runs = Vec::new();
        for seq in 1..=12u16 {
            queue.push(job("s", seq));
            runs.push(run(&mut queue, viewers, 2));
            if seq % 3 == 0 {
                runs.push(run(&mut queue, viewers, 2));
            }
        }
        loop {
            let written = run(&mut queue, viewers, 2);
            if written.is_empty() {
                break;
            }
            runs.push(written);
        }
        let expected: Vec<u16> = (1..=12).collect();
        for (viewer, got) in per_viewer(&runs, viewers).iter().enumerate() {
            assert_eq!(got, &expected, "viewer {viewer}");
        }
    }

    #[test]
    fn a_viewer_leaving_mid_walk_moves_the_start_so_the_walk_ends_at_the_same_viewer() {
        // Viewers are ids in a list; removing one shifts the rest, as the stream's list does.
        let mut list: Vec<usize> = (0..8).collect();
        let mut queue = FanoutQueue::new(8);
        let mut got: Vec<Vec<u16>> = vec![Vec::new(); 8];
        let mut record = |runs: Vec<(u16, usize)>, list: &[usize]| {
            for (seq, position) in runs {
                got[list[position]].push(seq);
            }
        };
        queue.push(job("s", 1));
        for _ in 0..5 {
            record(run(&mut queue, list.len(), 8), &list);
        }
        queue.push(job("s", 2));
        record(run(&mut queue, list.len(), 8), &list);
        record(run(&mut queue, list.len(), 8), &list);
        // Job 2 began at position 5 and is at 7; viewer 3 (behind both) leaves.
        list.remove(3);
        queue.viewer_removed("s", 3);
        loop {
            let written = run(&mut queue, list.len(), 8);
            if written.is_empty() {
                break;
            }
            record(written, &list);
        }
        for (viewer, seqs) in got.iter().enumerate() {
            match viewer {
                // Left after job 1 reached it, before job 2 came round.
                3 => assert_eq!(seqs, &[1]),
                _ => assert_eq!(seqs, &[1, 2], "viewer {viewer}"),
            }
        }
    }
}

//! One viewer's retransmissions waiting to go out, paced: a NACK for fifty packets becomes
//! a trickle, never a burst that would overflow the viewer's path a second time.
//!
//! The pace is a token bucket in its GCRA form (ITU-T I.371): one theoretical send time
//! that advances by [`PACE_INTERVAL`] per packet, with [`PACE_BURST`] packets of slack. The
//! queue is bounded; when it is full the oldest request goes, as it is the likeliest to be
//! too late anyway.
//!
//! The shard keeps a list of viewers with something to send now. `listed` says whether
//! this viewer is on it, so that the shard is told once, not for every NACK.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Retransmissions waiting per viewer at most.
pub const QUEUE_LIMIT: usize = 256;

/// One retransmission per this much time on average: 1000 packets a second, about
/// 10 Mbit/s of full-size packets.
pub const PACE_INTERVAL: Duration = Duration::from_millis(1);

/// Packets that may go back to back after a quiet spell.
pub const PACE_BURST: u32 = 4;

/// How far ahead of the present the theoretical send time may run (GCRA's tolerance).
const TOLERANCE: Duration = PACE_INTERVAL.saturating_mul(PACE_BURST - 1);

/// A packet to resend: track index, the source packet, and the number the viewer knows it
/// by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmit {
    pub track: usize,
    pub source: u64,
    pub layer: u8,
    pub source_seq: u16,
    pub out_seq: u16,
}

#[derive(Debug, Default)]
pub struct RetransmitQueue {
    /// Allocated on the first NACK: most viewers never send one.
    entries: VecDeque<Retransmit>,
    /// When the next packet would be due at exactly the paced rate.
    theoretical: Option<Instant>,
    listed: bool,
}

impl RetransmitQueue {
    /// Queues `entry`; true when the queue was full and its oldest entry was dropped.
    pub fn push(&mut self, entry: Retransmit) -> bool {
        if self.entries.capacity() == 0 {
            self.entries.reserve_exact(QUEUE_LIMIT);
        }
        let dropped = self.entries.len() >= QUEUE_LIMIT && self.entries.pop_front().is_some();
        self.entries.push_back(entry);
        dropped
    }

    /// The next request, without spending anything: it may turn out to have nothing to send.
    pub fn pop(&mut self) -> Option<Retransmit> {
        self.entries.pop_front()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when the pace allows a packet at `now`.
    pub fn may_send(&self, now: Instant) -> bool {
        self.theoretical.is_none_or(|at| at <= now + TOLERANCE)
    }

    /// A packet went out at `now`.
    pub fn spend(&mut self, now: Instant) {
        let from = self.theoretical.map_or(now, |at| at.max(now));
        self.theoretical = Some(from + PACE_INTERVAL);
    }

    /// True when the viewer just became ready to send and must be put on the shard's list.
    pub fn announce(&mut self, now: Instant) -> bool {
        if self.listed || !self.ready(now) {
            return false;
        }
        self.listed = true;
        true
    }

    /// After the shard took one packet: true to stay on its list, false to leave it (until
    /// [`Self::announce`] says otherwise).
    pub fn stay_listed(&mut self, now: Instant) -> bool {
        self.listed = self.ready(now);
        self.listed
    }

    /// When the pace next allows a packet, while requests wait off the shard's list.
    pub fn deadline(&self) -> Option<Instant> {
        if self.listed || self.entries.is_empty() {
            return None;
        }
        let at = self.theoretical?;
        Some(at.checked_sub(TOLERANCE).unwrap_or(at))
    }

    fn ready(&self, now: Instant) -> bool {
        !self.entries.is_empty() && self.may_send(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(out_seq: u16) -> Retransmit {
        Retransmit {
            track: 0,
            source: 1,
            layer: 0,
            source_seq: out_seq,
            out_seq,
        }
    }

    /// Sends whatever the pace allows at `now`; returns how many went.
    fn drain(queue: &mut RetransmitQueue, now: Instant) -> usize {
        let mut sent = 0;
        while queue.may_send(now) && queue.pop().is_some() {
            queue.spend(now);
            sent += 1;
        }
        sent
    }

    #[test]
    fn a_burst_then_one_per_interval() {
        let t0 = Instant::now();
        let mut queue = RetransmitQueue::default();
        for seq in 0..20 {
            queue.push(entry(seq));
        }
        assert_eq!(drain(&mut queue, t0), PACE_BURST as usize);
        assert_eq!(queue.deadline(), Some(t0 + PACE_INTERVAL));
        assert_eq!(drain(&mut queue, t0 + PACE_INTERVAL / 2), 0);
        assert_eq!(drain(&mut queue, t0 + PACE_INTERVAL), 1);
        assert_eq!(drain(&mut queue, t0 + PACE_INTERVAL * 3), 2);
        // A long pause earns back the burst, never more.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(drain(&mut queue, later), PACE_BURST as usize);
        assert_eq!(queue.len(), 20 - 2 * PACE_BURST as usize - 3);
    }

    #[test]
    fn a_full_queue_drops_its_oldest() {
        let mut queue = RetransmitQueue::default();
        for seq in 0..QUEUE_LIMIT as u16 {
            assert!(!queue.push(entry(seq)));
        }
        assert!(queue.push(entry(1000)));
        assert_eq!(queue.len(), QUEUE_LIMIT);
        assert_eq!(queue.pop().map(|e| e.out_seq), Some(1));
    }

    #[test]
    fn the_shard_is_told_once_and_the_timer_takes_over_when_the_pace_runs_out() {
        let t0 = Instant::now();
        let mut queue = RetransmitQueue::default();
        assert!(!queue.announce(t0), "nothing to send");
        queue.push(entry(1));
        queue.push(entry(2));
        assert!(queue.announce(t0));
        assert!(!queue.announce(t0), "already listed");
        assert_eq!(queue.deadline(), None, "listed: the shard polls it");
        for _ in 0..PACE_BURST {
            queue.push(entry(3));
            queue.pop();
            queue.spend(t0);
        }
        assert!(!queue.stay_listed(t0), "out of pace");
        assert_eq!(queue.deadline(), Some(t0 + PACE_INTERVAL));
        assert!(queue.announce(t0 + PACE_INTERVAL));
    }
}

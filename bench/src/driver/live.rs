//! Live figures for the progress display: offers posted and refused (the signaling thread),
//! viewers connected and ended and packets received (each worker).
//!
//! The workers are hot loops, so none of them touches a shared counter per packet: each
//! keeps a [`WorkerTally`] of its own and stores it once a turn into [`WorkerCounters`] on a
//! cache line no other thread writes. The main thread adds them up when it draws.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::viewer::SessionState;

/// What one worker has seen so far, kept by the worker alone.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerTally {
    /// Viewers connected now.
    pub connected: u64,
    /// Viewers whose session is over: never connected, or lost.
    pub ended: u64,
    /// RTP packets received, since the start (not only in the steady window).
    pub received: u64,
}

impl WorkerTally {
    /// Follows one viewer from `from` to `to`.
    pub fn on_session_change(&mut self, from: SessionState, to: SessionState) {
        if from == to {
            return;
        }
        if from == SessionState::Connected {
            self.connected = self.connected.saturating_sub(1);
        }
        match to {
            SessionState::Connected => self.connected += 1,
            SessionState::Ended => self.ended += 1,
            SessionState::Connecting => {}
        }
    }
}

/// One worker's published tally. Aligned to two cache lines (the adjacent-line prefetcher
/// pairs them), so one worker's stores never invalidate another's line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerCounters {
    connected: AtomicU64,
    ended: AtomicU64,
    received: AtomicU64,
}

impl WorkerCounters {
    /// Called by the owning worker once a turn: plain stores, the display needs no ordering.
    pub fn publish(&self, tally: &WorkerTally) {
        self.connected.store(tally.connected, Ordering::Relaxed);
        self.ended.store(tally.ended, Ordering::Relaxed);
        self.received.store(tally.received, Ordering::Relaxed);
    }
}

/// The figures the progress display shows, summed over the threads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LiveTotals {
    /// Offers posted (accepted or not).
    pub posted: u64,
    pub connected: u64,
    /// Offers refused or answers unusable, plus sessions that never connected or were lost.
    pub failed: u64,
    /// RTP packets received by all viewers.
    pub received: u64,
}

/// Every counter of a run, shared by the signaling thread, the workers and the main thread.
#[derive(Debug)]
pub struct LiveCounters {
    posted: AtomicU64,
    refused: AtomicU64,
    workers: Vec<Arc<WorkerCounters>>,
}

impl LiveCounters {
    pub fn new(workers: usize) -> Self {
        Self {
            posted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            workers: (0..workers).map(|_| Arc::default()).collect(),
        }
    }

    /// Each worker's counters, to hand to it.
    pub fn workers(&self) -> &[Arc<WorkerCounters>] {
        &self.workers
    }

    pub fn on_posted(&self) {
        self.posted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn on_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn totals(&self) -> LiveTotals {
        let mut totals = LiveTotals {
            posted: self.posted.load(Ordering::Relaxed),
            failed: self.refused.load(Ordering::Relaxed),
            ..LiveTotals::default()
        };
        for worker in &self.workers {
            totals.connected += worker.connected.load(Ordering::Relaxed);
            totals.failed += worker.ended.load(Ordering::Relaxed);
            totals.received += worker.received.load(Ordering::Relaxed);
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::SessionState::{Connected, Connecting, Ended};
    use super::*;

    #[test]
    fn a_tally_follows_sessions_through_their_states() {
        let mut tally = WorkerTally::default();
        tally.on_session_change(Connecting, Connected);
        tally.on_session_change(Connecting, Connected);
        tally.on_session_change(Connecting, Ended);
        assert_eq!((tally.connected, tally.ended), (2, 1));
        tally.on_session_change(Connected, Ended);
        assert_eq!((tally.connected, tally.ended), (1, 2));
        tally.on_session_change(Connected, Connected);
        assert_eq!(
            (tally.connected, tally.ended),
            (1, 2),
            "no change, no count"
        );
    }

    #[test]
    fn totals_add_the_signaling_threads_and_every_workers_figures() {
        let live = LiveCounters::new(2);
        for _ in 0..5 {
            live.on_posted();
        }
        live.on_refused();
        let [first, second] = live.workers() else {
            panic!("two workers, two sets of counters");
        };
        first.publish(&WorkerTally {
            connected: 2,
            ended: 0,
            received: 700,
        });
        second.publish(&WorkerTally {
            connected: 1,
            ended: 1,
            received: 300,
        });
        let expected = LiveTotals {
            posted: 5,
            connected: 3,
            failed: 2,
            received: 1000,
        };
        assert_eq!(live.totals(), expected);

        // A publish replaces the worker's figures rather than adding to them.
        second.publish(&WorkerTally {
            connected: 0,
            ended: 2,
            received: 350,
        });
        assert_eq!(live.totals().connected, 2);
        assert_eq!(live.totals().received, 1050);
    }

    #[test]
    fn workers_counters_do_not_share_a_cache_line() {
        assert_eq!(align_of::<WorkerCounters>(), 128);
    }
}

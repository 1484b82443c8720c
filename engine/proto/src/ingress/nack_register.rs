//! Which packets of one incoming RTP stream are missing, and when to NACK each (RFC 4585
//! 6.2.1): a gap in the sequence numbers is given a short while to fill by reordering,
//! then asked for, and asked again a retry interval later (the caller's, from its RTT
//! estimate) until the packet comes, the register has asked [`MAX_NACKS`] times or the
//! packet is [`MAX_AGE`] old.
//!
//! It also remembers which of the last [`WINDOW`] packets arrived, so a packet that comes
//! twice (a repair of one already received, a duplicate on the path) is recognised.
//! Everything is fixed-size or preallocated: taking in a packet never allocates.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rtp::SequenceUnwrapper;

/// Packets whose arrival is remembered. A jump further than this, either way, is taken for a
/// restart of the stream: the register starts over rather than asking for a second's worth.
pub const WINDOW: u64 = 1024;

/// Missing packets tracked at most; older ones are given up when more go missing.
pub const MAX_MISSING: usize = 256;

/// How long a gap may fill by reordering before it is NACKed.
pub const REORDER_DELAY: Duration = Duration::from_millis(20);

/// NACKs per missing packet at most.
pub const MAX_NACKS: u8 = 10;

/// A packet missing this long is given up: a viewer would have skipped past it.
pub const MAX_AGE: Duration = Duration::from_secs(1);

const WORDS: usize = (WINDOW / 64) as usize;

/// What an arriving packet turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The newest so far (or the first after a restart).
    New,
    /// Older than the newest, and not seen before, but never NACKed.
    Reordered,
    /// A packet we NACKed. `rtt` is the time since the NACK when there was only one, so the
    /// repair can only answer that one (Karn's rule).
    Recovered { rtt: Option<Duration> },
    /// Already received.
    Duplicate,
}

/// What one register did, since it was made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NackCounts {
    /// Sequence numbers NACKed (retries included).
    pub requested: u64,
    pub recovered: u64,
    pub given_up: u64,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    seq: u64,
    detected: Instant,
    nacks: u8,
    /// When the latest NACK went out (meaningless while `nacks` is 0).
    last_nack: Instant,
}

impl Missing {
    /// When to NACK it (again), or, once asked enough, to give up.
    fn due(&self, retry_interval: Duration) -> Instant {
        if self.nacks == 0 {
            self.detected + REORDER_DELAY
        } else {
            self.last_nack + retry_interval
        }
    }

    /// When it next needs looking at: its NACK, or its expiry.
    fn wake(&self, retry_interval: Duration) -> Instant {
        self.due(retry_interval).min(self.detected + MAX_AGE)
    }
}

#[derive(Debug)]
pub struct NackRegister {
    unwrapper: SequenceUnwrapper,
    /// Bit `seq % WINDOW` is set when packet `seq` of the last `WINDOW` arrived.
    received: [u64; WORDS],
    /// Missing packets, oldest first.
    missing: VecDeque<Missing>,
    /// The earliest wake-up of `missing` with `retry_interval`, kept so that asking for it
    /// after every packet costs nothing.
    next_deadline: Option<Instant>,
    retry_interval: Option<Duration>,
    counts: NackCounts,
}

impl Default for NackRegister {
    fn default() -> Self {
        Self::new()
    }
}

impl NackRegister {
    pub fn new() -> Self {
        Self {
            unwrapper: SequenceUnwrapper::new(),
            received: [0; WORDS],
            missing: VecDeque::with_capacity(MAX_MISSING),
            next_deadline: None,
            retry_interval: None,
            counts: NackCounts::default(),
        }
    }

    pub fn counts(&self) -> NackCounts {
        self.counts
    }

    /// How many packets are missing now.
    pub fn missing(&self) -> usize {
        self.missing.len()
    }

    /// Takes in packet `seq`.
    pub fn on_packet(&mut self, now: Instant, seq: u16) -> Arrival {
        let Some(highest) = self.unwrapper.highest() else {
            let extended = self.unwrapper.unwrap(seq);
            self.mark(extended);
            return Arrival::New;
        };
        let extended = self.unwrapper.peek(seq);
        if extended.abs_diff(highest) >= WINDOW {
            self.restart(seq);
            return Arrival::New;
        }
        if extended > highest {
            self.unwrapper.unwrap(seq);
            for skipped in highest + 1..extended {
                self.unmark(skipped);
            }
            self.note_gap(now, highest + 1, extended);
            self.mark(extended);
            return Arrival::New;
        }
        if self.is_marked(extended) {
            return Arrival::Duplicate;
        }
        self.mark(extended);
        let Ok(index) = self.missing.binary_search_by_key(&extended, |m| m.seq) else {
            // Given up already, or never tracked: late all the same.
            return Arrival::Reordered;
        };
        let Some(found) = self.missing.remove(index) else {
            return Arrival::Reordered;
        };
        if found.nacks == 0 {
            return Arrival::Reordered;
        }
        self.counts.recovered += 1;
        let rtt = (found.nacks == 1).then(|| now.saturating_duration_since(found.last_nack));
        Arrival::Recovered { rtt }
    }

    /// Appends to `out` the sequence numbers to NACK at `now`, oldest first, and gives up
    /// on the packets that are past asking for. `retry_interval` spaces the NACKs of one
    /// packet (see [`crate::rtt::RttEstimate::retry_interval`]).
    pub fn poll_nacks(&mut self, now: Instant, retry_interval: Duration, out: &mut Vec<u16>) {
        let counts = &mut self.counts;
        self.missing.retain_mut(|missing| {
            let due = missing.due(retry_interval);
            if now >= missing.detected + MAX_AGE || (missing.nacks >= MAX_NACKS && now >= due) {
                counts.given_up += 1;
                return false;
            }
            if now >= due {
                out.push(missing.seq as u16);
                counts.requested += 1;
                missing.nacks += 1;
                missing.last_nack = now;
            }
            true
        });
        self.retry_interval = Some(retry_interval);
        self.next_deadline = self.earliest_wake(retry_interval);
    }

    /// When [`Self::poll_nacks`] next has something to do with `retry_interval` (it may
    /// find nothing: a gap can fill before).
    pub fn poll_timeout(&self, retry_interval: Duration) -> Option<Instant> {
        if self.retry_interval == Some(retry_interval) {
            self.next_deadline
        } else {
            self.earliest_wake(retry_interval)
        }
    }

    fn earliest_wake(&self, retry_interval: Duration) -> Option<Instant> {
        self.missing
            .iter()
            .map(|missing| missing.wake(retry_interval))
            .min()
    }

    /// Packets `from..to` did not come: track the newest [`MAX_MISSING`] of them.
    fn note_gap(&mut self, now: Instant, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let tracked_from = from.max(to.saturating_sub(MAX_MISSING as u64));
        self.counts.given_up += tracked_from - from;
        for seq in tracked_from..to {
            if self.missing.len() == MAX_MISSING {
                self.missing.pop_front();
                self.counts.given_up += 1;
            }
            self.missing.push_back(Missing {
                seq,
                detected: now,
                nacks: 0,
                last_nack: now,
            });
        }
        let due = now + REORDER_DELAY;
        self.next_deadline = Some(self.next_deadline.map_or(due, |at| at.min(due)));
    }

    /// The stream jumped: forget everything and start at `seq`.
    fn restart(&mut self, seq: u16) {
        self.counts.given_up += self.missing.len() as u64;
        self.missing.clear();
        self.received = [0; WORDS];
        self.next_deadline = None;
        self.unwrapper = SequenceUnwrapper::new();
        let extended = self.unwrapper.unwrap(seq);
        self.mark(extended);
    }

    fn bit(seq: u64) -> (usize, u64) {
        let index = (seq % WINDOW) as usize;
        (index / 64, 1 << (index % 64))
    }

    fn mark(&mut self, seq: u64) {
        let (word, bit) = Self::bit(seq);
        self.received[word] |= bit;
    }

    fn unmark(&mut self, seq: u64) {
        let (word, bit) = Self::bit(seq);
        self.received[word] &= !bit;
    }

    fn is_marked(&self, seq: u64) -> bool {
        let (word, bit) = Self::bit(seq);
        self.received[word] & bit != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_millis(50);

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn nacks(register: &mut NackRegister, now: Instant) -> Vec<u16> {
        let mut out = Vec::new();
        register.poll_nacks(now, RETRY, &mut out);
        out
    }

    #[test]
    fn a_gap_across_the_wrap_is_nacked_after_the_reorder_delay() {
        let t0 = Instant::now();
        let mut register = NackRegister::new();
        assert_eq!(register.on_packet(t0, 65_533), Arrival::New);
        assert_eq!(register.on_packet(t0, 2), Arrival::New);
        assert_eq!(register.missing(), 4);
        assert_eq!(register.poll_timeout(RETRY), Some(t0 + REORDER_DELAY));
        assert!(nacks(&mut register, t0 + ms(19)).is_empty());
        assert_eq!(
            nacks(&mut register, t0 + REORDER_DELAY),
            [65_534, 65_535, 0, 1]
        );
        assert_eq!(
            register.poll_timeout(RETRY),
            Some(t0 + REORDER_DELAY + RETRY)
        );
        assert_eq!(register.counts().requested, 4);
    }

    #[test]
    fn reordering_within_the_delay_costs_no_nack() {
        let t0 = Instant::now();
        let mut register = NackRegister::new();
        register.on_packet(t0, 10);
        register.on_packet(t0, 12);
        assert_eq!(register.on_packet(t0 + ms(5), 11), Arrival::Reordered);
        assert!(nacks(&mut register, t0 + ms(30)).is_empty());
        assert_eq!(register.missing(), 0);
        assert_eq!(register.poll_timeout(RETRY), None);
    }

    #[test]
    fn retries_are_spaced_and_the_repair_gives_an_rtt_only_after_one_nack() {
        let t0 = Instant::now();
        let mut register = NackRegister::new();
        for seq in [1, 4] {
            register.on_packet(t0, seq);
        }
        let first = t0 + REORDER_DELAY;
        assert_eq!(nacks(&mut register, first), [2, 3]);
        assert!(nacks(&mut register, first + ms(49)).is_empty());
        assert_eq!(
            register.on_packet(first + ms(30), 2),
            Arrival::Recovered { rtt: Some(ms(30)) }
        );
        assert_eq!(nacks(&mut register, first + RETRY), [3]);
        assert_eq!(
            register.on_packet(first + RETRY + ms(10), 3),
            Arrival::Recovered { rtt: None },
            "two NACKs: the repair could answer either"
        );
        assert_eq!(register.on_packet(first + ms(200), 3), Arrival::Duplicate);
        assert_eq!(register.counts().recovered, 2);
    }

    #[test]
    fn gives_up_after_max_nacks_or_max_age() {
        let t0 = Instant::now();
        let mut register = NackRegister::new();
        register.on_packet(t0, 100);
        register.on_packet(t0, 102);
        let mut now = t0 + REORDER_DELAY;
        let mut asked = 0;
        while register.missing() > 0 {
            asked += nacks(&mut register, now).len();
            now = register.poll_timeout(RETRY).unwrap_or(now);
        }
        assert_eq!(asked, usize::from(MAX_NACKS));
        assert_eq!(register.counts().given_up, 1);

        // A retry interval long enough that age comes first.
        let mut slow = NackRegister::new();
        slow.on_packet(t0, 1);
        slow.on_packet(t0, 3);
        let mut out = Vec::new();
        slow.poll_nacks(t0 + REORDER_DELAY, ms(600), &mut out);
        slow.poll_nacks(t0 + REORDER_DELAY + ms(600), ms(600), &mut out);
        assert_eq!(out, [2, 2]);
        assert_eq!(slow.poll_timeout(ms(600)), Some(t0 + MAX_AGE));
        slow.poll_nacks(t0 + MAX_AGE, ms(600), &mut out);
        assert_eq!((slow.missing(), slow.counts().given_up), (0, 1));
    }

    #[test]
    fn a_long_gap_tracks_only_the_newest_and_a_huge_jump_restarts() {
        let t0 = Instant::now();
        let mut register = NackRegister::new();
        register.on_packet(t0, 0);
        register.on_packet(t0, 301);
        assert_eq!(register.missing(), MAX_MISSING);
        assert_eq!(register.counts().given_up, 300 - MAX_MISSING as u64);
        let asked = nacks(&mut register, t0 + REORDER_DELAY);
        assert_eq!(asked.first(), Some(&(301 - MAX_MISSING as u16)));
        assert_eq!(asked.last(), Some(&300));

        // A second's worth ahead, or behind: a new start, nothing asked for.
        register.on_packet(t0, 301 + WINDOW as u16);
        assert_eq!(register.missing(), 0);
        assert_eq!(register.counts().given_up, 300);
        assert_eq!(register.on_packet(t0, 5), Arrival::New);
        assert_eq!(register.on_packet(t0, 6), Arrival::New);
        assert_eq!(register.missing(), 0);
    }

    #[test]
    fn duplicates_are_recognised_across_the_window_and_its_reuse() {
        let t0 = Instant::now();
        let mut register = NackRegister::new();
        for seq in 0..2000u16 {
            assert_eq!(register.on_packet(t0, seq), Arrival::New);
        }
        assert_eq!(register.on_packet(t0, 1999), Arrival::Duplicate);
        assert_eq!(register.on_packet(t0, 1000), Arrival::Duplicate);
        // 2001 shares its bit with 977, which arrived: skipping over 2001 cleared it.
        register.on_packet(t0, 2002);
        assert_eq!(register.on_packet(t0, 2001), Arrival::Reordered);
    }
}

//! `--link-delay`: the bench's peers behind a link that holds every datagram for a fixed
//! time in each direction, as `tc netem delay` on both ends of their link would.
//!
//! What a peer sends is held before it goes on the socket; what it receives is held before
//! its peer state machine sees it. So the round trip grows by twice the delay, and the
//! latency the viewers measure (publisher send to viewer receive) by twice the delay too:
//! once on the publisher's way up, once on the viewer's way down. The delay is constant, so
//! each direction is a FIFO whose release times never decrease: order is kept for free.
//!
//! Bounded: past [`MAX_HELD`] datagrams in one direction a datagram is dropped and counted
//! in a counter the run reports, never silently. Received datagrams are copied (the receive buffer is reused at once)
//! into buffers recycled from earlier ones, so steady traffic allocates nothing here.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Datagrams one direction may hold; ~80 MB of 1200-byte packets. At 20 ms that is more
/// than three million datagrams a second, far beyond what one peer thread moves.
pub const MAX_HELD: usize = 65_536;

/// A datagram on the link: whose it is (`owner`, like a viewer's slot), the address on the
/// far end (source when received, destination when sent), and its bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Held<K> {
    pub owner: K,
    pub address: SocketAddr,
    pub bytes: Vec<u8>,
}

/// What the run's links held, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkDelayUsage {
    /// Added to each direction: the round trip grows by twice this.
    pub one_way: Duration,
    /// Datagrams dropped because a direction of some thread's link was full.
    pub overflowed: u64,
}

/// Both directions of one thread's link.
pub struct LinkDelay<K> {
    delay: Duration,
    received: VecDeque<(Instant, Held<K>)>,
    sent: VecDeque<(Instant, Held<K>)>,
    /// Buffers of received datagrams already handed over, to copy the next ones into.
    spare: Vec<Vec<u8>>,
    limit: usize,
    /// Shared by every thread of the run; bumped once per dropped datagram.
    overflowed: Arc<AtomicU64>,
}

impl<K> LinkDelay<K> {
    /// `None` when `delay` is zero: then nothing is held, and the caller's path is the
    /// direct one it takes without the option. Datagrams dropped when a direction is full
    /// are added to `overflowed`.
    pub fn new(delay: Duration, overflowed: Arc<AtomicU64>) -> Option<Self> {
        Self::with_limit(delay, MAX_HELD, overflowed)
    }

    fn with_limit(delay: Duration, limit: usize, overflowed: Arc<AtomicU64>) -> Option<Self> {
        (!delay.is_zero()).then(|| Self {
            delay,
            received: VecDeque::new(),
            sent: VecDeque::new(),
            spare: Vec::new(),
            limit,
            overflowed,
        })
    }

    /// Holds a copy of `datagram`, received at `now` from `source`, for `owner`.
    pub fn hold_received(&mut self, now: Instant, owner: K, source: SocketAddr, datagram: &[u8]) {
        if self.received.len() >= self.limit {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.clear();
        bytes.extend_from_slice(datagram);
        let held = Held {
            owner,
            address: source,
            bytes,
        };
        push(&mut self.received, now + self.delay, held);
    }

    /// Holds `datagram`, sent at `now` by `owner` to `destination`.
    pub fn hold_sent(
        &mut self,
        now: Instant,
        owner: K,
        destination: SocketAddr,
        datagram: Vec<u8>,
    ) {
        if self.sent.len() >= self.limit {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let held = Held {
            owner,
            address: destination,
            bytes: datagram,
        };
        push(&mut self.sent, now + self.delay, held);
    }

    /// Hands up to `max` received datagrams due at `now` to `deliver`, oldest first; true
    /// when more are due.
    pub fn deliver_received(
        &mut self,
        now: Instant,
        max: usize,
        mut deliver: impl FnMut(K, SocketAddr, &[u8]),
    ) -> bool {
        for _ in 0..max {
            let Some(held) = pop_due(&mut self.received, now) else {
                return false;
            };
            deliver(held.owner, held.address, &held.bytes);
            if self.spare.len() < self.limit {
                self.spare.push(held.bytes);
            }
        }
        self.received.front().is_some_and(|(due, _)| *due <= now)
    }

    /// The oldest sent datagram due at `now`, to put on the socket.
    pub fn release_sent(&mut self, now: Instant) -> Option<Held<K>> {
        pop_due(&mut self.sent, now)
    }

    /// When the next held datagram is due, either way.
    pub fn next_release(&self) -> Option<Instant> {
        let first = |line: &VecDeque<(Instant, Held<K>)>| line.front().map(|(due, _)| *due);
        [first(&self.received), first(&self.sent)]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Appends `held`, due at `due` or, should the clock have stepped back, with the one before
/// it: the line stays in release order.
fn push<K>(line: &mut VecDeque<(Instant, Held<K>)>, due: Instant, held: Held<K>) {
    let due = line.back().map_or(due, |(last, _)| due.max(*last));
    line.push_back((due, held));
}

fn pop_due<K>(line: &mut VecDeque<(Instant, Held<K>)>, now: Instant) -> Option<Held<K>> {
    if line.front()?.0 > now {
        return None;
    }
    line.pop_front().map(|(_, held)| held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn delayed_by(delay_ms: u64) -> LinkDelay<usize> {
        LinkDelay::new(Duration::from_millis(delay_ms), Arc::default()).unwrap()
    }

    /// Every datagram delivered before `now`, as (owner, port, bytes).
    fn delivered(link: &mut LinkDelay<usize>, now: Instant) -> Vec<(usize, u16, Vec<u8>)> {
        let mut out = Vec::new();
        link.deliver_received(now, usize::MAX, |owner, source, bytes| {
            out.push((owner, source.port(), bytes.to_vec()));
        });
        out
    }

    #[test]
    fn no_delay_holds_nothing() {
        assert!(LinkDelay::<usize>::new(Duration::ZERO, Arc::default()).is_none());
    }

    #[test]
    fn received_datagrams_come_out_after_the_delay_in_order() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut link = delayed_by(20);
        link.hold_received(ms(0), 1, address(5), b"a");
        link.hold_received(ms(3), 2, address(6), b"bb");
        link.hold_received(ms(3), 1, address(5), b"c");
        assert_eq!(link.next_release(), Some(ms(20)));
        assert!(delivered(&mut link, ms(19)).is_empty());
        assert_eq!(delivered(&mut link, ms(20)), [(1, 5, b"a".to_vec())]);
        assert_eq!(link.next_release(), Some(ms(23)));
        assert_eq!(
            delivered(&mut link, ms(40)),
            [(2, 6, b"bb".to_vec()), (1, 5, b"c".to_vec())]
        );
        assert_eq!(link.next_release(), None);
    }

    #[test]
    fn sent_datagrams_come_out_after_the_delay_in_order() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut link = delayed_by(20);
        link.hold_sent(ms(1), 0, address(9), vec![1]);
        link.hold_sent(ms(2), 3, address(8), vec![2]);
        link.hold_received(ms(0), 7, address(5), b"r");
        assert_eq!(link.next_release(), Some(ms(20)));
        assert_eq!(link.release_sent(ms(20)), None);
        let first = link.release_sent(ms(21)).unwrap();
        assert_eq!(
            (first.owner, first.address, first.bytes),
            (0, address(9), vec![1])
        );
        assert_eq!(link.release_sent(ms(21)), None);
        assert_eq!(link.release_sent(ms(22)).map(|held| held.owner), Some(3));
        // The received one is still there, and was due first.
        assert_eq!(link.next_release(), Some(ms(20)));
    }

    #[test]
    fn delivery_stops_at_the_batch_size_and_says_more_are_due() {
        let t0 = Instant::now();
        let mut link = delayed_by(5);
        for owner in 0..5 {
            link.hold_received(t0, owner, address(1), &[owner as u8]);
        }
        let later = t0 + Duration::from_millis(5);
        let mut owners = Vec::new();
        assert!(link.deliver_received(later, 3, |owner, _, _| owners.push(owner)));
        assert!(!link.deliver_received(later, 3, |owner, _, _| owners.push(owner)));
        assert_eq!(owners, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_full_direction_drops_and_counts_without_blocking_the_other() {
        let t0 = Instant::now();
        let overflowed = Arc::new(AtomicU64::new(0));
        let mut link =
            LinkDelay::with_limit(Duration::from_millis(10), 2, overflowed.clone()).unwrap();
        for byte in 0..3u8 {
            link.hold_received(t0, 0, address(1), &[byte]);
            link.hold_sent(t0, 0, address(2), vec![byte]);
        }
        assert_eq!(overflowed.load(Ordering::Relaxed), 2);
        let at = t0 + Duration::from_millis(10);
        let bytes: Vec<_> = delivered(&mut link, at).into_iter().map(|d| d.2).collect();
        assert_eq!(bytes, [vec![0], vec![1]]);
        assert_eq!(link.release_sent(at).map(|held| held.bytes), Some(vec![0]));
        // Room again: the next ones are held, not counted.
        link.hold_received(at, 0, address(1), &[9]);
        link.hold_sent(at, 0, address(2), vec![9]);
        assert_eq!(overflowed.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn received_buffers_are_reused_once_delivered() {
        let t0 = Instant::now();
        let mut link = delayed_by(1);
        link.hold_received(t0, 0, address(1), &[1; 1200]);
        let mut first = std::ptr::null();
        link.deliver_received(t0 + Duration::from_millis(1), 1, |_, _, bytes| {
            first = bytes.as_ptr();
        });
        link.hold_received(t0, 0, address(1), &[2; 100]);
        let mut second = std::ptr::null();
        let mut copy = Vec::new();
        link.deliver_received(t0 + Duration::from_millis(2), 1, |_, _, bytes| {
            second = bytes.as_ptr();
            copy = bytes.to_vec();
        });
        assert_eq!(first, second);
        assert_eq!(copy, [2; 100]);
    }

    #[test]
    fn a_clock_that_steps_back_keeps_the_order() {
        let t0 = Instant::now();
        let mut link = delayed_by(10);
        link.hold_sent(t0 + Duration::from_millis(5), 1, address(1), vec![1]);
        link.hold_sent(t0, 2, address(1), vec![2]);
        assert_eq!(link.release_sent(t0 + Duration::from_millis(10)), None);
        let at = t0 + Duration::from_millis(15);
        assert_eq!(link.release_sent(at).map(|held| held.owner), Some(1));
        assert_eq!(link.release_sent(at).map(|held| held.owner), Some(2));
    }
}

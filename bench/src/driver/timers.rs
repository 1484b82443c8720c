//! The deadlines of one worker's viewers, earliest first.
//!
//! A viewer's deadline moves with every packet (its NACK and keyframe timers follow the
//! receive log), so entries are not updated in place: a new earlier deadline pushes a new
//! entry, and an entry that no longer matches what its viewer has scheduled is stale and
//! skipped when it comes up. Later deadlines push nothing: the old entry fires early,
//! finds nothing due, and reschedules.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Timers {
    /// Makes sure `viewer` is woken no later than `at`; `scheduled` is the viewer's own record
    /// of its live entry.
    pub fn schedule(&mut self, viewer: usize, at: Instant, scheduled: &mut Option<Instant>) {
        if scheduled.is_none_or(|current| at < current) {
            self.heap.push(Reverse((at, viewer)));
            *scheduled = Some(at);
        }
    }

    /// The earliest entry due at `now`, removed. The caller checks it against the viewer's
    /// `scheduled` and skips it when they differ.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize)> {
        let &Reverse((at, viewer)) = self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        Some((at, viewer))
    }

    /// When the earliest entry is due (possibly a stale one, which only wakes early).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earlier_deadlines_replace_later_ones() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut timers = Timers::default();
        let (mut a, mut b) = (None, None);
        timers.schedule(0, ms(30), &mut a);
        timers.schedule(1, ms(20), &mut b);
        timers.schedule(0, ms(10), &mut a);
        // Later than what is scheduled: nothing new.
        timers.schedule(1, ms(50), &mut b);
        assert_eq!((a, b), (Some(ms(10)), Some(ms(20))));
        assert_eq!(timers.next(), Some(ms(10)));
        assert_eq!(timers.pop_due(ms(5)), None);
        assert_eq!(timers.pop_due(ms(25)), Some((ms(10), 0)));
        assert_eq!(timers.pop_due(ms(25)), Some((ms(20), 1)));
        // The stale entry of viewer 0 still comes up; its owner sees it does not match.
        assert_eq!(timers.pop_due(ms(40)), Some((ms(30), 0)));
        assert_eq!(timers.next(), None);
    }
}

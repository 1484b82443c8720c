//! The shard's deadline table: when each session next needs `handle_timeout`.
//!
//! Sessions change their deadline all the time (every packet can move an RTCP or DTLS
//! timer), so entries are never removed from the heap: each key remembers its current
//! deadline and stale heap entries are skipped when they surface. Finding the earliest
//! deadline is O(1) and expiring one is O(log n), however many sessions a shard holds.
//!
//! How late timers fire is measured here too: [`TimerLateness`] is the histogram, and
//! [`TimerProbe`] a steady periodic timer whose lateness shows how long the shard's loop goes
//! without looking at the clock; [`TimerCheckGaps`] splits the time between two checks into
//! the shard's own work and time it was kept off its CPU. [`TickGrid`] gathers timers that can
//! wait a little onto shared instants.

mod check_gaps;
mod lateness;
mod probe;
mod tick;

pub use check_gaps::TimerCheckGaps;
pub use lateness::TimerLateness;
pub use probe::TimerProbe;
pub use tick::TickGrid;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::Hash;
use std::time::Instant;

use crate::counter_hash::CounterMap;

pub struct DeadlineTable<K> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
    current: CounterMap<K, Instant>,
}

impl<K: Copy + Eq + Hash + Ord> Default for DeadlineTable<K> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            current: CounterMap::default(),
        }
    }
}

impl<K: Copy + Eq + Hash + Ord> DeadlineTable<K> {
    /// Sets (or clears, with `None`) the deadline of `key`.
    pub fn set(&mut self, key: K, deadline: Option<Instant>) {
        match deadline {
            Some(at) => {
                if self.current.insert(key, at) != Some(at) {
                    self.heap.push(Reverse((at, key)));
                }
            }
            None => {
                self.current.remove(&key);
            }
        }
        self.compact_if_bloated();
    }

    /// The deadline `key` has now, if any.
    #[cfg(test)]
    pub fn get(&self, key: &K) -> Option<Instant> {
        self.current.get(key).copied()
    }

    /// The earliest live deadline.
    pub fn earliest(&mut self) -> Option<Instant> {
        self.drop_stale_top();
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes a key whose deadline is at or before `now` and returns that deadline with it
    /// (so the caller can tell how late it is). The caller handles the key and sets its next
    /// deadline.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        self.drop_stale_top();
        let Reverse((at, key)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        self.current.remove(&key);
        Some((at, key))
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    fn drop_stale_top(&mut self) {
        while let Some(Reverse((at, key))) = self.heap.peek() {
            if self.current.get(key) == Some(at) {
                return;
            }
            self.heap.pop();
        }
    }

    /// Rebuilds the heap when stale entries outnumber live ones by far, so memory stays
    /// proportional to the number of sessions.
    fn compact_if_bloated(&mut self) {
        if self.heap.len() > 64 && self.heap.len() > 4 * self.current.len() {
            self.heap = self
                .current
                .iter()
                .map(|(key, at)| Reverse((*at, *key)))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_deadline_first_and_moves_replace_old_ones() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut table = DeadlineTable::default();
        table.set(1u64, Some(ms(30)));
        table.set(2, Some(ms(10)));
        table.set(3, Some(ms(20)));
        table.set(2, Some(ms(40)));
        assert_eq!(table.earliest(), Some(ms(20)));
        assert_eq!(table.pop_due(ms(25)), Some((ms(20), 3)));
        assert_eq!(table.pop_due(ms(25)), None);
        table.set(1, None);
        assert_eq!(table.earliest(), Some(ms(40)));
        assert_eq!(table.pop_due(ms(100)), Some((ms(40), 2)));
        assert_eq!(table.pop_due(ms(100)), None);
        assert!(table.is_empty());
    }

    #[test]
    fn stale_entries_do_not_accumulate() {
        let t0 = Instant::now();
        let mut table = DeadlineTable::default();
        for i in 0..10_000u64 {
            table.set(i % 10, Some(t0 + Duration::from_micros(i)));
        }
        assert_eq!(table.len(), 10);
        assert!(table.heap.len() <= 64 + 4 * 10 + 1);
        let mut due = Vec::new();
        while let Some((_, k)) = table.pop_due(t0 + Duration::from_secs(1)) {
            due.push(k);
        }
        due.sort();
        assert_eq!(due, (0..10).collect::<Vec<_>>());
    }
}

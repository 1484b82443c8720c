//! How often, and how lately, one track of one viewer got each packet again: a packet is
//! resent at most [`MAX_RETRANSMISSIONS`] times, and not again within a round trip of the
//! last time (the viewer asks again before our answer could have arrived; resending then
//! only doubles the traffic).
//!
//! A table indexed by the viewer's sequence number, as long as the RTX cache: a packet that
//! has left its slot here has left the cache too, and cannot be resent anyway. It is
//! allocated on the first retransmission, since most viewers never ask for one, and holds
//! times as milliseconds from then, eight bytes a slot.

use std::time::{Duration, Instant};

/// Retransmissions of one packet to one viewer at most.
pub const MAX_RETRANSMISSIONS: u8 = 3;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    seq: u16,
    /// 0: the slot is unused.
    count: u8,
    /// Milliseconds from the table's epoch.
    sent_at: u32,
}

#[derive(Debug)]
pub struct RetransmitLimit {
    slots: usize,
    table: Option<(Instant, Box<[Entry]>)>,
}

impl RetransmitLimit {
    /// A limit for a track whose packets are cached in `slots` slots (a power of two).
    pub fn new(slots: usize) -> Self {
        Self { slots, table: None }
    }

    /// True when packet `seq` may be resent at `now`, `rtt` being the viewer's round trip.
    pub fn allows(&self, now: Instant, seq: u16, rtt: Duration) -> bool {
        let Some((epoch, entries)) = &self.table else {
            return true;
        };
        let entry = entries[self.slot(seq)];
        if entry.count == 0 || entry.seq != seq {
            return true;
        }
        let since = u64::from(millis(*epoch, now).saturating_sub(entry.sent_at));
        entry.count < MAX_RETRANSMISSIONS && Duration::from_millis(since) >= rtt
    }

    /// Packet `seq` was resent at `now`.
    pub fn record(&mut self, now: Instant, seq: u16) {
        let slot = self.slot(seq);
        let (epoch, entries) = self
            .table
            .get_or_insert_with(|| (now, vec![Entry::default(); self.slots].into()));
        let entry = &mut entries[slot];
        let count = if entry.count > 0 && entry.seq == seq {
            entry.count.saturating_add(1)
        } else {
            1
        };
        *entry = Entry {
            seq,
            count,
            sent_at: millis(*epoch, now),
        };
    }

    fn slot(&self, seq: u16) -> usize {
        usize::from(seq) & (self.slots - 1)
    }
}

fn millis(epoch: Instant, now: Instant) -> u32 {
    u32::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTT: Duration = Duration::from_millis(80);

    #[test]
    fn at_most_the_bound_and_never_within_a_round_trip() {
        let t0 = Instant::now();
        let mut limit = RetransmitLimit::new(1024);
        let mut now = t0;
        for _ in 0..MAX_RETRANSMISSIONS {
            assert!(limit.allows(now, 500, RTT));
            limit.record(now, 500);
            assert!(!limit.allows(now + RTT - Duration::from_millis(1), 500, RTT));
            now += RTT;
        }
        assert!(!limit.allows(now + Duration::from_secs(1), 500, RTT));
        assert!(
            limit.allows(now, 501, RTT),
            "other packets are not affected"
        );
    }

    #[test]
    fn a_packet_a_table_length_later_starts_afresh() {
        let t0 = Instant::now();
        let mut limit = RetransmitLimit::new(128);
        for _ in 0..MAX_RETRANSMISSIONS {
            limit.record(t0, 65_530);
        }
        assert!(!limit.allows(t0 + RTT, 65_530, RTT));
        let same_slot = 65_530u16.wrapping_add(128);
        assert!(limit.allows(t0, same_slot, RTT));
        limit.record(t0, same_slot);
        assert!(limit.allows(t0 + RTT, same_slot, RTT));
        assert!(
            limit.allows(t0 + RTT, 65_530, RTT),
            "its entry was taken over"
        );
    }
}

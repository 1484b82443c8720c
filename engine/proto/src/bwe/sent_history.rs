//! What went out under each transport-wide sequence number: when, and how big. A fixed ring,
//! filled once per packet without allocating; feedback older than the ring finds nothing.

use std::time::Instant;

use crate::prefetch::prefetch;

/// Packets remembered: about a second at 5 Mbps, many times what feedback takes to come
/// back. 4 KB per viewer.
pub const SLOTS: usize = 512;

/// One packet sent: its send time in microseconds since the first packet (wrapping after
/// 71 minutes; only differences between nearby packets are used) and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentPacket {
    pub sent_us: u32,
    pub size: u16,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    seq: u16,
    /// 0 while the slot was never written.
    size: u16,
    sent_us: u32,
}

#[derive(Debug)]
pub struct SentHistory {
    /// When the first packet went out: send times count from here.
    epoch: Option<Instant>,
    next_seq: u16,
    slots: Box<[Slot]>,
}

impl SentHistory {
    /// Numbers packets from `first_seq` on.
    pub fn new(first_seq: u16) -> Self {
        Self {
            epoch: None,
            next_seq: first_seq,
            slots: vec![Slot::default(); SLOTS].into_boxed_slice(),
        }
    }

    /// The sequence number the next packet carries.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// The packet numbered [`Self::next_seq`] went out at `now`, `size` bytes long.
    pub fn record(&mut self, now: Instant, size: usize) {
        let seq = self.next_seq;
        let epoch = *self.epoch.get_or_insert(now);
        let sent_us = now.saturating_duration_since(epoch).as_micros() as u32;
        self.slots[usize::from(seq) % SLOTS] = Slot {
            seq,
            size: u16::try_from(size).unwrap_or(u16::MAX).max(1),
            sent_us,
        };
        self.next_seq = seq.wrapping_add(1);
    }

    /// Starts loading the slot the next packet is written to.
    pub fn prefetch_next(&self) {
        if let Some(slot) = self.slots.get(usize::from(self.next_seq) % SLOTS) {
            prefetch(slot);
        }
    }

    /// The packet sent as `seq`, while the ring still holds it.
    pub fn get(&self, seq: u16) -> Option<SentPacket> {
        let age = usize::from(self.next_seq.wrapping_sub(seq));
        if age == 0 || age > SLOTS {
            return None;
        }
        let slot = self.slots[usize::from(seq) % SLOTS];
        (slot.size != 0 && slot.seq == seq).then_some(SentPacket {
            sent_us: slot.sent_us,
            size: slot.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn remembers_the_last_slots_across_wrap() {
        let epoch = Instant::now();
        let mut history = SentHistory::new(65000);
        assert_eq!(history.get(65000), None, "not sent yet");
        for i in 0..2000u32 {
            history.record(
                epoch + Duration::from_micros(u64::from(i) * 10),
                100 + i as usize,
            );
        }
        assert_eq!(history.next_seq(), 65000u16.wrapping_add(2000));
        let newest = history.next_seq().wrapping_sub(1);
        assert_eq!(
            history.get(newest),
            Some(SentPacket {
                sent_us: 19_990,
                size: 2099
            })
        );
        let oldest_kept = history.next_seq().wrapping_sub(SLOTS as u16);
        assert_eq!(
            history.get(oldest_kept).map(|p| p.size),
            Some(2000 - SLOTS as u16 + 100)
        );
        assert_eq!(
            history.get(oldest_kept.wrapping_sub(1)),
            None,
            "overwritten"
        );
        assert_eq!(history.get(history.next_seq()), None, "the future");
    }

    #[test]
    fn sizes_saturate_and_never_read_as_empty() {
        let epoch = Instant::now();
        let mut history = SentHistory::new(0);
        history.record(epoch, 70_000);
        history.record(epoch, 0);
        assert_eq!(history.get(0).map(|p| p.size), Some(u16::MAX));
        assert_eq!(history.get(1).map(|p| p.size), Some(1));
    }
}

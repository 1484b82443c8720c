//! The most recent packets of a track, by extended sequence number, in a fixed ring.
//!
//! The ring answers two questions cheaply and with bounded memory: "did this sequence number
//! already arrive?" (duplicates) and "what came just before and after it?" (frame edges).

/// What is remembered of one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    pub timestamp: u32,
    pub marker: bool,
    pub keyframe_start: bool,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// 0 marks an empty slot: extended sequence numbers start at 2^16 - 2^15 or above
    /// (see `SequenceUnwrapper`), so 0 is never a real one.
    sequence: u64,
    packet: Received,
}

const EMPTY: Slot = Slot {
    sequence: 0,
    packet: Received {
        timestamp: 0,
        marker: false,
        keyframe_start: false,
    },
};

#[derive(Debug)]
pub(crate) struct PacketHistory {
    slots: Vec<Slot>,
    highest: Option<u64>,
}

impl PacketHistory {
    pub fn new(len: usize) -> Self {
        Self {
            slots: vec![EMPTY; len.max(1)],
            highest: None,
        }
    }

    /// Whether `sequence` is recent enough that its absence from the ring means it never
    /// arrived.
    pub fn covers(&self, sequence: u64) -> bool {
        self.highest
            .is_none_or(|highest| sequence + self.slots.len() as u64 > highest)
    }

    pub fn get(&self, sequence: u64) -> Option<Received> {
        let slot = self.slots[self.index(sequence)];
        (slot.sequence == sequence && sequence != 0).then_some(slot.packet)
    }

    pub fn contains(&self, sequence: u64) -> bool {
        self.get(sequence).is_some()
    }

    /// Records a packet; one older than the ring covers is not stored.
    pub fn insert(&mut self, sequence: u64, packet: Received) {
        if !self.covers(sequence) {
            return;
        }
        let index = self.index(sequence);
        self.slots[index] = Slot { sequence, packet };
        if self.highest.is_none_or(|highest| sequence > highest) {
            self.highest = Some(sequence);
        }
    }

    fn index(&self, sequence: u64) -> usize {
        (sequence % self.slots.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: Received = Received {
        timestamp: 9,
        marker: true,
        keyframe_start: false,
    };

    #[test]
    fn remembers_recent_packets_and_forgets_overwritten_ones() {
        let mut history = PacketHistory::new(4);
        history.insert(100_000, PACKET);
        assert_eq!(history.get(100_000), Some(PACKET));
        assert!(!history.contains(100_001));
        history.insert(100_004, PACKET);
        assert!(!history.contains(100_000), "same slot, newer packet");
        assert!(history.contains(100_004));
        assert!(!history.covers(100_000));
        assert!(history.covers(100_001));
        history.insert(100_000, PACKET);
        assert!(
            history.contains(100_004),
            "a too old packet overwrites nothing"
        );
    }
}

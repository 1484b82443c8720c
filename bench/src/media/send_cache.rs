//! The packets a track sent recently, by sequence number, to answer NACKs (RFC 4585 6.2.1).

use super::OutgoingPacket;

/// A fixed ring of the last `capacity` packets sent; older ones are overwritten.
#[derive(Debug, Clone)]
pub struct SendCache {
    slots: Vec<Option<OutgoingPacket>>,
}

impl SendCache {
    /// A cache of at least one packet. A power of two divides 65536, so slots stay in
    /// step across the sequence number wrap.
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: vec![None; capacity.max(1)],
        }
    }

    pub fn insert(&mut self, packet: OutgoingPacket) {
        let slot = self.slot(packet.header.sequence_number);
        self.slots[slot] = Some(packet);
    }

    /// The packet sent with `sequence_number`, if it is still held.
    pub fn get(&self, sequence_number: u16) -> Option<&OutgoingPacket> {
        self.slots[self.slot(sequence_number)]
            .as_ref()
            .filter(|packet| packet.header.sequence_number == sequence_number)
    }

    fn slot(&self, sequence_number: u16) -> usize {
        usize::from(sequence_number) % self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardcast_control::MediaKind;
    use shardcast_proto::rtp::RtpHeader;

    fn packet(sequence_number: u16) -> OutgoingPacket {
        OutgoingPacket {
            kind: MediaKind::Video,
            header: RtpHeader {
                marker: false,
                payload_type: 96,
                sequence_number,
                timestamp: 0,
                ssrc: 1,
            },
            payload: sequence_number.to_be_bytes().into(),
        }
    }

    #[test]
    fn keeps_the_last_packets_and_forgets_older_ones() {
        let mut cache = SendCache::new(4);
        for sequence_number in 65533..=65535 {
            cache.insert(packet(sequence_number));
        }
        for sequence_number in 0..=2 {
            cache.insert(packet(sequence_number));
        }
        // 65533 and 65534 were overwritten by 1 and 2, across the wrap.
        for gone in [65533, 65534, 3, 100] {
            assert!(cache.get(gone).is_none(), "{gone}");
        }
        for held in [65535, 0, 1, 2] {
            assert_eq!(cache.get(held), Some(&packet(held)), "{held}");
        }
    }

    #[test]
    fn zero_capacity_still_holds_the_last_packet() {
        let mut cache = SendCache::new(0);
        cache.insert(packet(9));
        assert_eq!(cache.get(9), Some(&packet(9)));
        cache.insert(packet(10));
        assert!(cache.get(9).is_none());
    }
}

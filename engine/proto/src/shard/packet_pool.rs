//! Recycled media packets: a publisher's packet is decrypted into a buffer a finished packet
//! gave back, and shared in that packet's `Arc`, so taking in media allocates nothing once
//! the stream runs.
//!
//! Packets come back when the stream's RTX cache lets go of them, the last of the shard's
//! holders. Another shard may still hold one (its mirror of the stream lets go a moment
//! later), so the pool waits: the oldest returned packet is reused once nothing else
//! references it, and the pool lets go of it when it has too many to wait for.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::media::MediaPacket;

/// A fresh decrypt buffer's capacity: any datagram under the Ethernet MTU.
const PACKET_BUFFER_BYTES: usize = 1500;

pub struct PacketPool {
    /// Packets given back, oldest first.
    returned: VecDeque<Arc<MediaPacket>>,
    capacity: usize,
    /// Where the next received packet is decrypted.
    buffer: Vec<u8>,
}

impl PacketPool {
    /// A pool keeping up to `capacity` returned packets (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            returned: VecDeque::with_capacity(capacity),
            capacity,
            buffer: Vec::new(),
        }
    }

    /// The buffer to decrypt the next received packet into. Whoever builds a packet from it
    /// takes it, leaving it without capacity; the pool then finds another.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        if self.buffer.capacity() == 0 {
            self.buffer = Vec::with_capacity(PACKET_BUFFER_BYTES);
        }
        &mut self.buffer
    }

    /// Shares `packet`, in the oldest returned allocation when nothing else holds it.
    pub fn share(&mut self, packet: MediaPacket) -> Arc<MediaPacket> {
        let Some(mut oldest) = self.returned.pop_front() else {
            return Arc::new(packet);
        };
        let Some(unused) = Arc::get_mut(&mut oldest) else {
            // Still held elsewhere: wait for it.
            self.returned.push_front(oldest);
            return Arc::new(packet);
        };
        let previous = std::mem::replace(unused, packet);
        if self.buffer.capacity() == 0 {
            self.buffer = previous.into_data();
        }
        oldest
    }

    /// Takes back a packet the shard is done with; past capacity the oldest is let go (its
    /// last holder frees it).
    pub fn recycle(&mut self, packet: Arc<MediaPacket>) {
        if self.returned.len() == self.capacity {
            self.returned.pop_front();
        }
        self.returned.push_back(packet);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use shardcast_control::{CodecName, MediaKind};

    use super::*;
    use crate::media::{MediaOrigin, PacketLayout};
    use crate::rtp::{RtpHeader, RtpPacket, write_rtp};

    /// A packet with `sequence_number`, built in `pool`'s buffer as a session would.
    fn receive(pool: &mut PacketPool, sequence_number: u16) -> MediaPacket {
        let mut bytes = [0u8; 64];
        let header = RtpHeader {
            marker: false,
            payload_type: 111,
            sequence_number,
            timestamp: 0,
            ssrc: 1,
        };
        let len = write_rtp(&mut bytes, &header, &[], b"opus").unwrap();
        let buffer = pool.buffer();
        buffer.clear();
        buffer.extend_from_slice(&bytes[..len]);
        let layout = PacketLayout::of(&RtpPacket::parse(buffer).unwrap(), |_| None);
        let origin = MediaOrigin {
            source: 1,
            kind: MediaKind::Audio,
            codec: CodecName::Opus,
            clock_rate: 48_000,
            keyframe: false,
            arrival: Instant::now(),
            layer: 0,
            layers: crate::layers::LayerRates::default(),
        };
        MediaPacket::new(origin, layout, std::mem::take(buffer))
    }

    fn share(pool: &mut PacketPool, sequence_number: u16) -> Arc<MediaPacket> {
        let packet = receive(pool, sequence_number);
        pool.share(packet)
    }

    #[test]
    fn a_returned_packet_is_reused_once_nobody_else_holds_it() {
        let mut pool = PacketPool::new(2);
        let first = share(&mut pool, 1);
        assert_eq!(first.layout.sequence_number, 1);
        let held = Arc::clone(&first);
        pool.recycle(first);

        // Returned, but another shard still holds it: a new allocation, and it waits.
        let second = share(&mut pool, 2);
        assert!(!Arc::ptr_eq(&second, &held));
        assert_eq!(
            held.layout.sequence_number, 1,
            "a held packet is never changed"
        );
        let address = Arc::as_ptr(&held);
        let bytes = held.payload().as_ptr();
        drop(held);

        // Free now: its allocation carries the third, and its bytes become the buffer the
        // fourth is decrypted into.
        let third = share(&mut pool, 3);
        assert_eq!(Arc::as_ptr(&third), address);
        assert_eq!(third.layout.sequence_number, 3);
        assert_eq!(third.payload(), b"opus");
        let fourth = receive(&mut pool, 4);
        assert_eq!(fourth.payload().as_ptr(), bytes);
    }

    #[test]
    fn past_capacity_the_oldest_returned_packet_is_let_go() {
        let mut pool = PacketPool::new(2);
        let packets: Vec<_> = (1..=3).map(|seq| share(&mut pool, seq)).collect();
        let first = Arc::downgrade(&packets[0]);
        for packet in packets {
            pool.recycle(packet);
        }
        assert!(first.upgrade().is_none(), "freed, not kept");
        assert_eq!(share(&mut pool, 4).layout.sequence_number, 4);
    }
}

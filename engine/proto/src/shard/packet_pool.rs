//! Recycled media packets: a publisher's packet is decrypted into a buffer a finished packet
//! gave back, and shared in that packet's `Arc`, so taking in media allocates nothing once
//! the stream runs.
//!
//! The pool holds a reference to each of the latest packets it shared. When the oldest one is
//! referenced by nothing else (every fan-out job here and every other shard has let go of
//! it), its allocation carries the next packet and its bytes become the next decrypt buffer.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::media::MediaPacket;

/// A fresh decrypt buffer's capacity: any datagram under the Ethernet MTU.
const PACKET_BUFFER_BYTES: usize = 1500;

pub struct PacketPool {
    /// The latest shared packets, oldest first.
    recent: VecDeque<Arc<MediaPacket>>,
    capacity: usize,
    /// Where the next received packet is decrypted.
    buffer: Vec<u8>,
}

impl PacketPool {
    /// A pool remembering up to `capacity` shared packets (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            recent: VecDeque::with_capacity(capacity),
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

    /// Shares `packet`, in the oldest remembered allocation when nothing else holds it.
    pub fn share(&mut self, packet: MediaPacket) -> Arc<MediaPacket> {
        let shared = match self.recent.pop_front() {
            Some(mut oldest) => match Arc::get_mut(&mut oldest) {
                Some(unused) => {
                    let previous = std::mem::replace(unused, packet);
                    if self.buffer.capacity() == 0 {
                        self.buffer = previous.into_data();
                    }
                    oldest
                }
                None => {
                    // Still on its way somewhere. While there is room the pool waits for it;
                    // when full it lets go, and the packet's last holder frees it.
                    if self.recent.len() + 2 <= self.capacity {
                        self.recent.push_front(oldest);
                    }
                    Arc::new(packet)
                }
            },
            None => Arc::new(packet),
        };
        self.recent.push_back(Arc::clone(&shared));
        shared
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
        };
        MediaPacket::new(origin, layout, std::mem::take(buffer))
    }

    fn share(pool: &mut PacketPool, sequence_number: u16) -> Arc<MediaPacket> {
        let packet = receive(pool, sequence_number);
        pool.share(packet)
    }

    #[test]
    fn the_oldest_packet_is_reused_once_nobody_else_holds_it() {
        let mut pool = PacketPool::new(2);
        let first = share(&mut pool, 1);
        let second = share(&mut pool, 2);
        let held = Arc::clone(&first);
        drop(first);

        // The oldest is still held somewhere: a new allocation, and the pool lets go of it.
        let third = share(&mut pool, 3);
        assert!(!Arc::ptr_eq(&third, &held));
        assert_eq!(
            held.layout.sequence_number, 1,
            "a held packet is never changed"
        );
        drop(held);

        // The second is free now: its allocation carries the fourth, and its bytes become
        // the buffer the fifth is decrypted into.
        let second_address = Arc::as_ptr(&second);
        let second_bytes = second.payload().as_ptr();
        drop(second);
        let fourth = share(&mut pool, 4);
        assert_eq!(Arc::as_ptr(&fourth), second_address);
        assert_eq!(fourth.layout.sequence_number, 4);
        assert_eq!(fourth.payload(), b"opus");
        let fifth = receive(&mut pool, 5);
        assert_eq!(fifth.payload().as_ptr(), second_bytes);
    }
}

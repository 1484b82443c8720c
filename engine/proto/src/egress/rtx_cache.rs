//! The recent packets of one stream on one shard, kept to answer viewers' NACKs. The home
//! shard and every shard mirroring the stream keep their own, so a NACK never crosses
//! shards.
//!
//! A ring per kind, and for video per simulcast layer (each layer numbers its packets on its
//! own), indexed by the publisher's sequence number: storing a packet is a reference count
//! and a slot write, and the packet it displaces is handed back to the caller (whose pool
//! reuses its allocation) rather than freed. Lookups check the slot holds that very packet
//! (same source, same layer, same number) and is not too old to be of use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shardcast_control::MediaKind;

use crate::layers::MAX_LAYERS;
use crate::media::MediaPacket;
use crate::rtp::is_newer_seq;

/// Video packets kept per layer: about a second at 10 Mbit/s.
pub const VIDEO_SLOTS: usize = 1024;

/// Audio packets kept: two and a half seconds of 20 ms Opus frames.
pub const AUDIO_SLOTS: usize = 128;

/// A packet older than this is no use to a viewer: its frame is long due.
pub const MAX_AGE: Duration = Duration::from_secs(1);

struct Ring {
    slots: Box<[Option<Arc<MediaPacket>>]>,
}

impl Ring {
    /// `size` must be a power of two.
    fn new(size: usize) -> Self {
        Self {
            slots: (0..size).map(|_| None).collect(),
        }
    }

    fn slot(&self, seq: u16) -> usize {
        usize::from(seq) & (self.slots.len() - 1)
    }

    fn insert(&mut self, packet: &Arc<MediaPacket>) -> Option<Arc<MediaPacket>> {
        let index = self.slot(packet.layout.sequence_number);
        let slot = &mut self.slots[index];
        if let Some(held) = slot
            && held.origin.source == packet.origin.source
            && is_newer_seq(held.layout.sequence_number, packet.layout.sequence_number)
        {
            // A packet far behind the stream must not push out a recent one.
            return None;
        }
        slot.replace(Arc::clone(packet))
    }

    fn get(&self, source: u64, layer: u8, seq: u16, now: Instant) -> Option<&MediaPacket> {
        let packet = self.slots[self.slot(seq)].as_deref()?;
        let fresh = now.saturating_duration_since(packet.origin.arrival) <= MAX_AGE;
        let origin = &packet.origin;
        (origin.source == source
            && origin.layer == layer
            && packet.layout.sequence_number == seq
            && fresh)
            .then_some(packet)
    }
}

pub struct RtxCache {
    /// One ring per simulcast layer.
    video: [Ring; MAX_LAYERS],
    audio: Ring,
}

impl Default for RtxCache {
    fn default() -> Self {
        Self::new()
    }
}

impl RtxCache {
    /// Allocates every slot up front (a stream is set up on the control path).
    pub fn new() -> Self {
        Self {
            video: std::array::from_fn(|_| Ring::new(VIDEO_SLOTS)),
            audio: Ring::new(AUDIO_SLOTS),
        }
    }

    /// Keeps `packet`; returns the packet whose slot it took, if any. A video packet of a
    /// layer past [`MAX_LAYERS`] is not kept.
    pub fn insert(&mut self, packet: &Arc<MediaPacket>) -> Option<Arc<MediaPacket>> {
        self.ring_mut(packet.origin.kind, packet.origin.layer)?
            .insert(packet)
    }

    /// Packet `seq` of `layer` of `source`, if it is here and recent.
    pub fn get(
        &self,
        kind: MediaKind,
        source: u64,
        layer: u8,
        seq: u16,
        now: Instant,
    ) -> Option<&MediaPacket> {
        let ring = match kind {
            MediaKind::Video => self.video.get(usize::from(layer))?,
            MediaKind::Audio => &self.audio,
        };
        ring.get(source, layer, seq, now)
    }

    fn ring_mut(&mut self, kind: MediaKind, layer: u8) -> Option<&mut Ring> {
        match kind {
            MediaKind::Video => self.video.get_mut(usize::from(layer)),
            MediaKind::Audio => Some(&mut self.audio),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use shardcast_control::CodecName;

    use super::*;
    use crate::media::{MediaOrigin, PacketLayout};
    use crate::rtp::{RtpHeader, RtpPacket, write_rtp};

    /// A shared packet of `kind` from `source`, arrived at `arrival`.
    pub(crate) fn shared(
        kind: MediaKind,
        source: u64,
        seq: u16,
        arrival: Instant,
    ) -> Arc<MediaPacket> {
        shared_layer(kind, source, 0, seq, arrival)
    }

    /// [`shared`] for simulcast layer `layer`.
    pub(crate) fn shared_layer(
        kind: MediaKind,
        source: u64,
        layer: u8,
        seq: u16,
        arrival: Instant,
    ) -> Arc<MediaPacket> {
        let mut buffer = [0u8; 64];
        let header = RtpHeader {
            marker: false,
            payload_type: 96,
            sequence_number: seq,
            timestamp: u32::from(seq) * 3000,
            ssrc: 1,
        };
        let payload = [0x10, 0x51, seq as u8];
        let len = write_rtp(&mut buffer, &header, &[], &payload).unwrap();
        let layout = PacketLayout::of(&RtpPacket::parse(&buffer[..len]).unwrap(), |_| None);
        let (codec, clock_rate) = match kind {
            MediaKind::Video => (CodecName::Vp8, 90_000),
            MediaKind::Audio => (CodecName::Opus, 48_000),
        };
        let origin = MediaOrigin {
            source,
            kind,
            codec,
            clock_rate,
            keyframe: false,
            arrival,
            layer,
            layers: crate::layers::LayerRates::new(MAX_LAYERS),
        };
        Arc::new(MediaPacket::new(origin, layout, buffer[..len].to_vec()))
    }

    #[test]
    fn keeps_the_last_slots_worth_across_the_wrap_and_hands_back_what_it_evicts() {
        let now = Instant::now();
        let mut cache = RtxCache::new();
        let first = 65_000u16;
        for i in 0..VIDEO_SLOTS as u16 {
            let packet = shared(MediaKind::Video, 1, first.wrapping_add(i), now);
            assert!(cache.insert(&packet).is_none(), "the ring is not full yet");
        }
        let last = first.wrapping_add(VIDEO_SLOTS as u16 - 1);
        assert!(last < first, "the numbers wrapped");
        for seq in [first, 65_535, 0, last] {
            let found = cache.get(MediaKind::Video, 1, 0, seq, now).unwrap();
            assert_eq!(found.layout.sequence_number, seq);
        }
        let next = shared(MediaKind::Video, 1, last.wrapping_add(1), now);
        let evicted = cache.insert(&next).unwrap();
        assert_eq!(evicted.layout.sequence_number, first);
        assert!(cache.get(MediaKind::Video, 1, 0, first, now).is_none());
        assert!(
            cache
                .get(MediaKind::Video, 1, 0, last.wrapping_add(1), now)
                .is_some()
        );
    }

    #[test]
    fn kinds_sources_and_age_are_told_apart() {
        let now = Instant::now();
        let mut cache = RtxCache::new();
        cache.insert(&shared(MediaKind::Audio, 1, 7, now));
        assert!(cache.get(MediaKind::Audio, 1, 0, 7, now).is_some());
        assert!(cache.get(MediaKind::Video, 1, 0, 7, now).is_none());
        assert!(cache.get(MediaKind::Audio, 2, 0, 7, now).is_none());
        assert!(
            cache
                .get(MediaKind::Audio, 1, 0, 7 + AUDIO_SLOTS as u16, now)
                .is_none()
        );
        assert!(
            cache
                .get(MediaKind::Audio, 1, 0, 7, now + MAX_AGE)
                .is_some()
        );
        assert!(
            cache
                .get(
                    MediaKind::Audio,
                    1,
                    0,
                    7,
                    now + MAX_AGE + Duration::from_millis(1)
                )
                .is_none()
        );
    }

    #[test]
    fn a_straggler_does_not_displace_a_newer_packet_but_a_new_source_does() {
        let now = Instant::now();
        let mut cache = RtxCache::new();
        let slots = AUDIO_SLOTS as u16;
        cache.insert(&shared(MediaKind::Audio, 1, 3 + slots, now));
        assert!(cache.insert(&shared(MediaKind::Audio, 1, 3, now)).is_none());
        assert!(cache.get(MediaKind::Audio, 1, 0, 3 + slots, now).is_some());
        let evicted = cache.insert(&shared(MediaKind::Audio, 2, 3, now)).unwrap();
        assert_eq!(evicted.origin.source, 1);
        assert!(cache.get(MediaKind::Audio, 2, 0, 3, now).is_some());
    }

    #[test]
    fn layers_keep_their_own_numbers() {
        let now = Instant::now();
        let mut cache = RtxCache::new();
        let low = shared_layer(MediaKind::Video, 1, 0, 42, now);
        let high = shared_layer(MediaKind::Video, 1, 2, 42, now);
        assert!(cache.insert(&low).is_none());
        assert!(cache.insert(&high).is_none(), "another layer's ring");
        let found = |layer| cache.get(MediaKind::Video, 1, layer, 42, now);
        assert!(std::ptr::eq(found(0).unwrap(), &*low));
        assert!(std::ptr::eq(found(2).unwrap(), &*high));
        assert!(found(1).is_none());
        assert!(found(MAX_LAYERS as u8).is_none());
        let beyond = shared_layer(MediaKind::Video, 1, MAX_LAYERS as u8, 42, now);
        assert!(cache.insert(&beyond).is_none());
    }
}

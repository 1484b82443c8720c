//! A decrypted publisher packet, as the router hands it to viewers on every shard.
//!
//! The home shard builds it once per received packet; its local fan-out jobs and other
//! shards share the same allocation behind an `Arc`. It carries what egress needs without
//! re-parsing: codec identity (publisher payload types mean nothing to viewers), the
//! keyframe flag, and the header extensions worth forwarding, by kind rather than by the
//! publisher's IDs.

use std::ops::Range;
use std::time::Instant;

use shardcast_control::{CodecName, MediaKind};

use crate::layers::LayerRates;
use crate::rtp::{ExtensionKind, RtpPacket};

/// Header extensions forwarded per packet; more than this are dropped (browsers send ~5).
pub const MAX_FORWARDED_EXTENSIONS: usize = 6;

/// The fields of a [`MediaPacket`] that come from the routing decision rather than the bytes.
#[derive(Debug, Clone, Copy)]
pub struct MediaOrigin {
    /// Which publishing of the stream this came from: a new publisher, or the same one
    /// publishing again, gets a new source, so viewers know to resync.
    pub source: u64,
    pub kind: MediaKind,
    pub codec: CodecName,
    pub clock_rate: u32,
    pub keyframe: bool,
    pub arrival: Instant,
    /// The simulcast layer this packet belongs to, 0 (lowest) first; 0 without simulcast.
    pub layer: u8,
    /// The stream's layers as ingress measured them when this packet arrived.
    pub layers: LayerRates,
}

/// Where things sit in the packet bytes, read once from the parsed header.
#[derive(Debug, Clone, Copy)]
pub struct PacketLayout {
    pub marker: bool,
    pub sequence_number: u16,
    pub timestamp: u32,
    payload_start: usize,
    payload_end: usize,
    extensions: [(ExtensionKind, u16, u8); MAX_FORWARDED_EXTENSIONS],
    extension_count: u8,
}

impl PacketLayout {
    /// Reads the layout of `rtp`, keeping the extensions `kind_of` names.
    pub fn of(rtp: &RtpPacket<'_>, kind_of: impl Fn(u8) -> Option<ExtensionKind>) -> Self {
        let base = rtp.data().as_ptr() as usize;
        let mut extensions = [(ExtensionKind::Mid, 0u16, 0u8); MAX_FORWARDED_EXTENSIONS];
        let mut extension_count = 0;
        for (id, value) in rtp.extensions() {
            let Some(kind) = kind_of(id) else { continue };
            let start = value.as_ptr() as usize - base;
            let (Ok(start), Ok(len)) = (u16::try_from(start), u8::try_from(value.len())) else {
                continue;
            };
            if extension_count == MAX_FORWARDED_EXTENSIONS {
                break;
            }
            extensions[extension_count] = (kind, start, len);
            extension_count += 1;
        }
        let payload_start = rtp.header_len();
        Self {
            marker: rtp.marker(),
            sequence_number: rtp.sequence_number(),
            timestamp: rtp.timestamp(),
            payload_start,
            payload_end: payload_start + rtp.payload().len(),
            extensions,
            extension_count: extension_count as u8,
        }
    }

    /// The layout of the original packet inside an RTX packet (RFC 4588 4): its sequence
    /// number is the payload's first two bytes, its payload the rest. None for an RTX packet
    /// that carries no original (padding sent to probe bandwidth).
    pub fn of_rtx(
        rtp: &RtpPacket<'_>,
        kind_of: impl Fn(u8) -> Option<ExtensionKind>,
    ) -> Option<Self> {
        let (osn, original) = rtp.payload().split_first_chunk::<2>()?;
        if original.is_empty() {
            return None;
        }
        let mut layout = Self::of(rtp, kind_of);
        layout.sequence_number = u16::from_be_bytes(*osn);
        layout.payload_start += 2;
        Some(layout)
    }

    fn payload(&self) -> Range<usize> {
        self.payload_start..self.payload_end
    }
}

#[derive(Debug)]
pub struct MediaPacket {
    pub origin: MediaOrigin,
    pub layout: PacketLayout,
    data: Vec<u8>,
}

impl MediaPacket {
    /// Takes ownership of the plaintext RTP packet `data`, whose layout was read beforehand.
    pub fn new(origin: MediaOrigin, layout: PacketLayout, data: Vec<u8>) -> Self {
        Self {
            origin,
            layout,
            data,
        }
    }

    /// Gives back the packet's bytes, for the next packet to be decrypted into.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    pub fn payload(&self) -> &[u8] {
        self.data.get(self.layout.payload()).unwrap_or_default()
    }

    /// The whole plain RTP packet's length, as the publisher sent it.
    pub fn rtp_len(&self) -> usize {
        self.data.len()
    }

    /// The forwarded header extensions: kind and value.
    pub fn extensions(&self) -> impl Iterator<Item = (ExtensionKind, &[u8])> {
        let layout = &self.layout;
        layout.extensions[..usize::from(layout.extension_count)]
            .iter()
            .filter_map(|&(kind, start, len)| {
                let start = usize::from(start);
                Some((kind, self.data.get(start..start + usize::from(len))?))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{RtpHeader, write_rtp};

    #[test]
    fn layout_keeps_named_extensions_and_the_payload() {
        let mut buf = [0u8; 200];
        let header = RtpHeader {
            marker: true,
            payload_type: 96,
            sequence_number: 65_535,
            timestamp: 90_000,
            ssrc: 42,
        };
        let len = write_rtp(&mut buf, &header, &[(1, &[7]), (3, &[1, 2, 3])], b"payload").unwrap();
        let data = buf[..len].to_vec();
        let rtp = RtpPacket::parse(&data).unwrap();
        let layout = PacketLayout::of(&rtp, |id| (id == 3).then_some(ExtensionKind::AudioLevel));
        let origin = MediaOrigin {
            source: 1,
            kind: MediaKind::Audio,
            codec: CodecName::Opus,
            clock_rate: 48_000,
            keyframe: false,
            arrival: Instant::now(),
            layer: 0,
            layers: LayerRates::default(),
        };
        let packet = MediaPacket::new(origin, layout, data);
        assert_eq!(packet.payload(), b"payload");
        assert!(packet.layout.marker);
        assert_eq!(packet.layout.sequence_number, 65_535);
        let extensions: Vec<_> = packet.extensions().collect();
        assert_eq!(
            extensions,
            vec![(ExtensionKind::AudioLevel, &[1u8, 2, 3][..])]
        );
    }

    #[test]
    fn an_rtx_layout_is_the_original_packet_inside() {
        let mut buf = [0u8; 64];
        let header = RtpHeader {
            marker: true,
            payload_type: 97,
            sequence_number: 7,
            timestamp: 90_000,
            ssrc: 43,
        };
        let len = write_rtp(&mut buf, &header, &[(3, &[9])], &[0xab, 0xcd, 1, 2, 3]).unwrap();
        let rtp = RtpPacket::parse(&buf[..len]).unwrap();
        let layout =
            PacketLayout::of_rtx(&rtp, |id| (id == 3).then_some(ExtensionKind::AudioLevel))
                .unwrap();
        assert_eq!(layout.sequence_number, 0xabcd);
        assert_eq!((layout.timestamp, layout.marker), (90_000, true));
        let origin = MediaOrigin {
            source: 1,
            kind: MediaKind::Video,
            codec: CodecName::Vp8,
            clock_rate: 90_000,
            keyframe: false,
            arrival: Instant::now(),
            layer: 0,
            layers: LayerRates::default(),
        };
        let packet = MediaPacket::new(origin, layout, buf[..len].to_vec());
        assert_eq!(packet.payload(), [1, 2, 3]);
        assert_eq!(packet.extensions().count(), 1);

        for padding in [&[][..], &[0xab], &[0xab, 0xcd]] {
            let len = write_rtp(&mut buf, &header, &[], padding).unwrap();
            let rtp = RtpPacket::parse(&buf[..len]).unwrap();
            assert!(
                PacketLayout::of_rtx(&rtp, |_| None).is_none(),
                "{padding:?}"
            );
        }
    }
}

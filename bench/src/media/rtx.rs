//! Retransmission in a stream of its own (RFC 4588), as browsers resend when the answer
//! accepted an RTX payload type for the codec: the receiver's statistics of the media
//! stream stay clean, and a resent packet never meets SRTP replay protection as a repeat.

use shardcast_proto::rtp::RtpHeader;

use super::OutgoingPacket;

/// The RTP identity of a track's retransmission stream, declared in the offer with
/// `a=ssrc-group:FID <media> <rtx>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxIdentity {
    /// The RTX payload type the answer pairs with the codec (`apt=`).
    pub payload_type: u8,
    pub ssrc: u32,
    pub first_sequence_number: u16,
}

/// Turns cached packets into RTX packets, numbering them in a sequence of their own.
#[derive(Debug)]
pub struct RtxStream {
    identity: RtxIdentity,
    next_sequence_number: u16,
}

impl RtxStream {
    pub fn new(identity: RtxIdentity) -> Self {
        Self {
            identity,
            next_sequence_number: identity.first_sequence_number,
        }
    }

    /// `original` resent: RTX payload type, SSRC and the next RTX sequence number; the
    /// timestamp and marker of the original; the original sequence number (OSN) in front of
    /// the original payload (RFC 4588 section 4).
    pub fn wrap(&mut self, original: &OutgoingPacket) -> OutgoingPacket {
        let header = RtpHeader {
            marker: original.header.marker,
            payload_type: self.identity.payload_type,
            sequence_number: self.next_sequence_number,
            timestamp: original.header.timestamp,
            ssrc: self.identity.ssrc,
        };
        self.next_sequence_number = self.next_sequence_number.wrapping_add(1);
        let mut payload = Vec::with_capacity(2 + original.payload.len());
        payload.extend_from_slice(&original.header.sequence_number.to_be_bytes());
        payload.extend_from_slice(&original.payload);
        OutgoingPacket {
            kind: original.kind,
            header,
            payload: payload.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardcast_control::MediaKind;
    use shardcast_proto::rtp::{RtpPacket, write_rtp};

    const RTX: RtxIdentity = RtxIdentity {
        payload_type: 97,
        ssrc: 0x5678,
        first_sequence_number: 65535,
    };

    fn original(sequence_number: u16, marker: bool) -> OutgoingPacket {
        OutgoingPacket {
            kind: MediaKind::Video,
            header: RtpHeader {
                marker,
                payload_type: 96,
                sequence_number,
                timestamp: 0xdead_beef,
                ssrc: 0x1234,
            },
            payload: vec![0x90, 0x10, 0x20].into(),
        }
    }

    /// The packet as it goes on the wire, without extensions.
    fn wire(packet: &OutgoingPacket) -> Vec<u8> {
        let mut out = vec![0; 12 + packet.payload.len()];
        let len = write_rtp(&mut out, &packet.header, &[], &packet.payload).unwrap();
        out.truncate(len);
        out
    }

    #[test]
    fn an_rtx_packet_carries_its_own_identity_and_the_original_sequence_number() {
        let mut rtx = RtxStream::new(RTX);
        let resent = wire(&rtx.wrap(&original(4660, true)));
        let packet = RtpPacket::parse(&resent).unwrap();
        assert_eq!(packet.payload_type(), 97);
        assert_eq!(packet.ssrc(), 0x5678);
        assert_eq!(packet.sequence_number(), 65535);
        assert_eq!(packet.timestamp(), 0xdead_beef);
        assert!(packet.marker());
        assert_eq!(packet.payload(), [0x12, 0x34, 0x90, 0x10, 0x20]);
    }

    #[test]
    fn every_rtx_packet_takes_the_next_sequence_number_across_the_wrap() {
        let mut rtx = RtxStream::new(RTX);
        // The same packet twice (a repeated NACK), then an older one.
        let resent: Vec<_> = [7, 7, 3]
            .into_iter()
            .map(|sequence_number| rtx.wrap(&original(sequence_number, false)))
            .collect();
        let numbers: Vec<_> = resent.iter().map(|p| p.header.sequence_number).collect();
        assert_eq!(numbers, [65535, 0, 1]);
        let osns: Vec<_> = resent
            .iter()
            .map(|p| [p.payload[0], p.payload[1]])
            .collect();
        assert_eq!(osns, [[0, 7], [0, 7], [0, 3]]);
        assert!(resent.iter().all(|p| !p.header.marker));
    }
}

//! Media from the server: SRTP packets become [`PeerEvent::Rtp`], SRTCP feedback becomes
//! NACK and keyframe-request events, and reception statistics feed our receiver reports.
//!
//! Lite mode leans on SRTP leaving the RTP header in the clear (RFC 3711 section 3.1): most
//! packets are only parsed, and every n-th packet, every retransmission and every video frame
//! start (needed to spot keyframes) is authenticated and decrypted.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::time::Instant;

use shardcast_control::{CodecName, MediaSection};
use shardcast_proto::codec::is_keyframe;
use shardcast_proto::ingress::ReceiverStats;
use shardcast_proto::rtcp::{ReportBlock, RtcpPacket, compact_ntp, iter_compound};
use shardcast_proto::rtp::{ExtensionKind, ExtensionMap, RtpPacket};
use shardcast_proto::srtp::SrtpSession;

use super::PeerEvent;

/// Why a datagram produced nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Failed authentication, replayed, or not RTP/RTCP at all.
    Unprotect,
    Malformed,
}

#[derive(Debug, Clone, Copy)]
struct PayloadFormat {
    codec: CodecName,
    clock_rate: u32,
}

pub struct MediaReceiver {
    formats: HashMap<u8, PayloadFormat>,
    /// RTX payload type -> the payload type it repairs.
    rtx_formats: HashMap<u8, u8>,
    /// RTX SSRC -> media SSRC, from the server's `a=ssrc-group:FID`.
    rtx_ssrcs: HashMap<u32, u32>,
    extensions: ExtensionMap,
    lite: Option<NonZeroU32>,
    packets: u64,
    last_timestamp: HashMap<u32, u32>,
    /// SSRC on the wire -> sequence number of its latest packet that went through SRTP.
    verified_seqs: HashMap<u32, u16>,
    stats: HashMap<u32, ReceiverStats>,
    plain: Vec<u8>,
}

impl MediaReceiver {
    pub fn new(sections: &[MediaSection], lite: Option<NonZeroU32>) -> Self {
        let mut formats = HashMap::new();
        let mut rtx_formats = HashMap::new();
        let mut rtx_ssrcs = HashMap::new();
        let mut extensions = Vec::new();
        for section in sections {
            for codec in &section.codecs {
                let format = PayloadFormat {
                    codec: codec.name,
                    clock_rate: codec.clock_rate,
                };
                formats.insert(codec.payload_type, format);
                if let Some(rtx) = codec.rtx_payload_type {
                    rtx_formats.insert(rtx, codec.payload_type);
                }
            }
            rtx_ssrcs.extend(section.rtx_pairs.iter().map(|&(media, rtx)| (rtx, media)));
            extensions.extend(section.extensions.iter().cloned());
        }
        Self {
            formats,
            rtx_formats,
            rtx_ssrcs,
            extensions: ExtensionMap::new(&extensions),
            lite,
            packets: 0,
            last_timestamp: HashMap::new(),
            verified_seqs: HashMap::new(),
            stats: HashMap::new(),
            plain: Vec::with_capacity(1500),
        }
    }

    pub fn on_rtp(
        &mut self,
        now: Instant,
        srtp: &mut SrtpSession,
        datagram: &[u8],
        events: &mut VecDeque<PeerEvent>,
    ) -> Result<(), Dropped> {
        self.packets += 1;
        if let Some(event) = self.read_clear_header(srtp, datagram) {
            self.record(now, &event);
            events.push_back(event);
            return Ok(());
        }
        let mut plain = std::mem::take(&mut self.plain);
        let result = srtp
            .unprotect_rtp(datagram, &mut plain)
            .map_err(|_| Dropped::Unprotect)
            .and_then(|()| self.verified_event(&plain));
        if result.is_ok()
            && let Ok(packet) = RtpPacket::parse(datagram)
        {
            self.verified_seqs
                .insert(packet.ssrc(), packet.sequence_number());
        }
        self.plain = plain;
        let event = result?;
        self.record(now, &event);
        events.push_back(event);
        Ok(())
    }

    /// The event from the clear header alone, when lite mode lets this packet skip SRTP.
    fn read_clear_header(&mut self, srtp: &SrtpSession, datagram: &[u8]) -> Option<PeerEvent> {
        let every = self.lite?;
        if self.packets.is_multiple_of(u64::from(every.get())) {
            return None;
        }
        let packet = RtpPacket::parse(datagram).ok()?;
        // SRTP finds a packet's index (its rollover count) from the last packet it saw of the
        // SSRC, so it must see the first one, and one after each wrap of the sequence number:
        // a stream starting just before a wrap and first verified after it would otherwise
        // fail every check from then on.
        let verified = self.verified_seqs.get(&packet.ssrc())?;
        if packet.sequence_number() < *verified {
            return None;
        }
        let format = self.formats.get(&packet.payload_type())?;
        let last = self.last_timestamp.get(&packet.ssrc()).copied();
        let frame_start = last != Some(packet.timestamp());
        if format.codec != CodecName::Opus && frame_start {
            return None;
        }
        // The trailing authentication tag is still on the payload.
        let payload_len = packet
            .payload()
            .len()
            .saturating_sub(srtp.profile().rtp_overhead());
        Some(PeerEvent::Rtp {
            ssrc: packet.ssrc(),
            payload_type: packet.payload_type(),
            seq: packet.sequence_number(),
            timestamp: packet.timestamp(),
            marker: packet.marker(),
            payload_len,
            keyframe_start: false,
            abs_capture_time: self.abs_capture_time(&packet),
            retransmission: false,
            verified: false,
        })
    }

    fn verified_event(&self, plain: &[u8]) -> Result<PeerEvent, Dropped> {
        let packet = RtpPacket::parse(plain).map_err(|_| Dropped::Malformed)?;
        let mut ssrc = packet.ssrc();
        let mut payload_type = packet.payload_type();
        let mut seq = packet.sequence_number();
        let mut payload = packet.payload();
        let retransmission = match self.rtx_formats.get(&payload_type) {
            Some(&original) => {
                // RFC 4588 section 4: the payload starts with the original sequence number.
                let [high, low, ref rest @ ..] = *payload else {
                    return Err(Dropped::Malformed);
                };
                seq = u16::from_be_bytes([high, low]);
                payload = rest;
                payload_type = original;
                ssrc = self.rtx_ssrcs.get(&ssrc).copied().unwrap_or(ssrc);
                true
            }
            None => false,
        };
        let keyframe_start = self
            .formats
            .get(&payload_type)
            .is_some_and(|format| is_keyframe(format.codec, payload));
        Ok(PeerEvent::Rtp {
            ssrc,
            payload_type,
            seq,
            timestamp: packet.timestamp(),
            marker: packet.marker(),
            payload_len: payload.len(),
            keyframe_start,
            abs_capture_time: self.abs_capture_time(&packet),
            retransmission,
            verified: true,
        })
    }

    /// abs-capture-time carries a 64-bit NTP timestamp, optionally followed by a clock offset.
    fn abs_capture_time(&self, packet: &RtpPacket<'_>) -> Option<u64> {
        let id = self.extensions.id_of(ExtensionKind::AbsCaptureTime)?;
        let value = packet.extension(id)?;
        let ntp: [u8; 8] = value.get(..8)?.try_into().ok()?;
        Some(u64::from_be_bytes(ntp))
    }

    fn record(&mut self, now: Instant, event: &PeerEvent) {
        let &PeerEvent::Rtp {
            ssrc,
            payload_type,
            seq,
            timestamp,
            retransmission,
            ..
        } = event
        else {
            return;
        };
        let Some(format) = self.formats.get(&payload_type) else {
            return;
        };
        if !retransmission {
            self.last_timestamp.insert(ssrc, timestamp);
        }
        self.stats
            .entry(ssrc)
            .or_insert_with(|| ReceiverStats::new(ssrc, format.clock_rate, now))
            .on_packet(now, seq, timestamp);
    }

    /// Decrypts one SRTCP compound packet and turns its feedback into events.
    pub fn on_rtcp(
        &mut self,
        now: Instant,
        srtp: &mut SrtpSession,
        datagram: &[u8],
        events: &mut VecDeque<PeerEvent>,
    ) -> Result<(), Dropped> {
        let mut plain = std::mem::take(&mut self.plain);
        let result = srtp.unprotect_rtcp(datagram, &mut plain);
        if result.is_ok() {
            for packet in iter_compound(&plain).map_while(Result::ok) {
                self.on_rtcp_packet(now, packet, events);
            }
        }
        self.plain = plain;
        result.map_err(|_| Dropped::Unprotect)
    }

    fn on_rtcp_packet(
        &mut self,
        now: Instant,
        packet: RtcpPacket<'_>,
        events: &mut VecDeque<PeerEvent>,
    ) {
        match packet {
            RtcpPacket::Nack {
                media_ssrc, items, ..
            } => events.push_back(PeerEvent::Nack {
                media_ssrc,
                lost: items.lost().collect(),
            }),
            RtcpPacket::Pli { media_ssrc, .. } => {
                events.push_back(PeerEvent::KeyframeRequest { media_ssrc });
            }
            RtcpPacket::Fir { entries, .. } => {
                for (media_ssrc, _) in entries {
                    events.push_back(PeerEvent::KeyframeRequest { media_ssrc });
                }
            }
            RtcpPacket::SenderReport { ssrc, ntp, .. } => {
                if let Some(stats) = self.stats.get_mut(&ssrc) {
                    stats.on_sender_report(now, compact_ntp(ntp));
                }
            }
            _ => {}
        }
    }

    /// One report block per SSRC heard from since the start, at most 31 (one RR's worth).
    pub fn report_blocks(&mut self, now: Instant) -> Vec<ReportBlock> {
        let mut blocks: Vec<ReportBlock> = self
            .stats
            .values_mut()
            .filter_map(|stats| stats.report_block(now))
            .collect();
        blocks.sort_by_key(|block| block.ssrc);
        blocks.truncate(shardcast_proto::rtcp::MAX_COUNT);
        blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardcast_control::{Codec, DtlsRole, MediaKind};
    use shardcast_proto::rtcp::{write_fir, write_nack, write_pli};
    use shardcast_proto::rtp::{RtpHeader, write_rtp};
    use shardcast_proto::srtp::{SrtpKeys, SrtpProfile};

    /// Two SRTP sessions keyed from the same exporter output, as after one DTLS handshake.
    fn srtp_pair() -> (SrtpSession, SrtpSession) {
        let material: Vec<u8> = (0..56).collect();
        let profile = SrtpProfile::AeadAes128Gcm;
        let client = SrtpKeys::from_exported(profile, &material, DtlsRole::Client).unwrap();
        let server = SrtpKeys::from_exported(profile, &material, DtlsRole::Server).unwrap();
        (
            SrtpSession::new(&client).unwrap(),
            SrtpSession::new(&server).unwrap(),
        )
    }

    #[test]
    fn server_feedback_becomes_events() {
        let (mut ours, mut server) = srtp_pair();
        let mut plain = Vec::new();
        write_nack(&mut plain, 1, 0xaaaa, &[10, 12, 40]).unwrap();
        write_pli(&mut plain, 1, 0xbbbb);
        write_fir(&mut plain, 1, &[(0xcccc, 3)]).unwrap();
        let mut protected = Vec::new();
        server.protect_rtcp(&plain, &mut protected).unwrap();

        let mut receiver = MediaReceiver::new(&[], None);
        let mut events = VecDeque::new();
        let now = Instant::now();
        receiver
            .on_rtcp(now, &mut ours, &protected, &mut events)
            .unwrap();
        let expected = [
            PeerEvent::Nack {
                media_ssrc: 0xaaaa,
                lost: vec![10, 12, 40],
            },
            PeerEvent::KeyframeRequest { media_ssrc: 0xbbbb },
            PeerEvent::KeyframeRequest { media_ssrc: 0xcccc },
        ];
        assert_eq!(Vec::from(events), expected);

        let mut forged = protected.clone();
        forged[10] ^= 1;
        let mut events = VecDeque::new();
        assert_eq!(
            receiver.on_rtcp(now, &mut ours, &forged, &mut events),
            Err(Dropped::Unprotect)
        );
        assert!(events.is_empty());
    }

    #[test]
    fn rtx_packets_surface_as_the_original_packet() {
        let (mut ours, mut server) = srtp_pair();
        let video = MediaSection {
            mid: "1".into(),
            kind: MediaKind::Video,
            codecs: vec![Codec {
                payload_type: 96,
                name: CodecName::Vp8,
                clock_rate: 90_000,
                channels: None,
                fmtp: String::new(),
                rtx_payload_type: Some(97),
                feedback: Vec::new(),
            }],
            extensions: Vec::new(),
            ssrcs: vec![5, 6],
            rtx_pairs: vec![(5, 6)],
            simulcast: Vec::new(),
        };
        let header = RtpHeader {
            marker: true,
            payload_type: 97,
            sequence_number: 1,
            timestamp: 3000,
            ssrc: 6,
        };
        // Original sequence number 700, then a VP8 keyframe start.
        let payload = [0x02, 0xbc, 0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        let mut plain = [0; 64];
        let len = write_rtp(&mut plain, &header, &[], &payload).unwrap();
        let mut protected = Vec::new();
        server.protect_rtp(&plain[..len], &mut protected).unwrap();

        let mut receiver = MediaReceiver::new(&[video], None);
        let mut events = VecDeque::new();
        receiver
            .on_rtp(Instant::now(), &mut ours, &protected, &mut events)
            .unwrap();
        let expected = PeerEvent::Rtp {
            ssrc: 5,
            payload_type: 96,
            seq: 700,
            timestamp: 3000,
            marker: true,
            payload_len: payload.len() - 2,
            keyframe_start: true,
            abs_capture_time: None,
            retransmission: true,
            verified: true,
        };
        assert_eq!(Vec::from(events), [expected]);
    }

    #[test]
    fn lite_mode_follows_a_stream_that_wraps_before_its_first_check() {
        let (mut ours, mut server) = srtp_pair();
        let audio = MediaSection {
            mid: "0".into(),
            kind: MediaKind::Audio,
            codecs: vec![Codec {
                payload_type: 111,
                name: CodecName::Opus,
                clock_rate: 48_000,
                channels: Some(2),
                fmtp: String::new(),
                rtx_payload_type: None,
                feedback: Vec::new(),
            }],
            extensions: Vec::new(),
            ssrcs: vec![9],
            rtx_pairs: Vec::new(),
            simulcast: Vec::new(),
        };
        let mut receiver = MediaReceiver::new(&[audio], NonZeroU32::new(16));
        let mut verified = Vec::new();
        // Starts 6 before the wrap: 16 packets in, the first every-16th check falls after it.
        for i in 0..40u16 {
            let seq = 65_530u16.wrapping_add(i);
            let header = RtpHeader {
                marker: false,
                payload_type: 111,
                sequence_number: seq,
                timestamp: u32::from(i) * 960,
                ssrc: 9,
            };
            let mut plain = [0; 64];
            let len = write_rtp(&mut plain, &header, &[], &[0xfc; 20]).unwrap();
            let mut protected = Vec::new();
            server.protect_rtp(&plain[..len], &mut protected).unwrap();
            let mut events = VecDeque::new();
            receiver
                .on_rtp(Instant::now(), &mut ours, &protected, &mut events)
                .unwrap_or_else(|error| panic!("seq {seq}: {error:?}"));
            let Some(PeerEvent::Rtp {
                seq: got,
                verified: checked,
                ..
            }) = events.pop_front()
            else {
                panic!("seq {seq}: no event");
            };
            assert_eq!(got, seq);
            if checked {
                verified.push(seq);
            }
        }
        // The first packet, the first after the wrap, then every 16th packet.
        assert_eq!(verified, [65_530, 0, 9, 25]);
    }
}

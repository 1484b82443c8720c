//! Walking a compound RTCP packet.

use super::bye::SsrcList;
use super::feedback::{FirEntries, NackItems, decode_remb_bitrate};
use super::report::ReportBlocks;
use super::sdes::SdesChunks;
use super::{PT_BYE, PT_PSFB, PT_RECEIVER_REPORT, PT_RTPFB, PT_SDES, PT_SENDER_REPORT};
use super::{RtcpError, read_u32};

/// One packet of a compound RTCP packet. Lists borrow the datagram and decode lazily.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport {
        ssrc: u32,
        /// 64-bit NTP timestamp: seconds since 1900 in the high half, fraction in the low.
        ntp: u64,
        rtp_timestamp: u32,
        packet_count: u32,
        octet_count: u32,
        reports: ReportBlocks<'a>,
    },
    ReceiverReport {
        ssrc: u32,
        reports: ReportBlocks<'a>,
    },
    Sdes {
        chunks: SdesChunks<'a>,
    },
    Bye {
        ssrcs: SsrcList<'a>,
        reason: Option<&'a [u8]>,
    },
    Nack {
        sender_ssrc: u32,
        media_ssrc: u32,
        items: NackItems<'a>,
    },
    Pli {
        sender_ssrc: u32,
        media_ssrc: u32,
    },
    Fir {
        sender_ssrc: u32,
        entries: FirEntries<'a>,
    },
    Remb {
        sender_ssrc: u32,
        bitrate_bps: u64,
        ssrcs: SsrcList<'a>,
    },
    /// Transport-wide congestion control feedback, left undecoded.
    TransportCc {
        sender_ssrc: u32,
        media_ssrc: u32,
        fci: &'a [u8],
    },
    /// Anything else (APP, XR, unknown feedback); `data` is the whole packet with its header.
    Other {
        packet_type: u8,
        fmt: u8,
        data: &'a [u8],
    },
}

/// Iterates the packets of a compound RTCP datagram; stops after the first error.
pub fn iter_compound(data: &[u8]) -> CompoundIter<'_> {
    CompoundIter { rest: data }
}

/// See [`iter_compound`].
#[derive(Debug, Clone)]
pub struct CompoundIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for CompoundIter<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = split_packet(self.rest).and_then(|split| {
            self.rest = split.rest;
            decode(split.packet, split.body)
        });
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

/// The first packet of a compound datagram and what follows it.
struct SplitPacket<'a> {
    /// The whole packet, header and padding included.
    packet: &'a [u8],
    /// The packet without its 4-byte header and without padding.
    body: &'a [u8],
    rest: &'a [u8],
}

fn split_packet(data: &[u8]) -> Result<SplitPacket<'_>, RtcpError> {
    let header = data.get(..4).ok_or(RtcpError::TooShort)?;
    let version = header[0] >> 6;
    if version != 2 {
        return Err(RtcpError::BadVersion(version));
    }
    let len = (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1) * 4;
    if len > data.len() {
        return Err(RtcpError::LengthOverrun);
    }
    let (packet, rest) = data.split_at(len);
    let mut body_end = len;
    if header[0] & 0x20 != 0 {
        let padding = packet.last().copied().unwrap_or(0);
        if padding == 0 || 4 + usize::from(padding) > len {
            return Err(RtcpError::BadPadding(padding));
        }
        body_end -= usize::from(padding);
    }
    let body = packet.get(4..body_end).ok_or(RtcpError::TooShort)?;
    Ok(SplitPacket { packet, body, rest })
}

fn decode<'a>(packet: &'a [u8], body: &'a [u8]) -> Result<RtcpPacket<'a>, RtcpError> {
    let count = packet.first().map_or(0, |b| b & 0x1f);
    let packet_type = packet.get(1).copied().unwrap_or(0);
    let truncated = RtcpError::Truncated { packet_type };
    let word = |at: usize| read_u32(body, at).ok_or(truncated);
    let tail = |from: usize, len: usize| {
        body.get(from..from.checked_add(len).ok_or(truncated)?)
            .ok_or(truncated)
    };
    let count_len = usize::from(count);

    Ok(match (packet_type, count) {
        (PT_SENDER_REPORT, _) => RtcpPacket::SenderReport {
            ssrc: word(0)?,
            ntp: (u64::from(word(4)?) << 32) | u64::from(word(8)?),
            rtp_timestamp: word(12)?,
            packet_count: word(16)?,
            octet_count: word(20)?,
            reports: ReportBlocks::new(tail(24, 24 * count_len)?),
        },
        (PT_RECEIVER_REPORT, _) => RtcpPacket::ReceiverReport {
            ssrc: word(0)?,
            reports: ReportBlocks::new(tail(4, 24 * count_len)?),
        },
        (PT_SDES, _) => RtcpPacket::Sdes {
            chunks: SdesChunks::new(body, count),
        },
        (PT_BYE, _) => {
            let ssrcs_len = 4 * count_len;
            let reason = body
                .get(ssrcs_len)
                .and_then(|&len| body.get(ssrcs_len + 1..ssrcs_len + 1 + usize::from(len)));
            RtcpPacket::Bye {
                ssrcs: SsrcList::new(tail(0, ssrcs_len)?),
                reason,
            }
        }
        (PT_RTPFB, 1) => RtcpPacket::Nack {
            sender_ssrc: word(0)?,
            media_ssrc: word(4)?,
            items: NackItems::new(tail(8, body.len().saturating_sub(8))?),
        },
        (PT_RTPFB, 15) => RtcpPacket::TransportCc {
            sender_ssrc: word(0)?,
            media_ssrc: word(4)?,
            fci: tail(8, body.len().saturating_sub(8))?,
        },
        (PT_PSFB, 1) => RtcpPacket::Pli {
            sender_ssrc: word(0)?,
            media_ssrc: word(4)?,
        },
        (PT_PSFB, 4) => {
            word(4)?;
            RtcpPacket::Fir {
                sender_ssrc: word(0)?,
                entries: FirEntries::new(tail(8, body.len().saturating_sub(8))?),
            }
        }
        (PT_PSFB, 15) if body.get(8..12) == Some(b"REMB") => {
            let (bitrate_bps, ssrc_count) = decode_remb_bitrate(tail(12, 4)?);
            RtcpPacket::Remb {
                sender_ssrc: word(0)?,
                bitrate_bps,
                ssrcs: SsrcList::new(tail(16, 4 * ssrc_count)?),
            }
        }
        _ => RtcpPacket::Other {
            packet_type,
            fmt: count,
            data: packet,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{
        ReportBlock, SenderInfo, write_nack, write_pli, write_receiver_report, write_remb,
        write_sdes_cname, write_sender_report,
    };

    #[test]
    fn reads_sender_report_then_sdes() {
        let mut out = Vec::new();
        let sender = SenderInfo {
            ssrc: 42,
            ntp: 1 << 40,
            rtp_timestamp: 3000,
            packet_count: 2,
            octet_count: 2400,
        };
        write_sender_report(&mut out, &sender, &[]).unwrap();
        write_sdes_cname(&mut out, 42, "cname").unwrap();

        let mut packets = iter_compound(&out);
        let Some(Ok(RtcpPacket::SenderReport {
            ssrc, ntp, reports, ..
        })) = packets.next()
        else {
            panic!("expected a sender report first");
        };
        assert_eq!((ssrc, ntp, reports.count()), (42, 1 << 40, 0));
        let Some(Ok(RtcpPacket::Sdes { mut chunks })) = packets.next() else {
            panic!("expected SDES second");
        };
        assert_eq!(chunks.next().and_then(|c| c.cname()), Some(&b"cname"[..]));
        assert!(packets.next().is_none());
    }

    #[test]
    fn reads_receiver_report_with_feedback() {
        let block = ReportBlock {
            ssrc: 5,
            cumulative_lost: 3,
            ..ReportBlock::default()
        };
        let mut out = Vec::new();
        write_receiver_report(&mut out, 1, &[block]).unwrap();
        write_pli(&mut out, 1, 5);
        write_nack(&mut out, 1, 5, &[10, 12]).unwrap();
        write_remb(&mut out, 1, 500_000, &[5]).unwrap();

        let packets: Vec<_> = iter_compound(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(packets.len(), 4);
        assert!(matches!(
            &packets[0],
            RtcpPacket::ReceiverReport { ssrc: 1, reports } if reports.clone().eq([block])
        ));
        assert_eq!(
            packets[1],
            RtcpPacket::Pli {
                sender_ssrc: 1,
                media_ssrc: 5
            }
        );
        assert!(matches!(
            &packets[2],
            RtcpPacket::Nack { items, .. } if items.clone().eq([(10, 0b10)])
        ));
        assert!(matches!(
            &packets[3],
            RtcpPacket::Remb { bitrate_bps: 500_000, ssrcs, .. } if ssrcs.clone().eq([5])
        ));
    }

    #[test]
    fn keeps_transport_cc_and_unknown_packets_opaque() {
        let data = [
            0x8f, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa, 0xbb, 0xcc, 0xdd, // TWCC
            0x80, 204, 0, 1, 0, 0, 0, 7, // APP, too short to be real but passed through
        ];
        let packets: Vec<_> = iter_compound(&data).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            packets,
            vec![
                RtcpPacket::TransportCc {
                    sender_ssrc: 1,
                    media_ssrc: 2,
                    fci: &[0xaa, 0xbb, 0xcc, 0xdd],
                },
                RtcpPacket::Other {
                    packet_type: 204,
                    fmt: 0,
                    data: &data[16..],
                },
            ]
        );
    }

    #[test]
    fn strips_padding_from_the_last_packet() {
        // A receiver report with no blocks plus 4 bytes of padding.
        let data = [0xa0, 201, 0, 2, 0, 0, 0, 9, 0, 0, 0, 4];
        let packets: Vec<_> = iter_compound(&data).collect::<Result<_, _>>().unwrap();
        assert!(matches!(
            &packets[..],
            [RtcpPacket::ReceiverReport { ssrc: 9, reports }] if reports.len() == 0
        ));
    }

    #[test]
    fn malformed_packets_end_the_walk_with_one_error() {
        let mut valid = Vec::new();
        write_pli(&mut valid, 1, 2);

        let cases: [(&[u8], RtcpError); 5] = [
            (&[0x40, 201, 0, 0], RtcpError::BadVersion(1)),
            (&[0x80, 201, 0, 5, 0, 0, 0, 1], RtcpError::LengthOverrun),
            (&[0xa0, 201, 0, 1, 0, 0, 0, 0], RtcpError::BadPadding(0)),
            (&[0xa0, 201, 0, 1, 0, 0, 0, 5], RtcpError::BadPadding(5)),
            (
                &[0x81, 206, 0, 1, 0, 0, 0, 1],
                RtcpError::Truncated {
                    packet_type: PT_PSFB,
                },
            ),
        ];
        for (bad, error) in cases {
            let mut data = valid.clone();
            data.extend_from_slice(bad);
            data.extend_from_slice(&valid);
            let results: Vec<_> = iter_compound(&data).collect();
            assert_eq!(results.len(), 2, "{bad:?}");
            assert!(results[0].is_ok());
            assert_eq!(results[1], Err(error), "{bad:?}");
        }

        let mut data = valid.clone();
        data.extend_from_slice(&[0x80, 201]);
        let results: Vec<_> = iter_compound(&data).collect();
        assert_eq!(results.len(), 2);
        assert_eq!(results[1], Err(RtcpError::TooShort));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut state = 0x9e37_79b9_u32;
        for len in 0..80 {
            for _ in 0..200 {
                let data: Vec<u8> = (0..len)
                    .enumerate()
                    .map(|(i, _)| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        // Keep headers plausible often enough to reach the decoders.
                        match i % 4 {
                            0 => 0x80 | (state as u8 & 0x3f),
                            1 => 200 + (state as u8 % 8),
                            2 => 0,
                            _ => state as u8 % 8,
                        }
                    })
                    .collect();
                for packet in iter_compound(&data).flatten() {
                    match packet {
                        RtcpPacket::SenderReport { reports, .. }
                        | RtcpPacket::ReceiverReport { reports, .. } => {
                            let _ = reports.count();
                        }
                        RtcpPacket::Sdes { chunks } => {
                            for chunk in chunks {
                                let _ = chunk.items.count();
                            }
                        }
                        RtcpPacket::Nack { items, .. } => {
                            let _ = items.lost().count();
                        }
                        RtcpPacket::Fir { entries, .. } => {
                            let _ = entries.count();
                        }
                        RtcpPacket::Bye { ssrcs, .. } | RtcpPacket::Remb { ssrcs, .. } => {
                            let _ = ssrcs.count();
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

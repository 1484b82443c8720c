//! Feedback messages: generic NACK (RFC 4585 6.2.1), PLI (RFC 4585 6.3.1), FIR (RFC 5104
//! 4.3.1) and REMB (draft-alvestrand-rmcat-remb).

use super::{PT_PSFB, PT_RTPFB, RtcpError, begin_packet, finish_packet};

const FMT_NACK: u8 = 1;
const FMT_PLI: u8 = 1;
const FMT_FIR: u8 = 4;
const FMT_AFB: u8 = 15;

/// NACK items as (packet id, bitmask of the 16 following lost packets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NackItems<'a> {
    rest: &'a [u8],
}

impl<'a> NackItems<'a> {
    pub(super) fn new(fci: &'a [u8]) -> Self {
        Self { rest: fci }
    }

    /// Every sequence number the items report lost, in item order.
    pub fn lost(self) -> impl Iterator<Item = u16> + 'a {
        self.flat_map(|(pid, blp)| {
            let following = (0..16u16)
                .filter(move |bit| blp & (1 << bit) != 0)
                .map(move |bit| pid.wrapping_add(bit + 1));
            std::iter::once(pid).chain(following)
        })
    }
}

impl Iterator for NackItems<'_> {
    type Item = (u16, u16);

    fn next(&mut self) -> Option<(u16, u16)> {
        let (item, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some((
            u16::from_be_bytes([item[0], item[1]]),
            u16::from_be_bytes([item[2], item[3]]),
        ))
    }
}

/// FIR entries as (SSRC asked to send a keyframe, command sequence number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirEntries<'a> {
    rest: &'a [u8],
}

impl<'a> FirEntries<'a> {
    pub(super) fn new(fci: &'a [u8]) -> Self {
        Self { rest: fci }
    }
}

impl Iterator for FirEntries<'_> {
    type Item = (u32, u8);

    fn next(&mut self) -> Option<(u32, u8)> {
        let (entry, rest) = self.rest.split_first_chunk::<8>()?;
        self.rest = rest;
        Some((
            u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]),
            entry[4],
        ))
    }
}

/// Decodes REMB's "num SSRC, exponent, mantissa" word into (bitrate, SSRC count).
pub(super) fn decode_remb_bitrate(word: &[u8]) -> (u64, usize) {
    let [count, b1, b2, b3] = *word else {
        return (0, 0);
    };
    let exponent = u32::from(b1 >> 2);
    let mantissa = (u64::from(b1 & 0x03) << 16) | (u64::from(b2) << 8) | u64::from(b3);
    // An 18-bit mantissa shifted by up to 63 can overflow u64; saturate instead.
    let bitrate = (u128::from(mantissa) << exponent).min(u128::from(u64::MAX)) as u64;
    (bitrate, usize::from(count))
}

/// Appends a generic NACK for `lost_seqs`, packing runs into (pid, blp) items.
///
/// Input in ascending order (across wrap) packs tightest; any order is still correct.
pub fn write_nack(
    out: &mut Vec<u8>,
    sender_ssrc: u32,
    media_ssrc: u32,
    lost_seqs: &[u16],
) -> Result<(), RtcpError> {
    let start = begin_packet(out, FMT_NACK, PT_RTPFB);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
    let mut item: Option<(u16, u16)> = None;
    for &seq in lost_seqs {
        if let Some((pid, blp)) = item.as_mut() {
            let distance = seq.wrapping_sub(*pid);
            if distance == 0 {
                continue;
            }
            if distance <= 16 {
                *blp |= 1 << (distance - 1);
                continue;
            }
            push_nack_item(out, *pid, *blp);
        }
        item = Some((seq, 0));
    }
    if let Some((pid, blp)) = item {
        push_nack_item(out, pid, blp);
    }
    finish_packet(out, start)
}

fn push_nack_item(out: &mut Vec<u8>, pid: u16, blp: u16) {
    out.extend_from_slice(&pid.to_be_bytes());
    out.extend_from_slice(&blp.to_be_bytes());
}

/// Appends a picture loss indication.
pub fn write_pli(out: &mut Vec<u8>, sender_ssrc: u32, media_ssrc: u32) {
    out.extend_from_slice(&[0x80 | FMT_PLI, PT_PSFB, 0, 2]);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
}

/// Appends a full intra request; `entries` are (media SSRC, command sequence number).
pub fn write_fir(
    out: &mut Vec<u8>,
    sender_ssrc: u32,
    entries: &[(u32, u8)],
) -> Result<(), RtcpError> {
    let start = begin_packet(out, FMT_FIR, PT_PSFB);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    // RFC 5104 4.3.1.2: the media source field is unused and set to 0.
    out.extend_from_slice(&0u32.to_be_bytes());
    for &(ssrc, seq) in entries {
        out.extend_from_slice(&ssrc.to_be_bytes());
        out.extend_from_slice(&[seq, 0, 0, 0]);
    }
    finish_packet(out, start)
}

/// Appends a REMB estimate for `ssrcs` (at most 255); precision drops to 18 significant bits.
pub fn write_remb(
    out: &mut Vec<u8>,
    sender_ssrc: u32,
    bitrate_bps: u64,
    ssrcs: &[u32],
) -> Result<(), RtcpError> {
    let count =
        u8::try_from(ssrcs.len()).map_err(|_| RtcpError::TooManyEntries { count: ssrcs.len() })?;
    let exponent = (64 - bitrate_bps.leading_zeros()).saturating_sub(18);
    let mantissa = bitrate_bps >> exponent;
    let start = begin_packet(out, FMT_AFB, PT_PSFB);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(b"REMB");
    out.extend_from_slice(&[
        count,
        ((exponent as u8) << 2) | (mantissa >> 16) as u8,
        (mantissa >> 8) as u8,
        mantissa as u8,
    ]);
    for ssrc in ssrcs {
        out.extend_from_slice(&ssrc.to_be_bytes());
    }
    finish_packet(out, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{RtcpPacket, iter_compound};

    fn only_packet(data: &[u8]) -> RtcpPacket<'_> {
        let mut packets = iter_compound(data);
        let packet = packets.next().unwrap().unwrap();
        assert!(packets.next().is_none());
        packet
    }

    #[test]
    fn nack_packs_runs_into_pid_and_blp() {
        let mut out = Vec::new();
        let lost = [65534, 65535, 0, 14, 15, 100, 100, 116, 117];
        write_nack(&mut out, 1, 2, &lost).unwrap();
        let RtcpPacket::Nack {
            sender_ssrc,
            media_ssrc,
            items,
        } = only_packet(&out)
        else {
            panic!("expected a NACK");
        };
        assert_eq!((sender_ssrc, media_ssrc), (1, 2));
        // 65534 + {1, 2, 16}; 15 is 17 past 65534 and starts a new item; 100 + {16}; 117.
        assert_eq!(
            items.clone().collect::<Vec<_>>(),
            vec![
                (65534, 0b1000_0000_0000_0011),
                (15, 0),
                (100, 1 << 15),
                (117, 0)
            ]
        );
        assert_eq!(
            items.lost().collect::<Vec<_>>(),
            vec![65534, 65535, 0, 14, 15, 100, 116, 117]
        );
    }

    #[test]
    fn nack_parses_hand_built_blp() {
        let data = [
            0x81,
            205,
            0,
            3,
            0,
            0,
            0,
            1,
            0,
            0,
            0,
            2,
            0x00,
            0x0a,
            0b1000_0000,
            0b0000_0101,
        ];
        let RtcpPacket::Nack { items, .. } = only_packet(&data) else {
            panic!("expected a NACK");
        };
        assert_eq!(items.lost().collect::<Vec<_>>(), vec![10, 11, 13, 26]);
    }

    #[test]
    fn pli_round_trips() {
        let mut out = Vec::new();
        write_pli(&mut out, 3, 4);
        assert_eq!(
            only_packet(&out),
            RtcpPacket::Pli {
                sender_ssrc: 3,
                media_ssrc: 4
            }
        );
    }

    #[test]
    fn fir_round_trips() {
        let mut out = Vec::new();
        write_fir(&mut out, 3, &[(10, 1), (11, 255)]).unwrap();
        let RtcpPacket::Fir {
            sender_ssrc,
            entries,
        } = only_packet(&out)
        else {
            panic!("expected a FIR");
        };
        assert_eq!(sender_ssrc, 3);
        assert_eq!(entries.collect::<Vec<_>>(), vec![(10, 1), (11, 255)]);
    }

    #[test]
    fn remb_round_trips_with_18_bit_precision() {
        for bitrate in [0, 1000, 262_143, 262_144, 2_500_000, 1 << 40] {
            let mut out = Vec::new();
            write_remb(&mut out, 5, bitrate, &[7, 8]).unwrap();
            let RtcpPacket::Remb {
                sender_ssrc,
                bitrate_bps,
                ssrcs,
            } = only_packet(&out)
            else {
                panic!("expected a REMB");
            };
            assert_eq!(sender_ssrc, 5);
            assert!(bitrate_bps <= bitrate);
            assert!(bitrate - bitrate_bps <= bitrate >> 17);
            assert_eq!(ssrcs.collect::<Vec<_>>(), vec![7, 8]);
        }
    }

    #[test]
    fn remb_hand_built_and_saturating() {
        // exponent 3, mantissa 0x12345 -> 0x12345 << 3.
        let data = [
            0x8f, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 1, 0x0d, 0x23, 0x45,
            0, 0, 0, 9,
        ];
        let RtcpPacket::Remb { bitrate_bps, .. } = only_packet(&data) else {
            panic!("expected a REMB");
        };
        assert_eq!(bitrate_bps, 0x12345 << 3);
        assert_eq!(decode_remb_bitrate(&[0, 0xff, 0xff, 0xff]).0, u64::MAX);
    }

    #[test]
    fn remb_with_missing_ssrcs_is_truncated() {
        let data = [
            0x8f, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 2, 0, 0, 1,
        ];
        assert_eq!(
            iter_compound(&data).next(),
            Some(Err(RtcpError::Truncated {
                packet_type: PT_PSFB
            }))
        );
    }
}

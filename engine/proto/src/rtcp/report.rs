//! Sender and receiver reports and their report blocks (RFC 3550 6.4).

use super::{MAX_COUNT, PT_RECEIVER_REPORT, PT_SENDER_REPORT, RtcpError};
use super::{begin_packet, finish_packet, read_u32};

const BLOCK_LEN: usize = 24;

/// Reception statistics about one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Total packets lost; a 24-bit signed field (duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    pub jitter: u32,
    /// Middle 32 bits of the last sender report's NTP timestamp (0 if none yet).
    pub last_sr: u32,
    /// Delay since that sender report, in 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn decode(bytes: &[u8]) -> Option<Self> {
        let lost = read_u32(bytes, 4)?;
        // Sign-extend the low 24 bits.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        Some(Self {
            ssrc: read_u32(bytes, 0)?,
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost,
            highest_seq: read_u32(bytes, 8)?,
            jitter: read_u32(bytes, 12)?,
            last_sr: read_u32(bytes, 16)?,
            delay_since_last_sr: read_u32(bytes, 20)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        // Clamp to the 24-bit signed range rather than wrapping into a wrong sign.
        let lost = self.cumulative_lost.clamp(-(1 << 23), (1 << 23) - 1) as u32 & 0x00ff_ffff;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&((u32::from(self.fraction_lost) << 24) | lost).to_be_bytes());
        out.extend_from_slice(&self.highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// The report blocks of a sender or receiver report, decoded as they are iterated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    rest: &'a [u8],
}

impl<'a> ReportBlocks<'a> {
    pub(super) fn new(blocks: &'a [u8]) -> Self {
        Self { rest: blocks }
    }
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let block = self.rest.get(..BLOCK_LEN)?;
        self.rest = self.rest.get(BLOCK_LEN..).unwrap_or(&[]);
        ReportBlock::decode(block)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / BLOCK_LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

/// The sender-information part of a sender report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderInfo {
    pub ssrc: u32,
    /// 64-bit NTP timestamp of the moment `rtp_timestamp` corresponds to.
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// Appends a sender report; at most [`MAX_COUNT`] report blocks fit.
pub fn write_sender_report(
    out: &mut Vec<u8>,
    sender: &SenderInfo,
    reports: &[ReportBlock],
) -> Result<(), RtcpError> {
    let count = block_count(reports)?;
    let start = begin_packet(out, count, PT_SENDER_REPORT);
    out.extend_from_slice(&sender.ssrc.to_be_bytes());
    out.extend_from_slice(&sender.ntp.to_be_bytes());
    out.extend_from_slice(&sender.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&sender.packet_count.to_be_bytes());
    out.extend_from_slice(&sender.octet_count.to_be_bytes());
    for report in reports {
        report.encode(out);
    }
    finish_packet(out, start)
}

/// Appends a receiver report; at most [`MAX_COUNT`] report blocks fit.
pub fn write_receiver_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    reports: &[ReportBlock],
) -> Result<(), RtcpError> {
    let count = block_count(reports)?;
    let start = begin_packet(out, count, PT_RECEIVER_REPORT);
    out.extend_from_slice(&ssrc.to_be_bytes());
    for report in reports {
        report.encode(out);
    }
    finish_packet(out, start)
}

fn block_count(reports: &[ReportBlock]) -> Result<u8, RtcpError> {
    if reports.len() > MAX_COUNT {
        return Err(RtcpError::TooManyEntries {
            count: reports.len(),
        });
    }
    Ok(reports.len() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{RtcpPacket, iter_compound};

    fn block(ssrc: u32, cumulative_lost: i32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 64,
            cumulative_lost,
            highest_seq: 0x0001_0005,
            jitter: 12,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn sender_report_round_trips() {
        let sender = SenderInfo {
            ssrc: 1,
            ntp: 0xe000_0000_8000_0000,
            rtp_timestamp: 90000,
            packet_count: 10,
            octet_count: 12000,
        };
        let mut out = Vec::new();
        write_sender_report(&mut out, &sender, &[block(7, -3), block(8, 1000)]).unwrap();
        assert_eq!(out.len(), 28 + 2 * 24);

        let packets: Vec<_> = iter_compound(&out).collect::<Result<_, _>>().unwrap();
        let [
            RtcpPacket::SenderReport {
                ssrc,
                ntp,
                rtp_timestamp,
                packet_count,
                octet_count,
                reports,
            },
        ] = &packets[..]
        else {
            panic!("expected one sender report, got {packets:?}");
        };
        assert_eq!(
            (*ssrc, *ntp, *rtp_timestamp, *packet_count, *octet_count),
            (1, 0xe000_0000_8000_0000, 90000, 10, 12000)
        );
        assert_eq!(
            reports.clone().collect::<Vec<_>>(),
            vec![block(7, -3), block(8, 1000)]
        );
    }

    #[test]
    fn receiver_report_round_trips_and_clamps_loss() {
        let mut out = Vec::new();
        write_receiver_report(&mut out, 9, &[block(3, i32::MIN)]).unwrap();
        let packet = iter_compound(&out).next().unwrap().unwrap();
        let RtcpPacket::ReceiverReport { ssrc, mut reports } = packet else {
            panic!("expected a receiver report, got {packet:?}");
        };
        assert_eq!(ssrc, 9);
        assert_eq!(reports.next(), Some(block(3, -(1 << 23))));
        assert_eq!(reports.next(), None);
    }

    #[test]
    fn too_many_blocks_is_an_error() {
        let mut out = vec![1, 2, 3];
        let blocks = vec![block(1, 0); 32];
        assert_eq!(
            write_receiver_report(&mut out, 9, &blocks),
            Err(RtcpError::TooManyEntries { count: 32 })
        );
        assert_eq!(out, vec![1, 2, 3]);
    }

    #[test]
    fn report_count_beyond_length_is_truncated() {
        let mut out = Vec::new();
        write_receiver_report(&mut out, 9, &[block(3, 0)]).unwrap();
        out[0] = 0x82;
        assert_eq!(
            iter_compound(&out).next(),
            Some(Err(RtcpError::Truncated {
                packet_type: PT_RECEIVER_REPORT
            }))
        );
    }
}

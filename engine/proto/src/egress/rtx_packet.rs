//! A viewer track's retransmission stream (RFC 4588): its own SSRC, paired with the
//! track's in the answer (`a=ssrc-group:FID`), its own payload type per codec (`apt=`),
//! its own sequence numbers, and the original sequence number (OSN) in front of the
//! original payload. The viewer's statistics of the media stream stay clean, and a resent
//! packet never meets SRTP replay protection as a repeat.

use crate::rtp::{RtpError, RtpHeader, write_rtp};

/// Writes an RTX packet into `out`: `header` (the RTX stream's payload type, SSRC and
/// sequence number; the original's timestamp and marker), `extensions`, then `osn` and the
/// original payload. Returns its length.
pub fn write_rtx(
    out: &mut [u8],
    header: &RtpHeader,
    extensions: &[(u8, &[u8])],
    osn: u16,
    payload: &[u8],
) -> Result<usize, RtpError> {
    let header_len = write_rtp(out, header, extensions, &[])?;
    let total = header_len + 2 + payload.len();
    let available = out.len();
    let body = out
        .get_mut(header_len..total)
        .ok_or(RtpError::BufferTooSmall {
            needed: total,
            available,
        })?;
    let (osn_bytes, original) = body.split_at_mut(2);
    osn_bytes.copy_from_slice(&osn.to_be_bytes());
    original.copy_from_slice(payload);
    Ok(total)
}

/// The numbering of one track's RTX stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxStream {
    pub ssrc: u32,
    next_seq: u16,
}

impl RtxStream {
    pub fn new(ssrc: u32, first_seq: u16) -> Self {
        Self {
            ssrc,
            next_seq: first_seq,
        }
    }

    /// The sequence number of the next RTX packet.
    pub fn take_seq(&mut self) -> u16 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpPacket;

    #[test]
    fn the_osn_leads_the_original_payload_after_the_extensions() {
        let mut stream = RtxStream::new(0x5678, 65_535);
        let header = RtpHeader {
            marker: true,
            payload_type: 97,
            sequence_number: stream.take_seq(),
            timestamp: 0xdead_beef,
            ssrc: stream.ssrc,
        };
        let mut out = [0u8; 64];
        let len = write_rtx(&mut out, &header, &[(4, b"1")], 4660, &[0x90, 0x10, 0x20]).unwrap();
        let packet = RtpPacket::parse(&out[..len]).unwrap();
        assert_eq!(packet.payload_type(), 97);
        assert_eq!((packet.ssrc(), packet.sequence_number()), (0x5678, 65_535));
        assert_eq!(packet.timestamp(), 0xdead_beef);
        assert!(packet.marker());
        assert_eq!(packet.extension(4), Some(&b"1"[..]));
        assert_eq!(packet.payload(), [0x12, 0x34, 0x90, 0x10, 0x20]);
        assert_eq!(stream.take_seq(), 0, "RTX numbers wrap on their own");
    }

    #[test]
    fn a_buffer_too_small_for_the_osn_is_refused() {
        let header = RtpHeader {
            marker: false,
            payload_type: 97,
            sequence_number: 1,
            timestamp: 0,
            ssrc: 1,
        };
        let mut out = [0u8; 14];
        assert_eq!(
            write_rtx(&mut out, &header, &[], 1, &[1]),
            Err(RtpError::BufferTooSmall {
                needed: 15,
                available: 14
            })
        );
    }
}

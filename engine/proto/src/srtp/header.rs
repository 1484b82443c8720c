//! The few clear fields SRTP needs from a packet: the RTP header's length, SSRC and sequence
//! number, RTCP's sender SSRC, and the SRTCP E-flag with index. Network bytes: every read is
//! bounds-checked and an error, never a panic.

use super::SrtpError;

/// RTCP's fixed part: V/P/RC, packet type, length, sender SSRC. It stays in clear.
pub(super) const RTCP_HEADER_LEN: usize = 8;
/// The 32-bit word after an SRTCP payload: E-flag and 31-bit SRTCP index.
pub(super) const SRTCP_INDEX_LEN: usize = 4;
/// Set when the SRTCP payload is encrypted.
pub(super) const E_FLAG: u32 = 1 << 31;
/// The largest SRTCP index: 31 bits.
pub(super) const MAX_SRTCP_INDEX: u32 = E_FLAG - 1;

const RTP_FIXED_HEADER_LEN: usize = 12;
const VERSION_2: u8 = 0b10;

/// What SRTP reads from an RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RtpHeader {
    /// Fixed header, CSRCs and extension: what stays in clear.
    pub(super) len: usize,
    pub(super) ssrc: u32,
    pub(super) seq: u16,
}

impl RtpHeader {
    pub(super) fn parse(packet: &[u8]) -> Result<Self, SrtpError> {
        let fixed = packet
            .get(..RTP_FIXED_HEADER_LEN)
            .ok_or(SrtpError::Malformed("shorter than an RTP header"))?;
        if fixed[0] >> 6 != VERSION_2 {
            return Err(SrtpError::Malformed("not RTP version 2"));
        }
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let has_extension = fixed[0] & 0x10 != 0;
        let mut len = RTP_FIXED_HEADER_LEN + 4 * csrc_count;
        if has_extension {
            let words = packet
                .get(len + 2..len + 4)
                .ok_or(SrtpError::Malformed("RTP header extension cut short"))?;
            len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        if len > packet.len() {
            return Err(SrtpError::Malformed("RTP header longer than the packet"));
        }
        Ok(Self {
            len,
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
            seq: u16::from_be_bytes([fixed[2], fixed[3]]),
        })
    }
}

/// The SSRC of the first packet's sender, which keys SRTCP's IV and replay state.
pub(super) fn rtcp_sender_ssrc(packet: &[u8]) -> Result<u32, SrtpError> {
    let header = packet
        .get(..RTCP_HEADER_LEN)
        .ok_or(SrtpError::Malformed("shorter than an RTCP header"))?;
    if header[0] >> 6 != VERSION_2 {
        return Err(SrtpError::Malformed("not RTCP version 2"));
    }
    Ok(u32::from_be_bytes([
        header[4], header[5], header[6], header[7],
    ]))
}

/// The SRTCP index at `offset`, where the transform expects it (`None`: too short). We always
/// encrypt SRTCP and so does every browser; an unencrypted one is refused rather than given a
/// second, rarely exercised path.
pub(super) fn srtcp_index(packet: &[u8], offset: Option<usize>) -> Result<u32, SrtpError> {
    let trailer = offset
        .and_then(|offset| packet.get(offset..offset + SRTCP_INDEX_LEN))
        .ok_or(SrtpError::Malformed(
            "shorter than SRTCP header, index and tag",
        ))?;
    let word = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    if word & E_FLAG == 0 {
        return Err(SrtpError::Malformed("unencrypted SRTCP"));
    }
    Ok(word & MAX_SRTCP_INDEX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(first: u8, rest: &[u8]) -> Vec<u8> {
        let mut packet = vec![first, 96, 0x12, 0x34, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd];
        packet.extend_from_slice(rest);
        packet
    }

    #[test]
    fn reads_the_fixed_fields() {
        let header = RtpHeader::parse(&rtp(0x80, &[1, 2, 3])).unwrap();
        assert_eq!(
            header,
            RtpHeader {
                len: 12,
                ssrc: 0xaabb_ccdd,
                seq: 0x1234
            }
        );
    }

    #[test]
    fn counts_csrcs_and_the_extension() {
        let mut rest = vec![0; 8];
        rest.extend_from_slice(&[0xbe, 0xde, 0, 2]);
        rest.extend_from_slice(&[0; 8]);
        rest.push(0x42);
        let header = RtpHeader::parse(&rtp(0x92, &rest)).unwrap();
        assert_eq!(header.len, 12 + 8 + 4 + 8);
    }

    #[test]
    fn refuses_headers_past_the_end() {
        assert!(RtpHeader::parse(&rtp(0x80, &[])[..11]).is_err());
        assert!(RtpHeader::parse(&rtp(0x81, &[0, 0, 0])).is_err());
        assert!(RtpHeader::parse(&rtp(0x90, &[0xbe, 0xde])).is_err());
        assert!(RtpHeader::parse(&rtp(0x90, &[0xbe, 0xde, 0, 1, 0, 0])).is_err());
        assert!(RtpHeader::parse(&rtp(0x40, &[])).is_err());
        assert!(RtpHeader::parse(&rtp(0x90, &[0xbe, 0xde, 0, 0])).is_ok());
    }

    #[test]
    fn reads_the_srtcp_trailer() {
        let packet = [0x80, 200, 0, 1, 1, 2, 3, 4, 0x80, 0, 0x05, 0xd4];
        assert_eq!(rtcp_sender_ssrc(&packet).unwrap(), 0x0102_0304);
        assert_eq!(srtcp_index(&packet, Some(8)).unwrap(), 0x5d4);
        assert!(srtcp_index(&packet, None).is_err());
        assert!(srtcp_index(&packet[..11], Some(8)).is_err());
        let mut clear = packet;
        clear[8] = 0;
        assert!(srtcp_index(&clear, Some(8)).is_err());
    }
}

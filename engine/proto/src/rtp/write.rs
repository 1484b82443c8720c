//! Writing RTP headers into caller-owned buffers.

use super::{FIXED_HEADER_LEN, ONE_BYTE_PROFILE, RtpError, TWO_BYTE_PROFILE};

/// The P bit of an RTP header's first byte.
const PADDING_BIT: u8 = 0x20;

/// The fields of an RTP header we set when sending (no CSRCs, no padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// Writes a full RTP packet into `out` and returns its length.
///
/// Extensions use the one-byte form when every id is 1..=14 and every value 1..=16 bytes,
/// the two-byte form otherwise; the block is zero-padded to a multiple of four bytes.
pub fn write_rtp(
    out: &mut [u8],
    header: &RtpHeader,
    extensions: &[(u8, &[u8])],
    payload: &[u8],
) -> Result<usize, RtpError> {
    let layout = HeaderLayout::of(extensions)?;
    let total = layout.len() + payload.len();
    let available = out.len();
    let out = out.get_mut(..total).ok_or(RtpError::BufferTooSmall {
        needed: total,
        available,
    })?;
    let (head, payload_out) = out.split_at_mut(layout.len());
    layout.write(head, header, extensions);
    payload_out.copy_from_slice(payload);
    Ok(total)
}

/// Appends a full RTP packet to `out`, after what it holds, and returns its length: the
/// payload is copied once, straight to where it will be sent from. Extensions as in
/// [`write_rtp`]; on an error `out` is as it was.
pub fn write_rtp_onto(
    out: &mut Vec<u8>,
    header: &RtpHeader,
    extensions: &[(u8, &[u8])],
    payload: &[u8],
) -> Result<usize, RtpError> {
    let layout = HeaderLayout::of(extensions)?;
    let start = out.len();
    out.resize(start + layout.len(), 0);
    layout.write(&mut out[start..], header, extensions);
    out.extend_from_slice(payload);
    Ok(out.len() - start)
}

/// Pads the plain RTP packet that fills `out` from `start` with `padding` bytes: the P bit,
/// then zeros and a last byte counting them all (RFC 3550 section 5.1). Receivers drop them
/// with the header; a run of datagrams for one UDP GSO send needs them all one size. Zero
/// adds nothing.
pub fn pad_rtp_onto(out: &mut Vec<u8>, start: usize, padding: u8) {
    let Some(first) = out.get_mut(start).filter(|_| padding > 0) else {
        return;
    };
    *first |= PADDING_BIT;
    out.resize(out.len() + usize::from(padding) - 1, 0);
    out.push(padding);
}

/// The shape of a header with a given set of extensions, worked out before anything is
/// written.
struct HeaderLayout {
    one_byte: bool,
    /// The extension block after its 4-byte header, padded to whole words.
    block_len: usize,
    block_words: u16,
    has_extensions: bool,
}

impl HeaderLayout {
    fn of(extensions: &[(u8, &[u8])]) -> Result<Self, RtpError> {
        let one_byte = extensions
            .iter()
            .all(|&(id, value)| (1..=14).contains(&id) && (1..=16).contains(&value.len()));
        for &(id, value) in extensions {
            if id == 0 || value.len() > usize::from(u8::MAX) {
                return Err(RtpError::InvalidExtension {
                    id,
                    len: value.len(),
                });
            }
        }
        let element_overhead = if one_byte { 1 } else { 2 };
        let elements_len: usize = extensions
            .iter()
            .map(|(_, value)| element_overhead + value.len())
            .sum();
        let block_len = elements_len.div_ceil(4) * 4;
        let block_words = u16::try_from(block_len / 4).map_err(|_| RtpError::ExtensionsTooLong)?;
        Ok(Self {
            one_byte,
            block_len,
            block_words,
            has_extensions: !extensions.is_empty(),
        })
    }

    /// Fixed header and extension block, without the payload.
    fn len(&self) -> usize {
        FIXED_HEADER_LEN + self.extension_len()
    }

    fn extension_len(&self) -> usize {
        if self.has_extensions {
            4 + self.block_len
        } else {
            0
        }
    }

    /// Writes the header into `out`, exactly [`Self::len`] bytes long.
    fn write(&self, out: &mut [u8], header: &RtpHeader, extensions: &[(u8, &[u8])]) {
        let (fixed, block) = out.split_at_mut(FIXED_HEADER_LEN);
        let extension_bit = if self.has_extensions { 0x10 } else { 0 };
        fixed[0] = 0x80 | extension_bit;
        fixed[1] = if header.marker { 0x80 } else { 0 } | (header.payload_type & 0x7f);
        fixed[2..4].copy_from_slice(&header.sequence_number.to_be_bytes());
        fixed[4..8].copy_from_slice(&header.timestamp.to_be_bytes());
        fixed[8..12].copy_from_slice(&header.ssrc.to_be_bytes());
        if !self.has_extensions {
            return;
        }
        let profile = if self.one_byte {
            ONE_BYTE_PROFILE
        } else {
            TWO_BYTE_PROFILE
        };
        block[0..2].copy_from_slice(&profile.to_be_bytes());
        block[2..4].copy_from_slice(&self.block_words.to_be_bytes());
        let mut at = 4;
        for &(id, value) in extensions {
            // Lengths were checked in `of`: value.len() <= 16 (one-byte) or <= 255 (two-byte).
            if self.one_byte {
                block[at] = (id << 4) | (value.len() - 1) as u8;
                at += 1;
            } else {
                block[at] = id;
                block[at + 1] = value.len() as u8;
                at += 2;
            }
            block[at..at + value.len()].copy_from_slice(value);
            at += value.len();
        }
        block[at..].fill(0);
    }
}

/// Rewrites payload type, sequence number, timestamp and SSRC of the RTP packet in `buf`,
/// keeping the marker bit, CSRCs, extensions and payload as they are.
pub fn rewrite_header_in_place(
    buf: &mut [u8],
    payload_type: u8,
    sequence_number: u16,
    timestamp: u32,
    ssrc: u32,
) -> Result<(), RtpError> {
    let fixed = buf.get_mut(..FIXED_HEADER_LEN).ok_or(RtpError::TooShort)?;
    fixed[1] = (fixed[1] & 0x80) | (payload_type & 0x7f);
    fixed[2..4].copy_from_slice(&sequence_number.to_be_bytes());
    fixed[4..8].copy_from_slice(&timestamp.to_be_bytes());
    fixed[8..12].copy_from_slice(&ssrc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpPacket;

    const HEADER: RtpHeader = RtpHeader {
        marker: true,
        payload_type: 111,
        sequence_number: 65535,
        timestamp: u32::MAX,
        ssrc: 0xcafe_babe,
    };

    #[test]
    fn round_trips_without_extensions() {
        let mut buf = [0u8; 64];
        let len = write_rtp(&mut buf, &HEADER, &[], b"opus").unwrap();
        assert_eq!(len, 16);
        let packet = RtpPacket::parse(&buf[..len]).unwrap();
        assert!(packet.marker());
        assert!(!packet.has_extension());
        assert_eq!(packet.payload_type(), 111);
        assert_eq!(packet.sequence_number(), 65535);
        assert_eq!(packet.timestamp(), u32::MAX);
        assert_eq!(packet.ssrc(), 0xcafe_babe);
        assert_eq!(packet.payload(), b"opus");
    }

    #[test]
    fn round_trips_one_byte_extensions() {
        let mut buf = [0u8; 64];
        let extensions: [(u8, &[u8]); 2] = [(1, b"0"), (14, &[1, 2, 3])];
        let len = write_rtp(&mut buf, &HEADER, &extensions, b"x").unwrap();
        // 12 fixed + 4 block header + (2 + 4 -> padded to 8) + 1 payload.
        assert_eq!(len, 25);
        let packet = RtpPacket::parse(&buf[..len]).unwrap();
        assert_eq!(packet.extension_profile(), ONE_BYTE_PROFILE);
        assert_eq!(packet.extensions().collect::<Vec<_>>(), extensions.to_vec());
        assert_eq!(packet.payload(), b"x");
    }

    #[test]
    fn falls_back_to_two_byte_form() {
        let mut buf = [0u8; 128];
        let long = [7u8; 17];
        for extensions in [
            vec![(1u8, &long[..])],
            vec![(15u8, &b"a"[..])],
            vec![(3u8, &b""[..]), (4, b"b")],
        ] {
            let len = write_rtp(&mut buf, &HEADER, &extensions, b"").unwrap();
            let packet = RtpPacket::parse(&buf[..len]).unwrap();
            assert_eq!(packet.extension_profile(), TWO_BYTE_PROFILE);
            assert_eq!(packet.extensions().collect::<Vec<_>>(), extensions);
            assert_eq!((packet.header_len() - 12) % 4, 0);
        }
    }

    #[test]
    fn rejects_unwritable_extensions_and_small_buffers() {
        let mut buf = [0u8; 400];
        assert_eq!(
            write_rtp(&mut buf, &HEADER, &[(0, b"a")], b""),
            Err(RtpError::InvalidExtension { id: 0, len: 1 })
        );
        let huge = [0u8; 256];
        assert_eq!(
            write_rtp(&mut buf, &HEADER, &[(1, &huge)], b""),
            Err(RtpError::InvalidExtension { id: 1, len: 256 })
        );
        let mut small = [0u8; 15];
        assert_eq!(
            write_rtp(&mut small, &HEADER, &[], b"opus"),
            Err(RtpError::BufferTooSmall {
                needed: 16,
                available: 15
            })
        );
    }

    #[test]
    fn appends_the_same_packet_after_what_the_buffer_holds() {
        let extensions: [(u8, &[u8]); 2] = [(3, b"ab"), (15, b"c")];
        let mut alone = [0u8; 64];
        let len = write_rtp(&mut alone, &HEADER, &extensions, b"payload").unwrap();
        let mut out = b"earlier".to_vec();
        assert_eq!(
            write_rtp_onto(&mut out, &HEADER, &extensions, b"payload"),
            Ok(len)
        );
        assert_eq!(&out[..7], b"earlier");
        assert_eq!(&out[7..], &alone[..len]);

        assert_eq!(
            write_rtp_onto(&mut out, &HEADER, &[(0, b"a")], b"payload"),
            Err(RtpError::InvalidExtension { id: 0, len: 1 })
        );
        assert_eq!(out.len(), 7 + len);
    }

    #[test]
    fn padding_is_read_back_as_padding() {
        let mut out = b"run".to_vec();
        let len = write_rtp_onto(&mut out, &HEADER, &[(5, b"mid")], b"data").unwrap();
        pad_rtp_onto(&mut out, 3, 0);
        assert_eq!(out.len(), 3 + len);
        pad_rtp_onto(&mut out, 3, 5);
        assert_eq!(out.len(), 3 + len + 5);
        assert_eq!(&out[out.len() - 5..], &[0, 0, 0, 0, 5]);
        let packet = RtpPacket::parse(&out[3..]).unwrap();
        assert_eq!(packet.payload(), b"data");
        assert_eq!(packet.extension(5), Some(&b"mid"[..]));
        assert!(packet.marker());

        let mut empty = Vec::new();
        pad_rtp_onto(&mut empty, 0, 4);
        assert!(empty.is_empty());
    }

    #[test]
    fn rewrites_header_keeping_marker_and_extensions() {
        let mut buf = [0u8; 64];
        let len = write_rtp(&mut buf, &HEADER, &[(5, b"mid")], b"data").unwrap();
        rewrite_header_in_place(&mut buf[..len], 96, 7, 9000, 42).unwrap();
        let packet = RtpPacket::parse(&buf[..len]).unwrap();
        assert!(packet.marker());
        assert_eq!(packet.payload_type(), 96);
        assert_eq!(packet.sequence_number(), 7);
        assert_eq!(packet.timestamp(), 9000);
        assert_eq!(packet.ssrc(), 42);
        assert_eq!(packet.extension(5), Some(&b"mid"[..]));
        assert_eq!(packet.payload(), b"data");

        assert_eq!(
            rewrite_header_in_place(&mut buf[..11], 96, 7, 9000, 42),
            Err(RtpError::TooShort)
        );
    }
}

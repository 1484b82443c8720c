//! Zero-copy view of a received RTP packet.

use super::{FIXED_HEADER_LEN, ONE_BYTE_PROFILE, RtpError, TWO_BYTE_PROFILE};

/// A validated RTP packet borrowed from the receive buffer.
///
/// `parse` checks every length once, so the accessors below never fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    data: &'a [u8],
    header_len: usize,
    payload_end: usize,
    extension_profile: u16,
    extension_block: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Validates the version, CSRC count, extension length and padding length.
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        let first = *data.first().ok_or(RtpError::TooShort)?;
        if data.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort);
        }
        let version = first >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let csrc_count = usize::from(first & 0x0f);
        let mut header_len = FIXED_HEADER_LEN + 4 * csrc_count;
        if header_len > data.len() {
            return Err(RtpError::CsrcOverrun);
        }

        let mut extension_profile = 0;
        let mut extension_block: &'a [u8] = &[];
        if first & 0x10 != 0 {
            let head = data
                .get(header_len..header_len + 4)
                .ok_or(RtpError::ExtensionOverrun)?;
            extension_profile = u16::from_be_bytes([head[0], head[1]]);
            let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let start = header_len + 4;
            let end = start + 4 * words;
            extension_block = data.get(start..end).ok_or(RtpError::ExtensionOverrun)?;
            header_len = end;
        }

        let mut payload_end = data.len();
        if first & 0x20 != 0 {
            // The last byte counts the padding including itself, so zero is never valid.
            let padding = data.last().copied().unwrap_or(0);
            if padding == 0 || header_len + usize::from(padding) > data.len() {
                return Err(RtpError::BadPadding(padding));
            }
            payload_end -= usize::from(padding);
        }

        Ok(Self {
            data,
            header_len,
            payload_end,
            extension_profile,
            extension_block,
        })
    }

    /// The whole packet as received, padding included.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    pub fn marker(&self) -> bool {
        self.byte(1) & 0x80 != 0
    }

    pub fn payload_type(&self) -> u8 {
        self.byte(1) & 0x7f
    }

    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.byte(2), self.byte(3)])
    }

    pub fn timestamp(&self) -> u32 {
        self.word(4)
    }

    pub fn ssrc(&self) -> u32 {
        self.word(8)
    }

    /// The contributing sources listed after the fixed header.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let count = usize::from(self.byte(0) & 0x0f);
        let list = self
            .data
            .get(FIXED_HEADER_LEN..FIXED_HEADER_LEN + 4 * count)
            .unwrap_or(&[]);
        list.chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// Bytes before the payload: fixed header, CSRCs and the extension block.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Whether the header carries an extension block (the X bit).
    pub fn has_extension(&self) -> bool {
        self.byte(0) & 0x10 != 0
    }

    /// The extension block's "defined by profile" field (0 without extensions).
    pub fn extension_profile(&self) -> u16 {
        self.extension_profile
    }

    /// The payload without padding.
    pub fn payload(&self) -> &'a [u8] {
        self.data
            .get(self.header_len..self.payload_end)
            .unwrap_or(&[])
    }

    /// The RFC 8285 elements as (id, value). Blocks with an unknown profile yield nothing;
    /// malformed elements end the iteration instead of failing the packet.
    pub fn extensions(&self) -> ExtensionIter<'a> {
        let form = if self.extension_profile == ONE_BYTE_PROFILE {
            Form::OneByte
        } else if self.extension_profile & 0xfff0 == TWO_BYTE_PROFILE {
            Form::TwoByte
        } else {
            Form::Unknown
        };
        ExtensionIter {
            form,
            rest: self.extension_block,
        }
    }

    /// The value of the first element with this id.
    pub fn extension(&self, id: u8) -> Option<&'a [u8]> {
        self.extensions()
            .find(|&(found, _)| found == id)
            .map(|(_, value)| value)
    }

    fn byte(&self, at: usize) -> u8 {
        self.data.get(at).copied().unwrap_or(0)
    }

    fn word(&self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.byte(at),
            self.byte(at + 1),
            self.byte(at + 2),
            self.byte(at + 3),
        ])
    }
}

#[derive(Debug, Clone, Copy)]
enum Form {
    OneByte,
    TwoByte,
    Unknown,
}

/// Iterator over header extension elements; see [`RtpPacket::extensions`].
#[derive(Debug, Clone)]
pub struct ExtensionIter<'a> {
    form: Form,
    rest: &'a [u8],
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&first, after) = self.rest.split_first()?;
            if first == 0 {
                // A zero byte is padding between or after elements in both forms.
                self.rest = after;
                continue;
            }
            let (id, len, after) = match self.form {
                Form::Unknown => return None,
                Form::OneByte => {
                    let id = first >> 4;
                    if id == 15 {
                        // RFC 8285 4.2: id 15 means stop processing.
                        self.rest = &[];
                        return None;
                    }
                    (id, usize::from(first & 0x0f) + 1, after)
                }
                Form::TwoByte => {
                    let Some((&len, after)) = after.split_first() else {
                        self.rest = &[];
                        return None;
                    };
                    (first, usize::from(len), after)
                }
            };
            if len > after.len() {
                self.rest = &[];
                return None;
            }
            let (value, rest) = after.split_at(len);
            self.rest = rest;
            return Some((id, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u8) -> Vec<u8> {
        vec![
            0x80 | flags,
            0x80 | 96,
            0x12,
            0x34,
            0xde,
            0xad,
            0xbe,
            0xef,
            0x01,
            0x02,
            0x03,
            0x04,
        ]
    }

    #[test]
    fn parses_fixed_header_and_payload() {
        let mut data = header(0);
        data.extend_from_slice(b"media");
        let packet = RtpPacket::parse(&data).unwrap();
        assert!(packet.marker());
        assert_eq!(packet.payload_type(), 96);
        assert_eq!(packet.sequence_number(), 0x1234);
        assert_eq!(packet.timestamp(), 0xdead_beef);
        assert_eq!(packet.ssrc(), 0x0102_0304);
        assert_eq!(packet.header_len(), 12);
        assert_eq!(packet.payload(), b"media");
        assert!(!packet.has_extension());
        assert_eq!(packet.extensions().count(), 0);
    }

    #[test]
    fn skips_csrcs_and_strips_padding() {
        let mut data = header(0x20 | 2);
        data.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 9]);
        data.extend_from_slice(b"abc");
        data.extend_from_slice(&[0, 0, 3]);
        let packet = RtpPacket::parse(&data).unwrap();
        assert_eq!(packet.csrcs().collect::<Vec<_>>(), vec![7, 9]);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.payload(), b"abc");
    }

    #[test]
    fn reads_one_byte_extensions_with_padding() {
        let mut data = header(0x10);
        // profile 0xBEDE, 2 words: id 1 len 1, padding, id 3 len 2, padding.
        data.extend_from_slice(&[0xbe, 0xde, 0, 2]);
        data.extend_from_slice(&[0x10, 0xaa, 0x00, 0x31, 0xbb, 0xcc, 0x00, 0x00]);
        data.extend_from_slice(b"p");
        let packet = RtpPacket::parse(&data).unwrap();
        let found: Vec<_> = packet.extensions().collect();
        assert_eq!(found, vec![(1, &[0xaa][..]), (3, &[0xbb, 0xcc][..])]);
        assert_eq!(packet.extension(3), Some(&[0xbb, 0xcc][..]));
        assert_eq!(packet.extension(2), None);
        assert_eq!(packet.payload(), b"p");
    }

    #[test]
    fn reads_two_byte_extensions_including_empty_values() {
        let mut data = header(0x10);
        data.extend_from_slice(&[0x10, 0x00, 0, 2]);
        data.extend_from_slice(&[200, 0, 0, 17, 2, 0xab, 0xcd, 0]);
        let packet = RtpPacket::parse(&data).unwrap();
        let found: Vec<_> = packet.extensions().collect();
        assert_eq!(found, vec![(200, &[][..]), (17, &[0xab, 0xcd][..])]);
        assert_eq!(packet.payload(), b"");
    }

    #[test]
    fn one_byte_id_15_stops_processing() {
        let mut data = header(0x10);
        data.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0xf0, 0x20]);
        let packet = RtpPacket::parse(&data).unwrap();
        assert_eq!(
            packet.extensions().collect::<Vec<_>>(),
            vec![(1, &[0xaa][..])]
        );
    }

    #[test]
    fn malformed_elements_end_iteration() {
        let mut data = header(0x10);
        // id 2 claims 16 bytes but only 3 follow.
        data.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0x2f, 0x01]);
        let packet = RtpPacket::parse(&data).unwrap();
        assert_eq!(
            packet.extensions().collect::<Vec<_>>(),
            vec![(1, &[0xaa][..])]
        );

        let mut data = header(0x10);
        // Two-byte form: an id with no length byte left.
        data.extend_from_slice(&[0x10, 0x00, 0, 1, 0, 0, 0, 5]);
        let packet = RtpPacket::parse(&data).unwrap();
        assert_eq!(packet.extensions().count(), 0);
    }

    #[test]
    fn unknown_profile_yields_no_elements() {
        let mut data = header(0x10);
        data.extend_from_slice(&[0x12, 0x34, 0, 1, 0x10, 0xaa, 0, 0]);
        let packet = RtpPacket::parse(&data).unwrap();
        assert_eq!(packet.extension_profile(), 0x1234);
        assert_eq!(packet.extensions().count(), 0);
        assert_eq!(packet.header_len(), 20);
    }

    #[test]
    fn rejects_malformed_headers() {
        assert_eq!(RtpPacket::parse(&[]), Err(RtpError::TooShort));
        assert_eq!(RtpPacket::parse(&header(0)[..11]), Err(RtpError::TooShort));

        let mut data = header(0);
        data[0] = 0x40;
        assert_eq!(RtpPacket::parse(&data), Err(RtpError::BadVersion(1)));

        assert_eq!(RtpPacket::parse(&header(1)), Err(RtpError::CsrcOverrun));

        let mut data = header(0x10);
        data.extend_from_slice(&[0xbe, 0xde]);
        assert_eq!(RtpPacket::parse(&data), Err(RtpError::ExtensionOverrun));
        data.extend_from_slice(&[0, 2, 0x10, 0xaa, 0, 0]);
        assert_eq!(RtpPacket::parse(&data), Err(RtpError::ExtensionOverrun));

        let mut data = header(0x20);
        data.extend_from_slice(&[1, 2, 0]);
        assert_eq!(RtpPacket::parse(&data), Err(RtpError::BadPadding(0)));
        let mut data = header(0x20);
        data.extend_from_slice(&[1, 2, 4]);
        assert_eq!(RtpPacket::parse(&data), Err(RtpError::BadPadding(4)));
        let data = header(0x20);
        assert_eq!(RtpPacket::parse(&data), Err(RtpError::BadPadding(4)));
    }

    #[test]
    fn padding_may_cover_the_whole_payload() {
        let mut data = header(0x20);
        data.extend_from_slice(&[0, 0, 3]);
        let packet = RtpPacket::parse(&data).unwrap();
        assert_eq!(packet.payload(), b"");
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A cheap deterministic sweep; the fuzz targets go much further.
        let mut state = 0x1234_5678_u32;
        for len in 0..64 {
            for _ in 0..200 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        (state & 0xff) as u8 | if len % 2 == 0 { 0x80 } else { 0 }
                    })
                    .collect();
                if let Ok(packet) = RtpPacket::parse(&data) {
                    assert!(packet.header_len() <= data.len());
                    let _ = packet.extensions().count();
                    let _ = packet.payload().len();
                }
            }
        }
    }
}

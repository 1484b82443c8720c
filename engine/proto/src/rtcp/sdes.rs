//! Source description (RFC 3550 6.5): we only write CNAME, but read every item.

use super::{PT_SDES, RtcpError, begin_packet, finish_packet, read_u32};

/// The SDES item type of a canonical name.
pub const SDES_CNAME: u8 = 1;

/// The chunks of an SDES packet; iteration stops at the first malformed chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunks<'a> {
    rest: &'a [u8],
    remaining: u8,
}

impl<'a> SdesChunks<'a> {
    pub(super) fn new(body: &'a [u8], count: u8) -> Self {
        Self {
            rest: body,
            remaining: count,
        }
    }
}

/// One source's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    pub ssrc: u32,
    pub items: SdesItems<'a>,
}

impl<'a> SdesChunk<'a> {
    /// The CNAME item's value, if the chunk has one.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items
            .clone()
            .find(|&(kind, _)| kind == SDES_CNAME)
            .map(|(_, value)| value)
    }
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let chunk = self.read_chunk();
        if chunk.is_none() {
            self.remaining = 0;
        }
        chunk
    }
}

impl<'a> SdesChunks<'a> {
    fn read_chunk(&mut self) -> Option<SdesChunk<'a>> {
        let ssrc = read_u32(self.rest, 0)?;
        let mut at = 4;
        // Items run until a zero type byte; the chunk then pads to a 32-bit boundary.
        while *self.rest.get(at)? != 0 {
            let len = usize::from(*self.rest.get(at + 1)?);
            at += 2 + len;
        }
        let items = self.rest.get(4..at)?;
        let end = (at + 1).next_multiple_of(4);
        self.rest = self.rest.get(end..).unwrap_or(&[]);
        Some(SdesChunk {
            ssrc,
            items: SdesItems { rest: items },
        })
    }
}

/// The (type, value) items of one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        let (&len, after) = after.split_first()?;
        let value = after.get(..usize::from(len))?;
        self.rest = after.get(usize::from(len)..).unwrap_or(&[]);
        Some((kind, value))
    }
}

/// Appends an SDES packet with one chunk carrying our CNAME.
pub fn write_sdes_cname(out: &mut Vec<u8>, ssrc: u32, cname: &str) -> Result<(), RtcpError> {
    let len = u8::try_from(cname.len()).map_err(|_| RtcpError::ItemTooLong { len: cname.len() })?;
    let start = begin_packet(out, 1, PT_SDES);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&[SDES_CNAME, len]);
    out.extend_from_slice(cname.as_bytes());
    // At least one zero byte ends the item list; more pad the chunk to 32 bits.
    let padded = (out.len() + 1).next_multiple_of(4);
    out.resize(padded, 0);
    finish_packet(out, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{RtcpPacket, iter_compound};

    /// A chunk's SSRC and its (type, value) items, owned for easy comparison.
    type OwnedChunk = (u32, Vec<(u8, Vec<u8>)>);

    fn chunks_of(data: &[u8]) -> Vec<OwnedChunk> {
        let packet = iter_compound(data).next().unwrap().unwrap();
        let RtcpPacket::Sdes { chunks } = packet else {
            panic!("expected SDES, got {packet:?}");
        };
        chunks
            .map(|c| (c.ssrc, c.items.map(|(k, v)| (k, v.to_vec())).collect()))
            .collect()
    }

    #[test]
    fn cname_round_trips_for_every_padding_length() {
        for name in ["", "a", "ab", "abc", "abcd", "shardcast-0123"] {
            let mut out = Vec::new();
            write_sdes_cname(&mut out, 77, name).unwrap();
            assert_eq!(out.len() % 4, 0);
            let packet = iter_compound(&out).next().unwrap().unwrap();
            let RtcpPacket::Sdes { mut chunks } = packet else {
                panic!("expected SDES, got {packet:?}");
            };
            let chunk = chunks.next().unwrap();
            assert_eq!(chunk.ssrc, 77);
            assert_eq!(chunk.cname(), Some(name.as_bytes()));
            assert_eq!(chunks.next(), None);
        }
    }

    #[test]
    fn reads_two_chunks_with_several_items() {
        let data = [
            0x82, 202, 0, 5, // header: 2 chunks, 6 words in all
            0, 0, 0, 1, 1, 2, b'a', b'b', 6, 1, b'x', 0, // chunk 1: CNAME, TOOL, end
            0, 0, 0, 2, 1, 1, b'z', 0, // chunk 2: CNAME, end
        ];
        assert_eq!(
            chunks_of(&data),
            vec![
                (1, vec![(1, b"ab".to_vec()), (6, b"x".to_vec())]),
                (2, vec![(1, b"z".to_vec())]),
            ]
        );
    }

    #[test]
    fn malformed_chunk_ends_iteration() {
        // The item claims 9 bytes but the packet ends first.
        let data = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', b'b'];
        assert_eq!(chunks_of(&data), vec![]);
    }

    #[test]
    fn overlong_cname_is_an_error() {
        let mut out = Vec::new();
        let name = "x".repeat(256);
        assert_eq!(
            write_sdes_cname(&mut out, 1, &name),
            Err(RtcpError::ItemTooLong { len: 256 })
        );
        assert!(out.is_empty());
    }
}

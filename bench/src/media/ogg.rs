//! Ogg pages into packets (RFC 3533): each page has a 27-byte header, a table of lacing
//! values, then the data; a packet is a run of 255-byte segments ended by a shorter one and
//! may continue onto the next page.

use super::MediaError;

const FORMAT: &str = "Ogg";
const CAPTURE_PATTERN: &[u8; 4] = b"OggS";
const PAGE_HEADER_LEN: usize = 27;
const CONTINUED_PACKET: u8 = 0x01;
const CRC_AT: usize = 22;
/// The generator polynomial of the page checksum (RFC 3533 6): CRC-32 without bit
/// reflection, initial value 0 and no final XOR, over the page with the checksum zeroed.
const CRC_POLYNOMIAL: u32 = 0x04c1_1db7;

/// Every packet of the first logical stream in the file, in order. Pages of other streams
/// (chained or multiplexed files) are skipped.
pub fn read_packets(bytes: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
    let mut packets = Vec::new();
    let mut partial: Option<Vec<u8>> = None;
    let mut stream_serial = None;
    let mut at = 0;
    while at < bytes.len() {
        let page = Page::parse(bytes, at)?;
        at += page.len;
        if *stream_serial.get_or_insert(page.serial) != page.serial {
            continue;
        }
        if page.continued != partial.is_some() {
            return Err(malformed(
                "packet continuation does not match the previous page",
            ));
        }
        let mut data = page.data;
        for piece in page.packet_pieces() {
            let (segment, rest) = data.split_at(piece.len);
            data = rest;
            let mut packet = partial.take().unwrap_or_default();
            packet.extend_from_slice(segment);
            if piece.complete {
                packets.push(packet);
            } else {
                partial = Some(packet);
            }
        }
    }
    if partial.is_some() {
        return Err(MediaError::Truncated {
            format: FORMAT,
            what: "last packet",
            at,
        });
    }
    Ok(packets)
}

struct Page<'a> {
    len: usize,
    continued: bool,
    serial: u32,
    lacing: &'a [u8],
    data: &'a [u8],
}

/// The bytes of one page that belong to one packet, and whether the packet ends there.
struct PacketPiece {
    len: usize,
    complete: bool,
}

impl<'a> Page<'a> {
    fn parse(bytes: &'a [u8], at: usize) -> Result<Self, MediaError> {
        let header = bytes
            .get(at..at + PAGE_HEADER_LEN)
            .ok_or(truncated("page header", at))?;
        if &header[0..4] != CAPTURE_PATTERN {
            return Err(malformed("no OggS capture pattern"));
        }
        if header[4] != 0 {
            return Err(malformed("unknown page version"));
        }
        let segments = usize::from(header[26]);
        let lacing_at = at + PAGE_HEADER_LEN;
        let lacing = bytes
            .get(lacing_at..lacing_at + segments)
            .ok_or(truncated("lacing values", lacing_at))?;
        let data_len: usize = lacing.iter().map(|&value| usize::from(value)).sum();
        let data_at = lacing_at + segments;
        let data = bytes
            .get(data_at..data_at + data_len)
            .ok_or(truncated("page data", data_at))?;
        let whole = &bytes[at..data_at + data_len];
        let stored_crc = u32::from_le_bytes([
            header[CRC_AT],
            header[CRC_AT + 1],
            header[CRC_AT + 2],
            header[CRC_AT + 3],
        ]);
        if page_crc(whole) != stored_crc {
            return Err(malformed("page checksum mismatch"));
        }
        Ok(Self {
            len: whole.len(),
            continued: header[5] & CONTINUED_PACKET != 0,
            serial: u32::from_le_bytes([header[14], header[15], header[16], header[17]]),
            lacing,
            data,
        })
    }

    /// Splits the lacing values into per-packet pieces.
    fn packet_pieces(&self) -> Vec<PacketPiece> {
        let mut pieces = Vec::new();
        let mut len = 0;
        for &value in self.lacing {
            len += usize::from(value);
            if value < 255 {
                pieces.push(PacketPiece {
                    len,
                    complete: true,
                });
                len = 0;
            }
        }
        if self.lacing.last() == Some(&255) {
            pieces.push(PacketPiece {
                len,
                complete: false,
            });
        }
        pieces
    }
}

/// The page checksum, computed as if the checksum field were zero.
fn page_crc(page: &[u8]) -> u32 {
    let mut crc = 0u32;
    for (index, &byte) in page.iter().enumerate() {
        let byte = if (CRC_AT..CRC_AT + 4).contains(&index) {
            0
        } else {
            byte
        };
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ CRC_POLYNOMIAL
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn malformed(what: &'static str) -> MediaError {
    MediaError::Malformed {
        format: FORMAT,
        what,
    }
}

fn truncated(what: &'static str, at: usize) -> MediaError {
    MediaError::Truncated {
        format: FORMAT,
        what,
        at,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds one page of stream `serial` from raw lacing values and data, with its checksum.
    pub(crate) fn page(serial: u32, continued: bool, lacing: &[u8], data: &[u8]) -> Vec<u8> {
        let mut page = b"OggS\0".to_vec();
        page.push(if continued { CONTINUED_PACKET } else { 0 });
        page.extend_from_slice(&[0; 8]);
        page.extend_from_slice(&serial.to_le_bytes());
        page.extend_from_slice(&[0; 8]);
        page.push(lacing.len() as u8);
        page.extend_from_slice(lacing);
        page.extend_from_slice(data);
        let crc = page_crc(&page);
        page[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        page
    }

    #[test]
    fn checksum_matches_a_real_page() {
        let file = crate::media::test_files::read("audio-opus.ogg");
        // The first page (OpusHead alone) parses only if its libogg checksum matches ours.
        let first = Page::parse(&file, 0).unwrap();
        assert_eq!(&first.data[..8], b"OpusHead");
        let mut corrupted = file.clone();
        corrupted[40] ^= 1;
        assert_eq!(
            Page::parse(&corrupted, 0).err(),
            Some(malformed("page checksum mismatch"))
        );
    }

    #[test]
    fn joins_packets_across_pages_and_skips_other_streams() {
        let long: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let file = [
            page(7, false, &[3, 255], &[b"abc", &long[..255]].concat()),
            page(9, false, &[2], b"zz"),
            page(7, true, &[45, 0], &long[255..]),
        ]
        .concat();
        let packets = read_packets(&file).unwrap();
        assert_eq!(packets, vec![b"abc".to_vec(), long, Vec::new()]);
    }

    #[test]
    fn rejects_broken_continuations_and_truncation() {
        let unfinished = page(1, false, &[255], &[0; 255]);
        assert!(matches!(
            read_packets(&unfinished),
            Err(MediaError::Truncated { .. })
        ));
        let unexpected = page(1, true, &[1], b"x");
        assert!(read_packets(&unexpected).is_err());
        let first = page(1, false, &[2], b"ab");
        let file = [&first[..], &page(1, false, &[1], b"c")].concat();
        assert!(read_packets(&file).is_ok());
        for len in 1..file.len() {
            // Cutting exactly between pages leaves a valid, shorter file.
            if len != first.len() {
                assert!(read_packets(&file[..len]).is_err(), "length {len}");
            }
        }
        assert!(read_packets(&[0x4f; 100]).is_err());
    }
}

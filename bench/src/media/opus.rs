//! Opus in Ogg (RFC 7845): the identification and comment headers, then one audio packet
//! per Ogg packet, each timed by its TOC byte (RFC 6716 3.1).

use super::{Frame, MediaError, ogg};

const FORMAT: &str = "Ogg Opus";
const HEAD_MAGIC: &[u8; 8] = b"OpusHead";
const TAGS_MAGIC: &[u8; 8] = b"OpusTags";
/// OpusHead is at least 19 bytes (RFC 7845 5.1).
const HEAD_MIN_LEN: usize = 19;
/// Versions 0-15 share one layout; higher major versions are incompatible (RFC 7845 5.1).
const HEAD_MAX_COMPATIBLE_VERSION: u8 = 15;
/// No Opus packet lasts longer than 120 ms (RFC 6716 3.2.5): 5760 ticks at 48 kHz.
const MAX_PACKET_TICKS: u32 = 5760;

/// Reads the audio packets of an Ogg Opus file as frames on the 48 kHz RTP clock. Every
/// packet decodes on its own, so each counts as a keyframe. The pre-skip in the header is
/// ignored: the bench plays every packet.
pub fn read_ogg_opus(bytes: &[u8]) -> Result<Vec<Frame>, MediaError> {
    let mut packets = ogg::read_packets(bytes)?.into_iter();
    let head = packets.next().ok_or(malformed("no OpusHead"))?;
    if head.len() < HEAD_MIN_LEN || !head.starts_with(HEAD_MAGIC) {
        return Err(malformed("first packet is not OpusHead"));
    }
    if head[8] > HEAD_MAX_COMPATIBLE_VERSION {
        return Err(malformed("unsupported OpusHead version"));
    }
    let tags = packets.next().ok_or(malformed("no OpusTags"))?;
    if !tags.starts_with(TAGS_MAGIC) {
        return Err(malformed("second packet is not OpusTags"));
    }

    let mut timestamp = 0u64;
    packets
        .map(|data| {
            let duration = packet_duration(&data)?;
            let frame = Frame {
                timestamp,
                duration,
                keyframe: true,
                data,
            };
            timestamp += u64::from(duration);
            Ok(frame)
        })
        .collect()
}

/// Ticks at 48 kHz covered by one packet: the frame size its configuration names, times the
/// number of frames its code says it holds.
pub fn packet_duration(packet: &[u8]) -> Result<u32, MediaError> {
    let toc = *packet.first().ok_or(malformed("empty packet"))?;
    let config = toc >> 3;
    // Frame sizes in ticks at 48 kHz per configuration range (RFC 6716 table 2).
    let frame_ticks = match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][usize::from(config % 2)],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frame_count = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        // Code 3 carries the count in the low six bits of the next byte.
        _ => u32::from(
            *packet
                .get(1)
                .ok_or(malformed("code 3 packet without count"))?
                & 0x3f,
        ),
    };
    let ticks = frame_ticks * frame_count;
    if ticks == 0 || ticks > MAX_PACKET_TICKS {
        return Err(malformed("packet duration out of range"));
    }
    Ok(ticks)
}

fn malformed(what: &'static str) -> MediaError {
    MediaError::Malformed {
        format: FORMAT,
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ogg::tests::page;
    use crate::media::test_files;

    #[test]
    fn reads_the_shipped_file() {
        let frames = read_ogg_opus(&test_files::read("audio-opus.ogg")).unwrap();
        // 10 s at 50 packets per second, plus one for the encoder's pre-skip.
        assert_eq!(frames.len(), 501);
        for (index, frame) in frames.iter().enumerate() {
            assert_eq!(frame.timestamp, index as u64 * 960);
            assert_eq!(frame.duration, 960);
            assert!(frame.keyframe);
        }
        let total: usize = frames.iter().map(|frame| frame.data.len()).sum();
        // A 64 kbps VBR target: libopus spends about 80 kbps on the pure tone.
        assert!((60_000..120_000).contains(&total), "{total} bytes");
    }

    #[test]
    fn times_packets_by_toc() {
        // CELT 20 ms, one frame.
        assert_eq!(packet_duration(&[0xfc]), Ok(960));
        // SILK 60 ms, two frames: 120 ms, the maximum.
        assert_eq!(packet_duration(&[(11 << 3) | 1]), Ok(5760));
        // Hybrid 10 ms.
        assert_eq!(packet_duration(&[12 << 3]), Ok(480));
        // CELT 2.5 ms, code 3 with 6 frames.
        assert_eq!(packet_duration(&[(16 << 3) | 3, 6]), Ok(720));
        // Code 3 with no frames, with 60 ms x 3, and with the count byte missing.
        assert!(packet_duration(&[(16 << 3) | 3, 0]).is_err());
        assert!(packet_duration(&[(3 << 3) | 3, 3]).is_err());
        assert!(packet_duration(&[(16 << 3) | 3]).is_err());
        assert!(packet_duration(&[]).is_err());
    }

    #[test]
    fn requires_both_headers() {
        let head = b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0";
        let tags = b"OpusTags\0\0\0\0\0\0\0\0";
        let good = [
            page(1, false, &[19], head),
            page(1, false, &[16], tags),
            page(1, false, &[1], &[0xfc]),
        ]
        .concat();
        assert_eq!(read_ogg_opus(&good).unwrap().len(), 1);
        let without_tags = [page(1, false, &[19], head), page(1, false, &[1], &[0xfc])].concat();
        assert!(read_ogg_opus(&without_tags).is_err());
        let not_opus = page(1, false, &[19], b"\x80theora............");
        assert!(read_ogg_opus(&not_opus).is_err());
        assert!(read_ogg_opus(&[]).is_err());
    }

    #[test]
    fn rejects_truncated_real_file() {
        let file = test_files::read("audio-opus.ogg");
        for len in [1, 27, 50, 200, file.len() / 2, file.len() - 1] {
            assert!(read_ogg_opus(&file[..len]).is_err(), "length {len}");
        }
    }
}

//! Frames into RTP payloads, one payload format per codec. The RTP header is the caller's:
//! it is written with `shardcast_proto::rtp::write_rtp` around each payload, with the marker
//! bit on the last payload of a frame.

mod h264;
mod vp8;

use shardcast_control::CodecName;

/// Payloads stay under this size so that RTP, SRTP, UDP and IP headers fit a 1500-byte MTU
/// with room for header extensions and tunnels, as browsers do.
pub const DEFAULT_MAX_PAYLOAD: usize = 1200;

/// Below this no payload format could make progress (VP8 needs 4 descriptor bytes).
const MIN_MAX_PAYLOAD: usize = 16;
/// Above this a STAP-A unit's 16-bit size field could not hold a unit that fits.
const MAX_MAX_PAYLOAD: usize = u16::MAX as usize;

/// The codecs the bench publisher can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// RFC 7741.
    Vp8,
    /// RFC 6184, packetization-mode 1 (STAP-A and FU-A).
    H264,
    /// RFC 7587.
    Opus,
}

impl PayloadFormat {
    pub fn codec_name(self) -> CodecName {
        match self {
            PayloadFormat::Vp8 => CodecName::Vp8,
            PayloadFormat::H264 => CodecName::H264,
            PayloadFormat::Opus => CodecName::Opus,
        }
    }
}

/// Cuts the frames of one track into payloads of at most `max_payload` bytes (except an
/// Opus packet, which is never split and may exceed it: Opus allows up to 1275 bytes).
#[derive(Debug, Clone)]
pub struct Packetizer {
    format: PayloadFormat,
    max_payload: usize,
    /// The VP8 picture ID of the next frame, 15 bits.
    next_picture_id: u16,
}

impl Packetizer {
    pub fn new(format: PayloadFormat, max_payload: usize) -> Self {
        Self {
            format,
            max_payload: max_payload.clamp(MIN_MAX_PAYLOAD, MAX_MAX_PAYLOAD),
            next_picture_id: 0,
        }
    }

    /// The payloads of one frame, in sending order. Empty only for an empty frame.
    pub fn packetize(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        match self.format {
            PayloadFormat::Vp8 => {
                let picture_id = self.next_picture_id;
                self.next_picture_id = (picture_id + 1) & vp8::PICTURE_ID_MASK;
                vp8::packetize(frame, picture_id, self.max_payload)
            }
            PayloadFormat::H264 => h264::packetize(frame, self.max_payload),
            PayloadFormat::Opus if frame.is_empty() => Vec::new(),
            PayloadFormat::Opus => vec![frame.to_vec()],
        }
    }
}

/// Splits `len` bytes into the fewest chunks of at most `max` bytes, all of nearly the same
/// size, so no tiny last packet trails a frame. Returns the chunk lengths.
fn even_chunks(len: usize, max: usize) -> impl Iterator<Item = usize> {
    let count = len.div_ceil(max.max(1));
    // With no chunks both are unused; checked_* only avoids dividing by zero.
    let base = len.checked_div(count).unwrap_or(0);
    let longer = len.checked_rem(count).unwrap_or(0);
    (0..count).map(move |index| base + usize::from(index < longer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_chunks_cover_the_length_within_the_limit() {
        for (len, max) in [(0, 10), (1, 10), (10, 10), (11, 10), (2999, 1196), (5, 1)] {
            let chunks: Vec<_> = even_chunks(len, max).collect();
            assert_eq!(chunks.iter().sum::<usize>(), len, "{len} / {max}");
            assert_eq!(chunks.len(), len.div_ceil(max), "{len} / {max}");
            assert!(chunks.iter().all(|&chunk| chunk <= max && chunk > 0));
            let spread = chunks.iter().max().unwrap_or(&0) - chunks.iter().min().unwrap_or(&0);
            assert!(spread <= 1, "{chunks:?}");
        }
    }

    #[test]
    fn opus_is_one_packet_per_frame() {
        let mut packetizer = Packetizer::new(PayloadFormat::Opus, DEFAULT_MAX_PAYLOAD);
        assert_eq!(packetizer.packetize(&[0xfc, 1, 2]), vec![vec![0xfc, 1, 2]]);
        assert!(packetizer.packetize(&[]).is_empty());
    }

    #[test]
    fn vp8_picture_ids_count_frames_and_wrap() {
        let mut packetizer = Packetizer::new(PayloadFormat::Vp8, DEFAULT_MAX_PAYLOAD);
        packetizer.next_picture_id = 0x7fff;
        let first = packetizer.packetize(&[0x31, 0, 0]);
        let second = packetizer.packetize(&[0x31, 0, 0]);
        assert_eq!(first[0][2..4], [0xff, 0xff]);
        assert_eq!(second[0][2..4], [0x80, 0x00]);
    }
}

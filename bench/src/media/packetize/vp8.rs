//! VP8 payloads (RFC 7741 4.2): each starts with a payload descriptor carrying the S bit on
//! the first packet of the frame, partition index 0, and a 15-bit picture ID so receivers
//! can tell which frame a lost packet belonged to.

use super::even_chunks;

pub(super) const PICTURE_ID_MASK: u16 = 0x7fff;

/// X: an extension byte follows.
const EXTENDED: u8 = 0x80;
/// S: this packet starts a VP8 partition (here: the frame, since partitions are not split).
const START_OF_PARTITION: u8 = 0x10;
/// I: a picture ID follows the extension byte.
const PICTURE_ID_PRESENT: u8 = 0x80;
/// M: the picture ID takes 15 bits in two bytes.
const LONG_PICTURE_ID: u8 = 0x80;
const DESCRIPTOR_LEN: usize = 4;

pub(super) fn packetize(frame: &[u8], picture_id: u16, max_payload: usize) -> Vec<Vec<u8>> {
    let [id_high, id_low] = (picture_id & PICTURE_ID_MASK).to_be_bytes();
    let mut rest = frame;
    even_chunks(frame.len(), max_payload - DESCRIPTOR_LEN)
        .enumerate()
        .map(|(index, len)| {
            let (chunk, after) = rest.split_at(len);
            rest = after;
            let start = if index == 0 { START_OF_PARTITION } else { 0 };
            let descriptor = [
                EXTENDED | start,
                PICTURE_ID_PRESENT,
                LONG_PICTURE_ID | id_high,
                id_low,
            ];
            [&descriptor[..], chunk].concat()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Track, test_files};
    use shardcast_control::CodecName;
    use shardcast_proto::codec::is_keyframe;

    /// What a receiver does: drop the descriptors, check they agree, and join the rest.
    fn depacketize(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut frame = Vec::new();
        for (index, payload) in payloads.iter().enumerate() {
            assert_eq!(payload[0] & START_OF_PARTITION != 0, index == 0);
            assert_eq!(payload[0] & 0x07, 0, "partition index");
            assert_eq!(payload[2..4], payloads[0][2..4], "picture ID");
            frame.extend_from_slice(&payload[DESCRIPTOR_LEN..]);
        }
        frame
    }

    #[test]
    fn real_frames_round_trip_within_the_limit() {
        let track = Track::vp8_ivf(&test_files::read("video-vp8.ivf")).unwrap();
        for (index, frame) in track.frames().iter().enumerate() {
            let payloads = packetize(&frame.data, index as u16, 1200);
            assert!(payloads.iter().all(|payload| payload.len() <= 1200));
            assert_eq!(depacketize(&payloads), frame.data, "frame {index}");
            assert_eq!(
                is_keyframe(CodecName::Vp8, &payloads[0]),
                frame.keyframe,
                "frame {index}"
            );
            assert!(
                payloads[1..]
                    .iter()
                    .all(|payload| !is_keyframe(CodecName::Vp8, payload))
            );
        }
    }

    #[test]
    fn writes_the_descriptor_bits() {
        let payloads = packetize(&[1, 2, 3, 4, 5, 6, 7], 0x1234, 8);
        assert_eq!(
            payloads,
            vec![
                vec![0x90, 0x80, 0x92, 0x34, 1, 2, 3, 4],
                vec![0x80, 0x80, 0x92, 0x34, 5, 6, 7],
            ]
        );
    }
}

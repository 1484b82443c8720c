//! H.264 Annex-B byte streams (ITU-T H.264 Annex B): NAL units behind `00 00 01` start
//! codes, grouped into access units, one picture each.

use super::{Frame, MediaError, VIDEO_CLOCK_RATE};

const FORMAT: &str = "H.264 Annex-B";
const START_CODE: [u8; 3] = [0, 0, 1];
/// Frames keep a four-byte start code before every NAL unit, as encoders write them.
const FRAME_START_CODE: [u8; 4] = [0, 0, 0, 1];

const NAL_TYPE_MASK: u8 = 0x1f;
const FORBIDDEN_ZERO_BIT: u8 = 0x80;
const NAL_IDR_SLICE: u8 = 5;
const NAL_SEI: u8 = 6;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_ACCESS_UNIT_DELIMITER: u8 = 9;

/// The NAL units of an Annex-B stream, without start codes and without the zero bytes that
/// may pad the end of a unit (a unit always ends in its stop bit, so never in zero).
pub fn nal_units(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = find_start_code(stream).map_or(&[][..], |(_, after)| &stream[after..]);
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let (unit, next) = match find_start_code(rest) {
                Some((start, after)) => (&rest[..start], &rest[after..]),
                None => (rest, &[][..]),
            };
            rest = next;
            let end = unit
                .iter()
                .rposition(|&byte| byte != 0)
                .map_or(0, |at| at + 1);
            if end > 0 {
                return Some(&unit[..end]);
            }
        }
        None
    })
}

/// Splits the stream into access units, each a [`Frame`] `frames_per_second` apart holding
/// its NAL units behind four-byte start codes. Access unit delimiters mark the boundaries
/// and are left out (WebRTC senders do not send them); without them a new access unit
/// starts where a slice has `first_mb_in_slice` 0 or a parameter set or SEI follows a slice
/// (H.264 7.4.1.2.3).
pub fn read_access_units(stream: &[u8], frames_per_second: u32) -> Result<Vec<Frame>, MediaError> {
    if frames_per_second == 0 || frames_per_second > VIDEO_CLOCK_RATE {
        return Err(malformed("frame rate out of range"));
    }
    let leading = find_start_code(stream).map_or(stream, |(start, _)| &stream[..start]);
    if leading.iter().any(|&byte| byte != 0) {
        return Err(malformed("bytes before the first start code"));
    }
    let duration = VIDEO_CLOCK_RATE / frames_per_second;

    let mut frames: Vec<Frame> = Vec::new();
    let mut current = AccessUnit::default();
    for unit in nal_units(stream) {
        if unit[0] & FORBIDDEN_ZERO_BIT != 0 {
            return Err(malformed("NAL unit with the forbidden bit set"));
        }
        if current.starts_new(unit) {
            frames.push(current.into_frame(frames.len(), duration)?);
            current = AccessUnit::default();
        }
        current.push(unit);
    }
    if !current.data.is_empty() {
        frames.push(current.into_frame(frames.len(), duration)?);
    }
    Ok(frames)
}

#[derive(Default)]
struct AccessUnit {
    data: Vec<u8>,
    has_slice: bool,
    has_idr: bool,
    /// Only set by a delimiter, which starts a unit before any slice is seen.
    delimited: bool,
}

impl AccessUnit {
    fn starts_new(&self, unit: &[u8]) -> bool {
        let started = self.has_slice || self.delimited || !self.data.is_empty();
        match unit[0] & NAL_TYPE_MASK {
            NAL_ACCESS_UNIT_DELIMITER => started,
            NAL_SEI | NAL_SPS | NAL_PPS => self.has_slice,
            // ue(v) 0 is the single bit 1, so first_mb_in_slice is 0 when the top bit is set.
            1..=NAL_IDR_SLICE => {
                self.has_slice && unit.get(1).is_some_and(|&byte| byte & 0x80 != 0)
            }
            _ => false,
        }
    }

    fn push(&mut self, unit: &[u8]) {
        let nal_type = unit[0] & NAL_TYPE_MASK;
        if nal_type == NAL_ACCESS_UNIT_DELIMITER {
            self.delimited = true;
            return;
        }
        self.has_slice |= (1..=NAL_IDR_SLICE).contains(&nal_type);
        self.has_idr |= nal_type == NAL_IDR_SLICE;
        self.data.extend_from_slice(&FRAME_START_CODE);
        self.data.extend_from_slice(unit);
    }

    fn into_frame(self, index: usize, duration: u32) -> Result<Frame, MediaError> {
        if !self.has_slice {
            return Err(malformed("access unit without a slice"));
        }
        Ok(Frame {
            timestamp: index as u64 * u64::from(duration),
            duration,
            keyframe: self.has_idr,
            data: self.data,
        })
    }
}

/// Where the next three-byte start code begins, and where the unit after it begins.
fn find_start_code(bytes: &[u8]) -> Option<(usize, usize)> {
    let start = bytes
        .windows(START_CODE.len())
        .position(|window| window == START_CODE)?;
    Some((start, start + START_CODE.len()))
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
    use crate::media::test_files;

    fn nal_types(frame: &Frame) -> Vec<u8> {
        nal_units(&frame.data)
            .map(|unit| unit[0] & NAL_TYPE_MASK)
            .collect()
    }

    #[test]
    fn reads_the_shipped_file() {
        let frames = read_access_units(&test_files::read("video-h264.h264"), 30).unwrap();
        assert_eq!(frames.len(), 300);
        for (index, frame) in frames.iter().enumerate() {
            assert_eq!(frame.timestamp, index as u64 * 3000);
            assert_eq!(frame.keyframe, index % 60 == 0, "frame {index}");
            let types = nal_types(frame);
            assert!(!types.contains(&NAL_ACCESS_UNIT_DELIMITER));
            if frame.keyframe {
                // Parameter sets repeated before every IDR.
                assert_eq!(types[..2], [NAL_SPS, NAL_PPS], "frame {index}");
            }
        }
    }

    #[test]
    fn splits_on_delimiters_and_strips_trailing_zeros() {
        let stream = [
            &[0, 0, 0, 1, 0x09, 0xf0][..],
            &[0, 0, 0, 1, 0x67, 0x42, 0, 0][..],
            &[0, 0, 1, 0x68, 0xce][..],
            &[0, 0, 1, 0x65, 0x88, 0x84][..],
            &[0, 0, 0, 1, 0x09, 0xf0][..],
            &[0, 0, 1, 0x41, 0x9a][..],
        ]
        .concat();
        let frames = read_access_units(&stream, 25).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].data,
            [
                0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88, 0x84
            ]
        );
        assert!(frames[0].keyframe);
        assert_eq!((frames[1].timestamp, frames[1].duration), (3600, 3600));
        assert_eq!(frames[1].data, [0, 0, 0, 1, 0x41, 0x9a]);
        assert!(!frames[1].keyframe);
    }

    #[test]
    fn splits_without_delimiters_by_first_macroblock() {
        // IDR in two slices (the second starts at macroblock 1: ue(v) "010"), then a P slice.
        let stream = [
            &[0, 0, 1, 0x67, 0x42][..],
            &[0, 0, 1, 0x68, 0xce][..],
            &[0, 0, 1, 0x65, 0x88][..],
            &[0, 0, 1, 0x65, 0x40][..],
            &[0, 0, 1, 0x41, 0x9a][..],
            &[0, 0, 1, 0x41, 0x40][..],
            &[0, 0, 1, 0x67, 0x42][..],
            &[0, 0, 1, 0x65, 0x88][..],
        ]
        .concat();
        let frames = read_access_units(&stream, 30).unwrap();
        let types: Vec<_> = frames.iter().map(nal_types).collect();
        assert_eq!(types, [vec![7, 8, 5, 5], vec![1, 1], vec![7, 5]]);
        let keyframes: Vec<_> = frames.iter().map(|frame| frame.keyframe).collect();
        assert_eq!(keyframes, [true, false, true]);
    }

    #[test]
    fn rejects_garbage_and_truncation_without_panicking() {
        assert!(read_access_units(&[0xde, 0xad, 0, 0, 1, 0x65, 0x88], 30).is_err());
        assert!(read_access_units(&[0, 0, 1, 0xe5, 0x88], 30).is_err());
        // Parameter sets with no picture after them.
        assert!(read_access_units(&[0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68], 30).is_err());
        assert!(read_access_units(&[0, 0, 1, 0x65], 0).is_err());
        assert_eq!(read_access_units(&[], 30), Ok(vec![]));
        let real = test_files::read("video-h264.h264");
        for len in [1, 3, 4, 5, 100, 10_000] {
            // Cut inside the first access unit: it may still parse, but never panics.
            let _ = read_access_units(&real[..len], 30);
        }
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        let _ = read_access_units(&garbage, 30);
    }
}

//! IVF, the container libvpx writes: a 32-byte file header, then frames each behind a
//! 12-byte header (frame size, presentation time). All fields are little-endian.

use super::{Frame, MediaError, VIDEO_CLOCK_RATE};

const FORMAT: &str = "IVF";
const SIGNATURE: &[u8; 4] = b"DKIF";
const VP8_FOURCC: [u8; 4] = *b"VP80";
const FILE_HEADER_LEN: usize = 32;
const FRAME_HEADER_LEN: usize = 12;
/// The key frame start code after the 3-byte VP8 frame tag (RFC 6386 9.1).
const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];

/// Reads every VP8 frame of an IVF file, with timestamps converted to the 90 kHz RTP clock.
pub fn read_vp8_frames(bytes: &[u8]) -> Result<Vec<Frame>, MediaError> {
    let header = bytes.get(..FILE_HEADER_LEN).ok_or(MediaError::Truncated {
        format: FORMAT,
        what: "file header",
        at: 0,
    })?;
    if &header[0..4] != SIGNATURE {
        return Err(malformed("no DKIF signature"));
    }
    let fourcc = [header[8], header[9], header[10], header[11]];
    if fourcc != VP8_FOURCC {
        return Err(MediaError::NotVp8(fourcc));
    }
    let header_len = usize::from(u16::from_le_bytes([header[6], header[7]]));
    let rate = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
    let scale = u32::from_le_bytes([header[20], header[21], header[22], header[23]]);
    if rate == 0 || scale == 0 {
        return Err(malformed("zero time base"));
    }
    let time_base = TimeBase { rate, scale };
    let mut at = header_len.max(FILE_HEADER_LEN);

    let mut pts_and_frames = Vec::new();
    while at < bytes.len() {
        let frame_header = bytes
            .get(at..at + FRAME_HEADER_LEN)
            .ok_or(truncated("frame header", at))?;
        let size = u32::from_le_bytes([
            frame_header[0],
            frame_header[1],
            frame_header[2],
            frame_header[3],
        ]);
        let pts = u64::from_le_bytes([
            frame_header[4],
            frame_header[5],
            frame_header[6],
            frame_header[7],
            frame_header[8],
            frame_header[9],
            frame_header[10],
            frame_header[11],
        ]);
        let data_at = at + FRAME_HEADER_LEN;
        let data = usize::try_from(size)
            .ok()
            .and_then(|size| bytes.get(data_at..data_at.checked_add(size)?))
            .ok_or(truncated("frame", data_at))?;
        pts_and_frames.push((time_base.to_ticks(pts)?, is_vp8_keyframe(data)?, data));
        at = data_at + data.len();
    }
    into_frames(pts_and_frames, time_base.to_ticks(1)?)
}

/// Seconds per `pts` unit are `scale / rate`, as in the IVF header.
#[derive(Debug, Clone, Copy)]
struct TimeBase {
    rate: u32,
    scale: u32,
}

impl TimeBase {
    fn to_ticks(self, pts: u64) -> Result<u64, MediaError> {
        let ticks = u128::from(pts) * u128::from(self.scale) * u128::from(VIDEO_CLOCK_RATE)
            / u128::from(self.rate);
        u64::try_from(ticks).map_err(|_| malformed("timestamp out of range"))
    }
}

/// Frame durations come from the next frame's timestamp; the last frame lasts as long as
/// the one before it (or one time base unit if it is alone), so the loop keeps the rhythm.
fn into_frames(
    pts_and_frames: Vec<(u64, bool, &[u8])>,
    one_unit: u64,
) -> Result<Vec<Frame>, MediaError> {
    let first = pts_and_frames.first().map_or(0, |&(ticks, _, _)| ticks);
    let mut frames: Vec<Frame> = Vec::with_capacity(pts_and_frames.len());
    let mut previous_duration = one_unit;
    for (index, &(ticks, keyframe, data)) in pts_and_frames.iter().enumerate() {
        let next = pts_and_frames
            .get(index + 1)
            .map_or(ticks.saturating_add(previous_duration), |&(next, _, _)| {
                next
            });
        if next <= ticks {
            return Err(MediaError::TimestampsNotIncreasing(index + 1));
        }
        let duration =
            u32::try_from(next - ticks).map_err(|_| malformed("gap between frames too long"))?;
        previous_duration = u64::from(duration);
        frames.push(Frame {
            timestamp: ticks - first,
            duration,
            keyframe,
            data: data.to_vec(),
        });
    }
    Ok(frames)
}

/// A VP8 frame is a key frame when bit 0 of its frame tag is clear (RFC 6386 9.1); a key
/// frame must then carry the start code, or the file is not VP8 at all.
fn is_vp8_keyframe(data: &[u8]) -> Result<bool, MediaError> {
    let tag = *data.first().ok_or(malformed("empty frame"))?;
    if tag & 0x01 != 0 {
        return Ok(false);
    }
    if data.get(3..6) != Some(&VP8_START_CODE[..]) {
        return Err(malformed("key frame without the VP8 start code"));
    }
    Ok(true)
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
mod tests {
    use super::*;
    use crate::media::test_files;

    #[test]
    fn reads_the_shipped_file() {
        let frames = read_vp8_frames(&test_files::read("video-vp8.ivf")).unwrap();
        assert_eq!(frames.len(), 300);
        for (index, frame) in frames.iter().enumerate() {
            assert_eq!(frame.timestamp, index as u64 * 3000);
            assert_eq!(frame.duration, 3000);
            assert_eq!(frame.keyframe, index % 60 == 0, "frame {index}");
        }
        let total: usize = frames.iter().map(|frame| frame.data.len()).sum();
        // About 1.5 Mbps over 10 s.
        assert!((1_200_000..2_400_000).contains(&total), "{total} bytes");
    }

    /// A file header (time base 1/30) followed by the given frames at pts 0, 1, 2...
    fn ivf_with(frames: &[&[u8]]) -> Vec<u8> {
        let mut file = b"DKIF\0\0\x20\0VP80\x00\x05\xd0\x02".to_vec();
        file.extend_from_slice(&30u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes());
        file.extend_from_slice(&(frames.len() as u32).to_le_bytes());
        file.extend_from_slice(&[0; 4]);
        for (pts, frame) in frames.iter().enumerate() {
            file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            file.extend_from_slice(&(pts as u64).to_le_bytes());
            file.extend_from_slice(frame);
        }
        file
    }

    const KEY: &[u8] = &[0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02];
    const DELTA: &[u8] = &[0x31, 0x02, 0x00, 0x11];

    #[test]
    fn converts_time_base_and_flags_key_frames() {
        let frames = read_vp8_frames(&ivf_with(&[KEY, DELTA, DELTA])).unwrap();
        let summary: Vec<_> = frames
            .iter()
            .map(|frame| (frame.timestamp, frame.duration, frame.keyframe))
            .collect();
        assert_eq!(
            summary,
            [(0, 3000, true), (3000, 3000, false), (6000, 3000, false)]
        );
        assert_eq!(frames[1].data, DELTA);
    }

    #[test]
    fn rejects_truncated_files_at_every_length() {
        let file = ivf_with(&[KEY, DELTA]);
        for len in 0..file.len() {
            let result = read_vp8_frames(&file[..len]);
            // Cutting exactly between frames leaves a valid, shorter file.
            if len == FILE_HEADER_LEN || len == FILE_HEADER_LEN + FRAME_HEADER_LEN + KEY.len() {
                assert!(result.is_ok(), "length {len}");
            } else {
                assert!(result.is_err(), "length {len}");
            }
        }
    }

    #[test]
    fn rejects_garbage_and_other_codecs() {
        assert!(matches!(
            read_vp8_frames(&[0xab; 64]),
            Err(MediaError::Malformed { .. })
        ));
        let mut vp9 = ivf_with(&[KEY]);
        vp9[8..12].copy_from_slice(b"VP90");
        assert_eq!(read_vp8_frames(&vp9), Err(MediaError::NotVp8(*b"VP90")));
        // A key frame tag without the start code.
        assert!(read_vp8_frames(&ivf_with(&[&[0x50, 0x42, 0x00, 0x11]])).is_err());
        assert!(read_vp8_frames(&ivf_with(&[&[]])).is_err());
        // A size field pointing far past the end.
        let mut huge = ivf_with(&[KEY]);
        huge[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_vp8_frames(&huge).is_err());
    }

    #[test]
    fn rejects_timestamps_going_backwards() {
        let mut file = ivf_with(&[KEY, DELTA]);
        let second_pts_at = FILE_HEADER_LEN + FRAME_HEADER_LEN + KEY.len() + 4;
        file[second_pts_at..second_pts_at + 8].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(
            read_vp8_frames(&file),
            Err(MediaError::TimestampsNotIncreasing(1))
        );
    }
}

//! VP8 payload descriptor and payload header (RFC 7741 4.2, 4.3).

const X_EXTENSION: u8 = 0x80;
const S_START: u8 = 0x10;
const PARTITION_INDEX: u8 = 0x07;
const I_PICTURE_ID: u8 = 0x80;
const L_TL0PICIDX: u8 = 0x40;
const T_TID: u8 = 0x20;
const K_KEYIDX: u8 = 0x10;
const M_LONG_PICTURE_ID: u8 = 0x80;
/// The P bit of the payload header: 0 for a key frame, 1 for an interframe.
const P_INTERFRAME: u8 = 0x01;
/// Every key frame header carries this start code after the 3-byte frame tag (RFC 6386 9.1).
const START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];

/// True when the payload starts partition 0 of a key frame.
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some(header_at) = payload_header_offset(payload) else {
        return false;
    };
    let Some(header) = payload.get(header_at..header_at + 6) else {
        return false;
    };
    header[0] & P_INTERFRAME == 0 && header[3..6] == START_CODE
}

/// Where the VP8 payload header begins, if this packet starts partition 0.
fn payload_header_offset(payload: &[u8]) -> Option<usize> {
    let first = *payload.first()?;
    if first & S_START == 0 || first & PARTITION_INDEX != 0 {
        return None;
    }
    if first & X_EXTENSION == 0 {
        return Some(1);
    }
    let extension = *payload.get(1)?;
    let mut at = 2;
    if extension & I_PICTURE_ID != 0 {
        let picture_id = *payload.get(at)?;
        at += if picture_id & M_LONG_PICTURE_ID != 0 {
            2
        } else {
            1
        };
    }
    if extension & L_TL0PICIDX != 0 {
        at += 1;
    }
    if extension & (T_TID | K_KEYIDX) != 0 {
        at += 1;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key frame's frame tag (P = 0) with start code and a 320x240 size.
    const KEY_HEADER: [u8; 10] = [0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];

    fn with_descriptor(descriptor: &[u8], header: &[u8]) -> Vec<u8> {
        [descriptor, header].concat()
    }

    #[test]
    fn detects_key_frame_with_minimal_descriptor() {
        assert!(is_keyframe(&with_descriptor(&[0x10], &KEY_HEADER)));
    }

    #[test]
    fn skips_every_extension_field() {
        // X, then I with a 15-bit picture id, L, T and K.
        let descriptor = [0x90, 0xf0, 0x81, 0x23, 0x07, 0x40];
        assert!(is_keyframe(&with_descriptor(&descriptor, &KEY_HEADER)));
        // 7-bit picture id only.
        assert!(is_keyframe(&with_descriptor(
            &[0x90, 0x80, 0x05],
            &KEY_HEADER
        )));
    }

    #[test]
    fn rejects_interframes_and_continuations() {
        let mut inter = KEY_HEADER;
        inter[0] |= P_INTERFRAME;
        assert!(!is_keyframe(&with_descriptor(&[0x10], &inter)));
        // Not the start of a partition.
        assert!(!is_keyframe(&with_descriptor(&[0x00], &KEY_HEADER)));
        // Start of partition 1, not 0.
        assert!(!is_keyframe(&with_descriptor(&[0x11], &KEY_HEADER)));
    }

    #[test]
    fn rejects_short_and_garbage_payloads() {
        assert!(!is_keyframe(&[]));
        assert!(!is_keyframe(&[0x10]));
        assert!(!is_keyframe(&[0x90]));
        assert!(!is_keyframe(&[0x90, 0x80]));
        assert!(!is_keyframe(&[0x90, 0x80, 0x81]));
        assert!(!is_keyframe(&with_descriptor(&[0x10], &KEY_HEADER[..5])));
        // P = 0 but no start code.
        assert!(!is_keyframe(&[0x10, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));
    }
}

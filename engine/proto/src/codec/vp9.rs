//! VP9 payload descriptor (RFC 9628 4.2).

const I_PICTURE_ID: u8 = 0x80;
const P_INTER_PICTURE: u8 = 0x40;
const L_LAYER_INDICES: u8 = 0x20;
const B_START_OF_FRAME: u8 = 0x08;
const M_LONG_PICTURE_ID: u8 = 0x80;

/// True when the payload starts a frame that references no earlier picture, in the base
/// spatial layer: where a decoder can start.
///
/// The layer index byte sits right after the picture id in both flexible and non-flexible
/// mode, and the flexible-mode reference list only follows when P is set, so the same walk
/// serves both modes.
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    if first & B_START_OF_FRAME == 0 || first & P_INTER_PICTURE != 0 {
        return false;
    }
    let mut at = 1;
    if first & I_PICTURE_ID != 0 {
        let Some(&picture_id) = payload.get(at) else {
            return false;
        };
        at += if picture_id & M_LONG_PICTURE_ID != 0 {
            2
        } else {
            1
        };
    }
    if first & L_LAYER_INDICES == 0 {
        // Without layer indices there is one spatial layer; the packet still needs a payload.
        return payload.len() > at;
    }
    // TID(3) U(1) SID(3) D(1): only the base spatial layer starts a keyframe.
    payload
        .get(at)
        .is_some_and(|&layer| (layer >> 1) & 0x07 == 0 && payload.len() > at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_non_flexible_keyframe() {
        // I, L, B, V; 15-bit picture id; layer byte SID 0; TL0PICIDX; then the frame.
        assert!(is_keyframe(&[0xaa, 0x80, 0x01, 0x00, 0x05, 0x82, 0x49]));
        // I and B only, 7-bit picture id.
        assert!(is_keyframe(&[0x88, 0x12, 0x82]));
        // Only B.
        assert!(is_keyframe(&[0x08, 0x82]));
    }

    #[test]
    fn detects_flexible_mode_keyframe() {
        // I, L, F, B; picture id; layer byte with TID 0, SID 0; payload.
        assert!(is_keyframe(&[0xb8, 0x21, 0x00, 0x82]));
    }

    #[test]
    fn rejects_inter_frames_continuations_and_upper_layers() {
        // P set (flexible mode with one reference difference).
        assert!(!is_keyframe(&[0xf8, 0x21, 0x00, 0x02, 0x82]));
        // B clear: middle of a frame.
        assert!(!is_keyframe(&[0x80, 0x21, 0x82]));
        // Spatial layer 1 of a keyframe: the base layer starts it, not this.
        assert!(!is_keyframe(&[0xb8, 0x21, 0x03, 0x82]));
    }

    #[test]
    fn rejects_short_and_garbage_payloads() {
        assert!(!is_keyframe(&[]));
        assert!(!is_keyframe(&[0x08]));
        assert!(!is_keyframe(&[0x88]));
        assert!(!is_keyframe(&[0x88, 0x80, 0x01]));
        assert!(!is_keyframe(&[0xa8, 0x01]));
        assert!(!is_keyframe(&[0xa8, 0x01, 0x00]));
    }
}

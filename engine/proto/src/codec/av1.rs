//! AV1 RTP aggregation header (AOM "RTP Payload Format for AV1", section 4.4).

/// Z: the first OBU element continues one from the previous packet.
const Z_CONTINUATION: u8 = 0x80;
/// N: this packet is the first of a coded video sequence (a keyframe with its sequence header).
const N_NEW_SEQUENCE: u8 = 0x08;

/// True when the aggregation header marks the start of a new coded video sequence.
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else {
        return false;
    };
    // A sequence cannot start in the middle of a continued OBU, and a header alone is no frame.
    header & N_NEW_SEQUENCE != 0 && header & Z_CONTINUATION == 0 && payload.len() > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_new_coded_video_sequence() {
        // N set, W = 2 (two OBU elements), then a sequence header OBU.
        assert!(is_keyframe(&[0x28, 0x0a, 0x0b]));
    }

    #[test]
    fn rejects_delta_and_garbage_payloads() {
        assert!(!is_keyframe(&[0x10, 0x32]));
        assert!(!is_keyframe(&[0x88, 0x32]));
        assert!(!is_keyframe(&[0x08]));
        assert!(!is_keyframe(&[]));
    }
}

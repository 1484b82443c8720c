//! H.264 RTP payloads (RFC 6184 5.6-5.8): single NAL units, STAP-A and FU-A.

const NAL_TYPE_MASK: u8 = 0x1f;
const NAL_IDR_SLICE: u8 = 5;
const NAL_SPS: u8 = 7;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;
const FU_START: u8 = 0x80;

/// True when the payload carries an IDR slice or an SPS at its start: the first packet of
/// a keyframe (encoders send SPS and PPS right before the IDR).
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else {
        return false;
    };
    match header & NAL_TYPE_MASK {
        STAP_A => stap_a_has_keyframe_unit(payload.get(1..).unwrap_or(&[])),
        FU_A => payload
            .get(1)
            .is_some_and(|&fu| fu & FU_START != 0 && starts_keyframe(fu & NAL_TYPE_MASK)),
        nal_type => starts_keyframe(nal_type),
    }
}

fn starts_keyframe(nal_type: u8) -> bool {
    nal_type == NAL_IDR_SLICE || nal_type == NAL_SPS
}

/// Walks the 16-bit-size-prefixed NAL units of a STAP-A; stops at the first one that does
/// not fit.
fn stap_a_has_keyframe_unit(mut units: &[u8]) -> bool {
    while let Some((size, rest)) = units.split_first_chunk::<2>() {
        let size = usize::from(u16::from_be_bytes(*size));
        let Some(unit) = rest.get(..size) else {
            return false;
        };
        if unit
            .first()
            .is_some_and(|&header| starts_keyframe(header & NAL_TYPE_MASK))
        {
            return true;
        }
        units = rest.get(size..).unwrap_or(&[]);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_single_nal_keyframes() {
        assert!(is_keyframe(&[0x65, 0x88]));
        assert!(is_keyframe(&[0x67, 0x42, 0xc0, 0x1f]));
        assert!(!is_keyframe(&[0x41, 0x9a]));
        assert!(!is_keyframe(&[0x68, 0xce]));
    }

    #[test]
    fn detects_keyframe_inside_stap_a() {
        let sps_pps = [0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce];
        assert!(is_keyframe(&sps_pps));
        // The SPS second, after a SEI.
        let sei_sps = [0x78, 0, 2, 0x06, 0x05, 0, 2, 0x67, 0x42];
        assert!(is_keyframe(&sei_sps));
        let sei_pps = [0x78, 0, 2, 0x06, 0x05, 0, 2, 0x68, 0xce];
        assert!(!is_keyframe(&sei_pps));
    }

    #[test]
    fn detects_fu_a_start_of_idr() {
        assert!(is_keyframe(&[0x7c, 0x85, 0x88]));
        // Middle fragment of an IDR.
        assert!(!is_keyframe(&[0x7c, 0x05, 0x88]));
        // Start of a non-IDR slice.
        assert!(!is_keyframe(&[0x7c, 0x81, 0x9a]));
    }

    #[test]
    fn rejects_short_and_garbage_payloads() {
        assert!(!is_keyframe(&[]));
        assert!(!is_keyframe(&[0x7c]));
        assert!(!is_keyframe(&[0x78]));
        assert!(!is_keyframe(&[0x78, 0]));
        // Sizes that run past the end hide the SPS behind them.
        assert!(!is_keyframe(&[0x78, 0, 9, 0x67, 0x42]));
        assert!(!is_keyframe(&[0x78, 0xff, 0xff, 0x67]));
        // An empty aggregated unit is skipped without looping.
        assert!(is_keyframe(&[0x78, 0, 0, 0, 1, 0x65]));
    }
}

//! Payload formats: just enough of each codec's RTP payload to tell where a keyframe starts.
//!
//! Every parser here reads peer data, so each one checks lengths and answers `false` for
//! anything short or malformed.

pub mod av1;
pub mod h264;
pub mod vp8;
pub mod vp9;

use shardcast_control::CodecName;

/// True when this RTP payload is the first packet of a keyframe, where a decoder can start.
///
/// Every Opus packet decodes on its own, so each one counts as a start point: code that
/// waits for a keyframe before forwarding to a new viewer then needs no audio special case.
pub fn is_keyframe(codec: CodecName, payload: &[u8]) -> bool {
    match codec {
        CodecName::Vp8 => vp8::is_keyframe(payload),
        CodecName::Vp9 => vp9::is_keyframe(payload),
        CodecName::H264 => h264::is_keyframe(payload),
        CodecName::Av1 => av1::is_keyframe(payload),
        CodecName::Opus => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_by_codec() {
        // One H.264 IDR NAL unit: a keyframe for H.264 only.
        let idr = [0x65, 0x88, 0x84];
        assert!(is_keyframe(CodecName::H264, &idr));
        assert!(!is_keyframe(CodecName::Vp8, &idr));
        assert!(!is_keyframe(CodecName::Av1, &idr));
        assert!(is_keyframe(CodecName::Opus, &[0xfc]));
        for codec in [
            CodecName::Vp8,
            CodecName::Vp9,
            CodecName::H264,
            CodecName::Av1,
        ] {
            assert!(!is_keyframe(codec, &[]), "{codec:?}");
        }
    }
}

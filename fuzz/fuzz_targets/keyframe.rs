#![no_main]

use libfuzzer_sys::fuzz_target;
use shardcast_control::CodecName;
use shardcast_proto::codec::is_keyframe;

fuzz_target!(|data: &[u8]| {
    for codec in [
        CodecName::Vp8,
        CodecName::Vp9,
        CodecName::H264,
        CodecName::Av1,
        CodecName::Opus,
    ] {
        let _ = is_keyframe(codec, data);
    }
});

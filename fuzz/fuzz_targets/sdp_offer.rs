#![no_main]

use libfuzzer_sys::fuzz_target;
use shardcast_signaling::sdp::offer::Offer;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Offer::parse(text);
    }
});

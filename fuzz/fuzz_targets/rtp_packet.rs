#![no_main]

use libfuzzer_sys::fuzz_target;
use shardcast_proto::rtp::{RtpHeader, RtpPacket, write_rtp};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    let extensions: Vec<(u8, &[u8])> = packet.extensions().collect();
    let header = RtpHeader {
        marker: packet.marker(),
        payload_type: packet.payload_type(),
        sequence_number: packet.sequence_number(),
        timestamp: packet.timestamp(),
        ssrc: packet.ssrc(),
    };
    // Whatever parses must write back and parse to the same fields.
    let mut out = vec![0u8; data.len() + 1024];
    if let Ok(len) = write_rtp(&mut out, &header, &extensions, packet.payload()) {
        let again = RtpPacket::parse(&out[..len]).expect("written packet parses");
        assert_eq!(again.payload(), packet.payload());
        assert_eq!(again.sequence_number(), packet.sequence_number());
    }
});

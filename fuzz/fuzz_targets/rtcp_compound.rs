#![no_main]

use libfuzzer_sys::fuzz_target;
use shardcast_proto::rtcp::{RtcpPacket, iter_compound};

fuzz_target!(|data: &[u8]| {
    for packet in iter_compound(data) {
        // Walk every lazily decoded list too.
        match packet {
            Ok(RtcpPacket::SenderReport { reports, .. } | RtcpPacket::ReceiverReport { reports, .. }) => {
                reports.for_each(drop)
            }
            Ok(RtcpPacket::Nack { items, .. }) => items.lost().for_each(drop),
            Ok(RtcpPacket::Fir { entries, .. }) => entries.for_each(drop),
            Ok(RtcpPacket::Sdes { chunks }) => chunks.for_each(|chunk| chunk.items.for_each(drop)),
            Ok(RtcpPacket::Bye { ssrcs, .. } | RtcpPacket::Remb { ssrcs, .. }) => ssrcs.for_each(drop),
            Ok(_) => {}
            Err(_) => break,
        }
    }
});

#![no_main]

use libfuzzer_sys::fuzz_target;
use shardcast_proto::rtcp::{PacketReport, TransportCcFeedback};

fuzz_target!(|data: &[u8]| {
    let Ok(feedback) = TransportCcFeedback::parse(data) else {
        return;
    };
    // A checked FCI reports every packet of its count, in order, in a bounded number of steps.
    let mut covered = 0u32;
    let mut steps = 0usize;
    let mut next_seq = feedback.base_seq;
    for report in feedback.reports() {
        steps += 1;
        let (first, count) = match report {
            PacketReport::Received { seq, .. } => (seq, 1),
            PacketReport::Lost { first_seq, count } => (first_seq, count),
        };
        assert_eq!(first, next_seq);
        assert!(count > 0);
        next_seq = next_seq.wrapping_add(count);
        covered += u32::from(count);
    }
    assert_eq!(covered, u32::from(feedback.status_count));
    assert!(steps <= 7 * data.len());
});

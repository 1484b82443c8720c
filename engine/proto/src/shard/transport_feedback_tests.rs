//! Transport-wide congestion control feedback to a publisher: the engine answers a publisher
//! that numbers its packets with feedback every ~50 ms listing exactly what arrived and when,
//! RTX padding probes included.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shardcast_control::Role;

use super::sim_net::{Net, vp8};
use super::sim_peer::{TRANSPORT_CC_ID, transport_cc_sections};
use crate::ingress::arrival_feedback::FEEDBACK_INTERVAL;
use crate::rtcp::TransportCcFeedback;
use crate::rtp::RtpHeader;

const VIDEO_SSRC: u32 = 0x1111;
const RTX_SSRC: u32 = 0x3333;

/// One feedback read back: when the publisher got it, its count, and per transport-wide
/// sequence number the arrival time it reports (µs on the engine's clock) or `None`.
struct Received {
    at: Instant,
    count: u8,
    statuses: Vec<(u16, Option<i64>)>,
}

fn read(at: Instant, fci: &[u8]) -> Received {
    let feedback = TransportCcFeedback::parse(fci).unwrap();
    let statuses = feedback.statuses();
    Received {
        at,
        count: feedback.feedback_count,
        statuses,
    }
}

#[test]
fn publisher_gets_feedback_on_what_arrived_and_when() {
    let mut net = Net::new(1);
    // Without NACK: a publisher's retransmission would repeat its transport-wide number.
    let mut media = transport_cc_sections(true);
    for section in &mut media {
        section.codecs[0].feedback.retain(|f| f == "transport-cc");
    }
    let (publisher, _) = net.join_with(Role::Publish, "s", "pub", media);
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[publisher].is_connected()
    });
    net.step_size = Duration::from_millis(1);

    let mut rng = StdRng::seed_from_u64(7);
    // Transport-wide sequence numbers in the order sent, each with when it was sent, or
    // `None` when lost on the way (never the first: the engine's numbering starts there).
    let mut sent: Vec<(u16, Option<Instant>)> = Vec::new();
    let first = 65_400u16;
    let (mut transport_seq, mut media_seq, mut rtx_seq) = (first, 0u16, 0u16);
    let start = net.now;
    while net.now < start + Duration::from_millis(600) {
        for _ in 0..rng.random_range(0..3) {
            let probe = rng.random_bool(0.1);
            let header = RtpHeader {
                marker: true,
                payload_type: if probe { 97 } else { 96 },
                // SRTP refuses a repeated sequence number on one SSRC as a replay.
                sequence_number: if probe { rtx_seq } else { media_seq },
                timestamp: u32::from(media_seq) * 3000,
                ssrc: if probe { RTX_SSRC } else { VIDEO_SSRC },
            };
            // A padding-only probe carries no original packet: ingress drops it afterwards.
            let payload = if probe {
                Vec::new()
            } else {
                vp8(media_seq == 0, media_seq as u8)
            };
            let seq_bytes = transport_seq.to_be_bytes();
            let extensions: [(u8, &[u8]); 2] = [(4, b"1"), (TRANSPORT_CC_ID, &seq_bytes)];
            let lost = transport_seq != first && rng.random_bool(0.1);
            sent.push((transport_seq, (!lost).then_some(net.now)));
            let datagram =
                net.peers[publisher].send_rtp_with_extensions(&header, &extensions, &payload);
            if !lost {
                let server = net.peers[publisher].server().unwrap();
                net.send_to_shard(publisher, server, datagram);
            }
            transport_seq = transport_seq.wrapping_add(1);
            media_seq += u16::from(!probe);
            rtx_seq += u16::from(probe);
        }
        net.step();
    }
    // Lost packets after the last arrival are never reported.
    let last_arrived = sent.iter().rev().find(|(_, at)| at.is_some()).unwrap().0;
    assert!(last_arrived < first, "the numbers wrapped");
    net.run_until(Duration::from_millis(200), |net| {
        net.now > start + Duration::from_millis(700)
    });

    let feedback: Vec<Received> = net.peers[publisher]
        .transport_feedback
        .iter()
        .map(|(at, fci)| read(*at, fci))
        .collect();
    assert!(feedback.len() >= 10, "{} feedback packets", feedback.len());
    for (index, received) in feedback.iter().enumerate() {
        assert_eq!(usize::from(received.count), index);
    }
    for pair in feedback.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= FEEDBACK_INTERVAL && gap <= FEEDBACK_INTERVAL + Duration::from_millis(5),
            "{gap:?} between feedback packets"
        );
    }
    // Every sequence number once, in order, from the first sent to the last that arrived.
    let statuses: Vec<(u16, Option<i64>)> =
        feedback.iter().flat_map(|r| r.statuses.clone()).collect();
    let reported: Vec<u16> = statuses.iter().map(|s| s.0).collect();
    let expected: Vec<u16> = (0..)
        .map(|i| first.wrapping_add(i))
        .take_while(|&seq| seq != last_arrived.wrapping_add(1))
        .collect();
    assert_eq!(reported, expected);
    let sent_at: HashMap<u16, Option<Instant>> = sent.iter().copied().collect();
    let first_arrival = sent_at[&first].unwrap();
    for (seq, arrival_us) in statuses {
        let expected_us = sent_at[&seq].map(|at| (at - first_arrival).as_micros() as i64);
        assert_eq!(arrival_us, expected_us, "transport seq {seq}");
    }
    assert!(
        sent.iter().filter(|(_, at)| at.is_none()).count() > 10,
        "losses were simulated"
    );
    assert_eq!(
        net.shards[0].counters().publisher_transport_feedback_sent,
        feedback.len() as u64
    );
}

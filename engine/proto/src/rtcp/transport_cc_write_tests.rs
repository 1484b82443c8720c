use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::rtcp::{RtcpPacket, TransportCcFeedback, iter_compound};

const HEADER: TransportCcHeader = TransportCcHeader {
    sender_ssrc: 1,
    media_ssrc: 2,
    feedback_count: 0,
};

fn at(seq: u64, arrival_us: i64) -> PacketArrival {
    PacketArrival { seq, arrival_us }
}

/// What the parser reads back from one written packet: (16-bit seq, arrival in µs or lost).
#[derive(Debug)]
struct ReadBack {
    statuses: Vec<(u16, Option<i64>)>,
    feedback_count: u8,
    len: usize,
}

fn read_back(packet: &[u8]) -> ReadBack {
    let mut all = iter_compound(packet);
    let Some(Ok(RtcpPacket::TransportCc {
        sender_ssrc,
        media_ssrc,
        fci,
    })) = all.next()
    else {
        panic!("not a transport-cc packet: {packet:?}");
    };
    assert!(all.next().is_none(), "one packet at a time");
    assert_eq!((sender_ssrc, media_ssrc), (1, 2));
    let feedback = TransportCcFeedback::parse(fci).unwrap();
    let statuses = feedback.statuses();
    assert_eq!(statuses.len(), usize::from(feedback.status_count));
    ReadBack {
        statuses,
        feedback_count: feedback.feedback_count,
        len: packet.len(),
    }
}

/// Writes packets until every arrival is described; returns each packet read back.
fn write_all(base_seq: u64, arrivals: &[PacketArrival]) -> Vec<ReadBack> {
    let mut out = Vec::new();
    let mut packets = Vec::new();
    let (mut base, mut rest) = (base_seq, arrivals);
    let mut header = HEADER;
    while let Some(written) = write_transport_cc(&mut out, &header, base, rest) {
        assert!(written.arrivals > 0, "no progress");
        packets.push(read_back(&out));
        out.clear();
        base = written.next_seq;
        rest = &rest[written.arrivals..];
        header.feedback_count = header.feedback_count.wrapping_add(1);
    }
    assert!(rest.iter().all(|a| a.seq < base), "left over: {rest:?}");
    packets
}

/// Every status from `base_seq` to the last arrival: received ones at their arrival time cut
/// to 250 µs, the first arrival of a repeated sequence number winning.
fn expected(base_seq: u64, arrivals: &[PacketArrival]) -> Vec<(u16, Option<i64>)> {
    let Some(last) = arrivals.iter().map(|a| a.seq).max() else {
        return Vec::new();
    };
    (base_seq..=last)
        .map(|seq| {
            let arrival = arrivals.iter().find(|a| a.seq == seq);
            (
                seq as u16,
                arrival.map(|a| a.arrival_us.div_euclid(DELTA_UNIT_US) * DELTA_UNIT_US),
            )
        })
        .collect()
}

fn check_round_trip(base_seq: u64, arrivals: &[PacketArrival]) -> Vec<ReadBack> {
    let packets = write_all(base_seq, arrivals);
    for (index, packet) in packets.iter().enumerate() {
        assert!(packet.len <= MAX_FEEDBACK_LEN, "{} bytes", packet.len);
        assert_eq!(packet.len % 4, 0);
        assert_eq!(usize::from(packet.feedback_count), index % 256);
    }
    let statuses: Vec<_> = packets.iter().flat_map(|p| p.statuses.clone()).collect();
    assert_eq!(statuses, expected(base_seq, arrivals));
    packets
}

#[test]
fn in_order_arrivals_come_back() {
    let arrivals: Vec<_> = (0..50)
        .map(|i| at(100 + i, 1_000_000 + 3_300 * i as i64))
        .collect();
    let packets = check_round_trip(100, &arrivals);
    assert_eq!(packets.len(), 1);
}

#[test]
fn losses_inside_and_before_the_first_arrival() {
    let arrivals = [at(12, 5_000), at(13, 5_250), at(20, 9_000), at(40, 90_000)];
    check_round_trip(10, &arrivals);
}

#[test]
fn reordered_arrivals_get_negative_deltas() {
    // Sequence order, but 11 and 13 arrived before the packets numbered below them.
    let arrivals = [
        at(10, 100_000),
        at(11, 90_000),
        at(12, 120_000),
        at(13, 20_000),
        at(14, 130_000),
    ];
    check_round_trip(10, &arrivals);
}

#[test]
fn sequence_numbers_wrap() {
    let arrivals: Vec<_> = (65_530..65_545u64)
        .filter(|seq| seq % 4 != 0)
        .map(|seq| at(seq, seq as i64 * 1_000))
        .collect();
    let packets = check_round_trip(65_530, &arrivals);
    assert_eq!(packets[0].statuses[0].0, 65_530);
    assert_eq!(
        packets[0].statuses.last().unwrap().0,
        (65_543u64 % 65_536) as u16
    );
}

#[test]
fn a_delta_too_large_for_16_bits_starts_the_next_packet() {
    // 8.19 s is the largest delta; ten seconds of silence splits the feedback.
    let arrivals = [at(0, 0), at(1, 1_000), at(2, 10_001_000), at(3, 10_002_000)];
    let packets = check_round_trip(0, &arrivals);
    assert_eq!(packets.len(), 2);
    assert_eq!(packets[1].statuses[0], (2, Some(10_001_000)));
    // Within 16 bits, a long gap stays in one packet as a two-byte delta.
    check_round_trip(0, &[at(0, 0), at(1, 8_000_000), at(2, 0)]);
}

#[test]
fn long_runs_take_several_chunks() {
    // 20000 losses need three run length chunks; 1000 same-delta arrivals one.
    let mut arrivals = vec![at(0, 0)];
    arrivals.extend((0..1000).map(|i| at(20_001 + i, 64_000 + 250 * i as i64)));
    let packets = check_round_trip(0, &arrivals);
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].statuses.len(), 21_001);
}

#[test]
fn statuses_beyond_65535_go_in_the_next_packet() {
    let arrivals = [at(0, 0), at(60_000, 1_000), at(70_000, 2_000)];
    let packets = check_round_trip(0, &arrivals);
    assert_eq!(packets.len(), 2);
    // Losses further back than one packet can say are left out.
    let packets = write_all(0, &[at(100_000, 0)]);
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].statuses.len(), usize::from(u16::MAX));
}

#[test]
fn large_feedback_is_split_under_the_size_limit() {
    // Two-byte deltas and alternating losses: the most bytes per packet described.
    let arrivals: Vec<_> = (0..3000u64)
        .map(|i| at(2 * i, (i as i64 % 2) * 2_000_000))
        .collect();
    let packets = check_round_trip(0, &arrivals);
    assert!(packets.len() >= 5, "{} packets", packets.len());
}

#[test]
fn arrivals_below_the_base_or_repeated_are_skipped() {
    let mut out = Vec::new();
    assert_eq!(
        write_transport_cc(&mut out, &HEADER, 10, &[at(3, 0), at(9, 0)]),
        None
    );
    assert!(out.is_empty());
    let arrivals = [at(3, 0), at(10, 1_000), at(10, 5_000), at(11, 2_000)];
    let written = write_transport_cc(&mut out, &HEADER, 10, &arrivals).unwrap();
    assert_eq!(
        written,
        FeedbackWritten {
            arrivals: 4,
            next_seq: 12
        }
    );
    assert_eq!(
        read_back(&out).statuses,
        vec![(10, Some(1_000)), (11, Some(2_000))]
    );
}

#[test]
fn writing_reuses_the_buffer() {
    let arrivals: Vec<_> = (0..100).map(|i| at(i, 1_000 * i as i64)).collect();
    let mut out = Vec::with_capacity(MAX_FEEDBACK_LEN);
    let capacity = out.capacity();
    write_transport_cc(&mut out, &HEADER, 0, &arrivals).unwrap();
    assert_eq!(out.capacity(), capacity);
}

#[test]
fn random_arrival_patterns_round_trip() {
    let mut rng = StdRng::seed_from_u64(0x7cc);
    for _ in 0..500 {
        let loss = rng.random_range(0.0..0.6);
        let count = rng.random_range(1..400u64);
        let base = rng.random_range(0..70_000u64);
        let mut time: i64 = rng.random_range(0..10_000_000);
        let mut arrivals = Vec::new();
        for seq in base..base + count {
            time += match rng.random_range(0..100) {
                0 => rng.random_range(0..20_000_000),
                1..=10 => rng.random_range(-40_000..0),
                _ => rng.random_range(0..70_000),
            };
            if !rng.random_bool(loss) {
                arrivals.push(at(seq, time));
            }
        }
        let first_reported = base.saturating_sub(rng.random_range(0..30));
        check_round_trip(first_reported, &arrivals);
    }
}

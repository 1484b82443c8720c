use super::*;
use crate::rtcp::{RtcpPacket, iter_compound};

/// An FCI header: base seq, status count, reference time (24 bits), feedback count.
fn header(base_seq: u16, count: u16, reference: u32, fb_count: u8) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&base_seq.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&reference.to_be_bytes()[1..]);
    out.push(fb_count);
    out
}

fn reports(fci: &[u8]) -> Vec<PacketReport> {
    TransportCcFeedback::parse(fci).unwrap().reports().collect()
}

fn received(seq: u16, delta_us: i64) -> PacketReport {
    PacketReport::Received { seq, delta_us }
}

fn lost(first_seq: u16, count: u16) -> PacketReport {
    PacketReport::Lost { first_seq, count }
}

#[test]
fn spec_run_length_example_is_221_lost() {
    // The draft's first run length chunk: "packet not received", run length 221.
    let mut fci = header(65500, 221, 0x12_3456, 9);
    fci.extend_from_slice(&[0b0000_0000, 0b1101_1101]);
    let feedback = TransportCcFeedback::parse(&fci).unwrap();
    assert_eq!(
        (
            feedback.base_seq,
            feedback.status_count,
            feedback.reference_time,
            feedback.feedback_count
        ),
        (65500, 221, 0x12_3456, 9)
    );
    assert_eq!(reports(&fci), vec![lost(65500, 221)]);
}

#[test]
fn spec_one_bit_vector_example() {
    // The draft's one-bit status vector: 1 lost, 5 received, 3 lost, 3 received, 2 lost.
    let mut fci = header(10, 14, 0, 0);
    fci.extend_from_slice(&[0b1001_1111, 0b0001_1100]);
    fci.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        reports(&fci),
        vec![
            lost(10, 1),
            received(11, 250),
            received(12, 500),
            received(13, 750),
            received(14, 1000),
            received(15, 1250),
            lost(16, 1),
            lost(17, 1),
            lost(18, 1),
            received(19, 1500),
            received(20, 1750),
            received(21, 2000),
            lost(22, 1),
            lost(23, 1),
        ]
    );
}

#[test]
fn two_bit_vector_with_large_and_negative_deltas() {
    // Symbols: small, large, lost, large, then three ignored past the status count of 4.
    let mut fci = header(0xfffe, 4, 0, 1);
    fci.extend_from_slice(&[0b1101_1000, 0b1000_0000]);
    fci.push(4);
    fci.extend_from_slice(&1000i16.to_be_bytes());
    fci.extend_from_slice(&(-8i16).to_be_bytes());
    fci.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        reports(&fci),
        vec![
            received(0xfffe, 1000),
            received(0xffff, 250_000),
            lost(0, 1),
            received(1, -2000),
        ]
    );
}

#[test]
fn received_run_then_loss_run_spanning_the_count() {
    // 3 received with small deltas, then a run of 8191 losses cut to the count.
    let mut fci = header(100, 1003, 0, 0);
    fci.extend_from_slice(&[0b0010_0000, 3, 0b0001_1111, 0xff]);
    fci.extend_from_slice(&[0, 255, 1, 0]);
    assert_eq!(
        reports(&fci),
        vec![
            received(100, 0),
            received(101, 255 * 250),
            received(102, 250),
            lost(103, 1000),
        ]
    );
}

#[test]
fn empty_runs_are_skipped() {
    let mut fci = header(7, 1, 0, 0);
    fci.extend_from_slice(&[0, 0, 0b0010_0000, 0, 0b0010_0000, 1, 9, 0]);
    assert_eq!(reports(&fci), vec![received(7, 2250)]);
}

#[test]
fn rejects_truncated_and_reserved() {
    assert_eq!(
        TransportCcFeedback::parse(&[0; 7]),
        Err(TransportCcError::TooShort)
    );
    // The status count says 65535 but one chunk covers 14.
    let mut fci = header(0, u16::MAX, 0, 0);
    fci.extend_from_slice(&[0b1000_0000, 0]);
    assert_eq!(
        TransportCcFeedback::parse(&fci),
        Err(TransportCcError::MissingChunks)
    );
    // Two received packets with one delta byte.
    let mut fci = header(0, 2, 0, 0);
    fci.extend_from_slice(&[0b0010_0000, 2, 1]);
    assert_eq!(
        TransportCcFeedback::parse(&fci),
        Err(TransportCcError::TruncatedDeltas)
    );
    // A large delta cut in half.
    let mut fci = header(0, 1, 0, 0);
    fci.extend_from_slice(&[0b0100_0000, 1, 1]);
    assert_eq!(
        TransportCcFeedback::parse(&fci),
        Err(TransportCcError::TruncatedDeltas)
    );
    let mut fci = header(0, 1, 0, 0);
    fci.extend_from_slice(&[0b0110_0000, 1]);
    assert_eq!(
        TransportCcFeedback::parse(&fci),
        Err(TransportCcError::ReservedSymbol)
    );
}

#[test]
fn huge_loss_count_takes_few_steps() {
    // 8 run chunks of 8191 losses each cover the full count in 9 reports.
    let mut fci = header(0, u16::MAX, 0, 0);
    for _ in 0..9 {
        fci.extend_from_slice(&[0x1f, 0xff]);
    }
    let all = reports(&fci);
    assert_eq!(all.len(), 9);
    let total: u32 = all
        .iter()
        .map(|r| match r {
            PacketReport::Lost { count, .. } => u32::from(*count),
            PacketReport::Received { .. } => 0,
        })
        .sum();
    assert_eq!(total, u32::from(u16::MAX));
}

#[test]
fn arrives_as_rtpfb_15_in_a_compound_packet() {
    let mut fci = header(1, 1, 2, 3);
    fci.extend_from_slice(&[0b0010_0000, 1, 4, 0]);
    let mut packet = vec![0x8f, 205, 0, 0];
    packet.extend_from_slice(&1u32.to_be_bytes());
    packet.extend_from_slice(&2u32.to_be_bytes());
    packet.extend_from_slice(&fci);
    packet[3] = (packet.len() / 4 - 1) as u8;
    let Some(Ok(RtcpPacket::TransportCc { fci, .. })) = iter_compound(&packet).next() else {
        panic!("expected transport-cc feedback");
    };
    assert_eq!(reports(fci), vec![received(1, 1000)]);
}

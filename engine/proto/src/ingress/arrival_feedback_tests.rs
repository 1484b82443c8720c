use super::*;
use crate::rtcp::{RtcpPacket, TransportCcFeedback, iter_compound};
use crate::rtp::{RtpHeader, write_rtp};

const ID: u8 = 3;

/// A packet with transport-wide sequence number `transport_seq` (none when `None`).
fn packet(transport_seq: Option<u16>) -> Vec<u8> {
    let header = RtpHeader {
        marker: false,
        payload_type: 96,
        sequence_number: 1,
        timestamp: 0,
        ssrc: 0x1234,
    };
    let value = transport_seq.map(u16::to_be_bytes);
    let extensions: Vec<(u8, &[u8])> = value.iter().map(|v| (ID, &v[..])).collect();
    let mut out = [0u8; 200];
    let len = write_rtp(&mut out, &header, &extensions, &[0; 20]).unwrap();
    out[..len].to_vec()
}

fn record(feedback: &mut ArrivalFeedback, now: Instant, transport_seq: u16) {
    let data = packet(Some(transport_seq));
    feedback.record(now, &RtpPacket::parse(&data).unwrap());
}

/// Statuses as (seq, arrival in µs since the first arrival, or lost).
type Statuses = Vec<(u16, Option<i64>)>;

/// A feedback packet's count and statuses.
fn decode(plain: &[u8]) -> (u8, Statuses) {
    let Some(Ok(RtcpPacket::TransportCc {
        sender_ssrc,
        media_ssrc,
        fci,
    })) = iter_compound(plain).next()
    else {
        panic!("not transport-cc");
    };
    assert_eq!((sender_ssrc, media_ssrc), (7, 0x1234));
    let feedback = TransportCcFeedback::parse(fci).unwrap();
    let statuses = feedback.statuses();
    (feedback.feedback_count, statuses)
}

fn poll_all(feedback: &mut ArrivalFeedback, now: Instant) -> Vec<(u8, Statuses)> {
    let mut all = Vec::new();
    while let Some(plain) = feedback.poll_feedback(now, 7) {
        assert!(plain.len() <= MAX_FEEDBACK_LEN);
        all.push(decode(plain));
    }
    all
}

#[test]
fn finds_the_negotiated_extension() {
    use shardcast_control::{Extension, MediaKind};
    let section = |extensions: Vec<Extension>| MediaSection {
        mid: "0".into(),
        kind: MediaKind::Video,
        codecs: vec![],
        extensions,
        ssrcs: vec![],
        rtx_pairs: vec![],
        simulcast: Vec::new(),
    };
    let with = section(vec![Extension {
        id: 5,
        uri: crate::rtp::extension::TRANSPORT_CC_URI.into(),
    }]);
    let feedback = ArrivalFeedback::negotiated(&[section(vec![]), with]).unwrap();
    assert_eq!(feedback.extension_id, 5);
    assert!(ArrivalFeedback::negotiated(&[section(vec![])]).is_none());
}

#[test]
fn reports_at_the_interval_what_arrived() {
    let start = Instant::now();
    let mut feedback = ArrivalFeedback::new(ID);
    let plain = packet(None);
    feedback.record(start, &RtpPacket::parse(&plain).unwrap());
    assert_eq!(
        feedback.poll_timeout(),
        None,
        "unnumbered packets do not count"
    );
    for (seq, ms) in [(10, 0), (11, 5), (13, 20), (12, 21)] {
        record(&mut feedback, start + Duration::from_millis(ms), seq);
    }
    let due = start + FEEDBACK_INTERVAL;
    assert_eq!(feedback.poll_timeout(), Some(due));
    assert!(poll_all(&mut feedback, due - Duration::from_millis(1)).is_empty());
    assert_eq!(
        poll_all(&mut feedback, due),
        vec![(
            0,
            vec![
                (10, Some(0)),
                (11, Some(5_000)),
                (12, Some(21_000)),
                (13, Some(20_000))
            ]
        )]
    );
    assert_eq!(feedback.poll_timeout(), None);

    // The next feedback starts where this one ended: 14 was lost, 12 again is too late.
    let later = due + Duration::from_millis(10);
    record(&mut feedback, later, 15);
    record(&mut feedback, later, 12);
    let due = later + FEEDBACK_INTERVAL;
    assert_eq!(feedback.poll_timeout(), Some(due));
    let sent = poll_all(&mut feedback, due);
    assert_eq!(sent, vec![(1, vec![(14, None), (15, Some(60_000))])]);
    assert_eq!(feedback.sent(), 2);
}

#[test]
fn a_full_batch_goes_out_at_once() {
    let now = Instant::now();
    let mut feedback = ArrivalFeedback::new(ID);
    for seq in 0..FEEDBACK_BATCH as u16 - 1 {
        record(&mut feedback, now, seq);
    }
    assert_eq!(feedback.poll_timeout(), Some(now + FEEDBACK_INTERVAL));
    record(&mut feedback, now, FEEDBACK_BATCH as u16 - 1);
    assert_eq!(feedback.poll_timeout(), Some(now));
    let sent = poll_all(&mut feedback, now);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.len(), FEEDBACK_BATCH);
}

#[test]
fn memory_is_bounded_and_big_feedback_split() {
    let start = Instant::now();
    let mut feedback = ArrivalFeedback::new(ID);
    // Two-byte deltas (50 ms back, then 250 ms on), never polled.
    for seq in 0..5_000u16 {
        let ms = u64::from(seq) * 100 + 150 - u64::from(seq % 2) * 150;
        record(&mut feedback, start + Duration::from_millis(ms), seq);
    }
    assert!(feedback.pending.len() <= MAX_PENDING);
    let sent = poll_all(&mut feedback, start + Duration::from_secs(1_000));
    assert!(sent.len() > 1);
    let counts: Vec<u8> = sent.iter().map(|s| s.0).collect();
    assert_eq!(counts, (0..sent.len() as u8).collect::<Vec<_>>());
    let statuses: Vec<u16> = sent.iter().flat_map(|s| s.1.iter().map(|x| x.0)).collect();
    assert_eq!(statuses, (0..MAX_PENDING as u16).collect::<Vec<_>>());
}

#[test]
fn wraps_and_restarts_after_a_jump() {
    let now = Instant::now();
    let mut feedback = ArrivalFeedback::new(ID);
    for seq in [65_534, 65_535, 0, 1] {
        record(&mut feedback, now, seq);
    }
    let sent = poll_all(&mut feedback, now + FEEDBACK_INTERVAL);
    let seqs: Vec<u16> = sent[0].1.iter().map(|s| s.0).collect();
    assert_eq!(seqs, vec![65_534, 65_535, 0, 1]);
    // A jump past MAX_GAP is not reported as thousands of losses.
    record(&mut feedback, now, 30_000);
    let sent = poll_all(&mut feedback, now + 2 * FEEDBACK_INTERVAL);
    assert_eq!(sent[0].1, vec![(30_000, Some(0))]);
}

//! The rewriter under simulated time: wraps, reordering, source and layer changes, NACK mapping.

use super::*;

const VIDEO: u32 = 90_000;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A packet of layer 0 of `source`, as the track numbers it.
fn put(
    track: &mut TrackRewriter,
    source: u64,
    seq: u16,
    ts: u32,
    rate: u32,
    now: Instant,
) -> Option<(u16, u32)> {
    track
        .rewrite(source, 0, seq, ts, rate, now)
        .map(|r| (r.seq, r.ts))
}

fn packet(source: u64, layer: u8, seq: u16) -> Option<SourcePacket> {
    Some(SourcePacket { source, layer, seq })
}

#[test]
fn first_source_starts_at_the_chosen_numbers() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(1000, 5000);
    assert_eq!(track.last_output(), None);
    assert_eq!(track.rtp_time_at(start, VIDEO), None);
    assert_eq!(
        put(&mut track, 1, 40000, 123_456, VIDEO, start),
        Some((1000, 5000))
    );
    assert_eq!(
        put(&mut track, 1, 40001, 126_456, VIDEO, start + ms(33)),
        Some((1001, 8000))
    );
    assert_eq!(track.last_output(), Some((1001, 8000)));
}

#[test]
fn input_and_output_wrap_around() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(65534, u32::MAX - 1000);
    let mut now = start;
    let mut out = Vec::new();
    for (seq, ts) in [
        (65535u16, u32::MAX - 2999),
        (0, u32::MAX - 9),
        (1, 2990),
        (2, 5990),
    ] {
        out.push(put(&mut track, 7, seq, ts, VIDEO, now).unwrap());
        now += ms(33);
    }
    assert_eq!(
        out,
        vec![
            (65534, u32::MAX - 1000),
            (65535, 1989),
            (0, 4989),
            (1, 7989)
        ]
    );
    assert_eq!(track.last_output(), Some((1, 7989)));
}

#[test]
fn reordered_and_retransmitted_packets_map_consistently() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(100, 0);
    assert_eq!(put(&mut track, 1, 10, 900, VIDEO, start), Some((100, 0)));
    assert_eq!(
        put(&mut track, 1, 13, 3900, VIDEO, start + ms(40)),
        Some((103, 3000))
    );
    // Late packets fill the gap and do not move the newest output back.
    assert_eq!(
        put(&mut track, 1, 11, 900, VIDEO, start + ms(41)),
        Some((101, 0))
    );
    assert_eq!(
        put(&mut track, 1, 12, 3900, VIDEO, start + ms(42)),
        Some((102, 3000))
    );
    assert_eq!(track.last_output(), Some((103, 3000)));
    // A retransmission of a packet already sent maps to the same numbers.
    assert_eq!(
        put(&mut track, 1, 11, 900, VIDEO, start + ms(90)),
        Some((101, 0))
    );
    // Older than the source's first forwarded packet: the viewer never had its frame.
    assert_eq!(put(&mut track, 1, 9, 0, VIDEO, start + ms(91)), None);
    assert_eq!(put(&mut track, 1, 65000, 0, VIDEO, start + ms(91)), None);
}

#[test]
fn new_source_continues_the_track() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(500, 1_000_000);
    put(&mut track, 1, 20, 7000, VIDEO, start).unwrap();
    put(&mut track, 1, 21, 10000, VIDEO, start + ms(33)).unwrap();
    assert_eq!(track.last_output(), Some((501, 1_003_000)));

    // The publisher returns 2 s later with fresh random numbering.
    let back = start + ms(33) + ms(2000);
    assert_eq!(
        put(&mut track, 2, 60000, 42, VIDEO, back),
        Some((502, 1_003_000 + 180_000))
    );
    assert_eq!(
        put(&mut track, 2, 60001, 3042, VIDEO, back + ms(33)),
        Some((503, 1_186_000))
    );
    // Late packets of the old source no longer belong to this track.
    assert_eq!(put(&mut track, 1, 22, 13000, VIDEO, back + ms(34)), None);
    assert_eq!(track.last_output(), Some((503, 1_186_000)));
}

#[test]
fn immediate_switch_still_advances_the_timestamp() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(0, 0);
    put(&mut track, 1, 5, 5, VIDEO, start).unwrap();
    assert_eq!(put(&mut track, 2, 9, 9, VIDEO, start), Some((1, 1)));
}

#[test]
fn switch_uses_the_time_the_newest_timestamp_was_first_sent() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(0, 0);
    // Three packets of one frame spread over 10 ms.
    put(&mut track, 1, 1, 100, VIDEO, start).unwrap();
    put(&mut track, 1, 2, 100, VIDEO, start + ms(5)).unwrap();
    put(&mut track, 1, 3, 100, VIDEO, start + ms(10)).unwrap();
    assert_eq!(
        put(&mut track, 2, 1, 0, VIDEO, start + ms(100)),
        Some((3, 9000))
    );
}

#[test]
fn rtp_time_extrapolates_from_the_newest_timestamp() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(0, u32::MAX - 47);
    put(&mut track, 1, 0, 0, 48_000, start).unwrap();
    assert_eq!(track.rtp_time_at(start, 48_000), Some(u32::MAX - 47));
    assert_eq!(track.rtp_time_at(start + ms(20), 48_000), Some(912));
    // A time before the last packet does not run the clock backwards.
    put(&mut track, 1, 1, 960, 48_000, start + ms(20)).unwrap();
    assert_eq!(track.rtp_time_at(start + ms(10), 48_000), Some(912));
}

#[test]
fn maps_output_sequence_numbers_back_for_nacks() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(65530, 0);
    assert_eq!(track.source_sequence(65530), None);
    for seq in 100..110u16 {
        put(&mut track, 4, seq, 0, VIDEO, start).unwrap();
    }
    assert_eq!(track.source_sequence(65530), packet(4, 0, 100));
    assert_eq!(track.source_sequence(3), packet(4, 0, 109));
    assert_eq!(track.source_sequence(4), None);
    assert_eq!(track.source_sequence(65529), None);

    // After a switch, what went just before it still maps back, one mapping deep.
    put(&mut track, 5, 7, 0, VIDEO, start + ms(1)).unwrap();
    assert_eq!(track.source_sequence(4), packet(5, 0, 7));
    assert_eq!(track.source_sequence(3), packet(4, 0, 109));
    track.rewrite(5, 2, 900, 0, VIDEO, start + ms(2)).unwrap();
    assert_eq!(track.source_sequence(5), packet(5, 2, 900));
    assert_eq!(track.source_sequence(4), packet(5, 0, 7));
    assert_eq!(track.source_sequence(3), None, "two mappings back");
}

#[test]
fn a_layer_switch_continues_the_track_and_old_layer_packets_map_to_their_own() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(10, 1000);
    let low = track.rewrite(1, 0, 500, 90_000, VIDEO, start).unwrap();
    assert_eq!(
        (low.seq, low.ts, low.started, low.newest),
        (10, 1000, true, true)
    );
    track
        .rewrite(1, 0, 501, 93_000, VIDEO, start + ms(33))
        .unwrap();
    // Layer 2 numbers its packets far away; its keyframe lands right after.
    let high = track
        .rewrite(1, 2, 40_000, 7, VIDEO, start + ms(66))
        .unwrap();
    assert_eq!(
        (high.seq, high.ts, high.started),
        (12, 1000 + 3000 + 2970, true)
    );
    let next = track
        .rewrite(1, 2, 40_001, 3007, VIDEO, start + ms(99))
        .unwrap();
    assert_eq!((next.seq, next.ts, next.started), (13, 6970 + 3000, false));
    // A retransmission of a layer 0 packet maps through the mapping before.
    assert_eq!(
        track.map(1, 0, 501, 93_000),
        Some((11, 4000, Mapping::Previous))
    );
    assert_eq!(
        track.map(1, 2, 40_001, 3007),
        Some((13, 9970, Mapping::Current))
    );
    assert_eq!(track.map(1, 1, 40_001, 3007), None, "a layer never sent");
    // Back to an older source: stale.
    assert_eq!(track.rewrite(0, 0, 502, 0, VIDEO, start + ms(100)), None);
}

#[test]
fn maps_a_forwarded_packet_again_without_moving_the_track() {
    let start = Instant::now();
    let mut track = TrackRewriter::new(65_535, 1000);
    assert_eq!(track.map(1, 0, 10, 0), None, "nothing forwarded yet");
    put(&mut track, 1, 10, 500, VIDEO, start).unwrap();
    put(&mut track, 1, 12, 3500, VIDEO, start + ms(33)).unwrap();
    assert_eq!(track.map(1, 0, 11, 500), Some((0, 1000, Mapping::Current)));
    assert_eq!(
        track.map(1, 0, 9, 0),
        None,
        "before the source's first packet"
    );
    assert_eq!(track.map(2, 0, 11, 500), None, "another source");
    assert_eq!(track.last_output(), Some((1, 4000)));
}

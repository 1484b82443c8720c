//! A viewer's header rewrite: the publisher's packet written out with the viewer's SSRC,
//! payload type, sequence number, timestamp and extension IDs (`ViewerEgress::write`, payload
//! copy included), and the sequence/timestamp mapping on its own (`TrackRewriter::rewrite`).

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use shardcast_control::{Codec, CodecName, Extension, MediaKind, MediaSection};
use shardcast_proto::egress::rewrite::TrackRewriter;
use shardcast_proto::egress::{EgressOutcome, ViewerEgress};
use shardcast_proto::media::{MediaOrigin, MediaPacket, PacketLayout};
use shardcast_proto::rtp::extension::{ABS_CAPTURE_TIME_URI, AUDIO_LEVEL_URI, MID_URI};
use shardcast_proto::rtp::{ExtensionKind, ExtensionMap, RtpHeader, RtpPacket, write_rtp};

/// Extension IDs on the publisher's side; the viewer's differ, so every ID is remapped.
const PUBLISHER_EXTENSIONS: [(u8, &str); 3] = [
    (1, MID_URI),
    (2, ABS_CAPTURE_TIME_URI),
    (3, AUDIO_LEVEL_URI),
];
const VIEWER_EXTENSIONS: [(u8, &str); 3] = [
    (4, MID_URI),
    (7, ABS_CAPTURE_TIME_URI),
    (9, AUDIO_LEVEL_URI),
];

fn extensions(ids: &[(u8, &str)]) -> Vec<Extension> {
    ids.iter()
        .map(|&(id, uri)| Extension {
            id,
            uri: uri.into(),
        })
        .collect()
}

/// The viewer's audio (mid 0, Opus 111) and video (mid 1, VP8 100) sections.
fn viewer_sections() -> Vec<MediaSection> {
    [
        ("0", MediaKind::Audio, CodecName::Opus, 111, 48_000),
        ("1", MediaKind::Video, CodecName::Vp8, 100, 90_000),
    ]
    .into_iter()
    .map(|(mid, kind, name, payload_type, clock_rate)| MediaSection {
        mid: mid.into(),
        kind,
        codecs: vec![Codec {
            payload_type,
            name,
            clock_rate,
            channels: (kind == MediaKind::Audio).then_some(2),
            fmtp: String::new(),
            rtx_payload_type: None,
            feedback: vec!["nack".into()],
        }],
        extensions: extensions(&VIEWER_EXTENSIONS),
        ssrcs: vec![],
        rtx_pairs: vec![],
        simulcast: Vec::new(),
    })
    .collect()
}

/// The publisher's decrypted packet as ingress hands it over: mid, capture time and (audio)
/// level extensions, `payload_len` bytes of payload.
fn publisher_packet(kind: MediaKind, payload_len: usize, now: Instant) -> MediaPacket {
    let (codec, payload_type, clock_rate) = match kind {
        MediaKind::Audio => (CodecName::Opus, 111, 48_000),
        MediaKind::Video => (CodecName::Vp8, 96, 90_000),
    };
    let header = RtpHeader {
        marker: true,
        payload_type,
        sequence_number: 1000,
        timestamp: 3000,
        ssrc: 0x1111,
    };
    let capture_time = [1, 2, 3, 4, 5, 6, 7, 8];
    let mut elements: Vec<(u8, &[u8])> = vec![(1, b"1"), (2, &capture_time)];
    if kind == MediaKind::Audio {
        elements.push((3, &[0x85]));
    }
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    let mut data = vec![0; 1500];
    let len = write_rtp(&mut data, &header, &elements, &payload).expect("fits");
    data.truncate(len);
    let map = ExtensionMap::new(&extensions(&PUBLISHER_EXTENSIONS));
    let rtp = RtpPacket::parse(&data).expect("a valid packet");
    // Ingress forwards what it knows except mid, which egress writes per viewer.
    let layout = PacketLayout::of(&rtp, |id| {
        map.kind_of(id).filter(|kind| *kind != ExtensionKind::Mid)
    });
    let origin = MediaOrigin {
        source: 1,
        kind,
        codec,
        clock_rate,
        keyframe: true,
        arrival: now,
        layer: 0,
        layers: shardcast_proto::layers::LayerRates::default(),
    };
    MediaPacket::new(origin, layout, data)
}

fn viewer_egress_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("egress_viewer_write");
    let now = Instant::now();
    for (name, kind, payload_len) in [
        ("video_1200B", MediaKind::Video, 1200),
        ("audio_100B", MediaKind::Audio, 100),
    ] {
        let mut packet = publisher_packet(kind, payload_len, now);
        let mut egress = ViewerEgress::new(&viewer_sections(), &[0xa0, 0xb0], 500, 7000);
        let mut out = Vec::with_capacity(1500);
        let first = egress.write(now, &packet, &mut out);
        assert!(matches!(first, EgressOutcome::Written(_)), "{first:?}");
        group.throughput(Throughput::Bytes(payload_len as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let layout = &mut packet.layout;
                layout.sequence_number = layout.sequence_number.wrapping_add(1);
                layout.timestamp = layout.timestamp.wrapping_add(3000);
                out.clear();
                egress.write(now, black_box(&packet), &mut out)
            });
        });
    }
    group.finish();
}

fn track_rewriter(c: &mut Criterion) {
    let now = Instant::now();
    let mut rewriter = TrackRewriter::new(500, 7000);
    let (mut seq, mut ts) = (1000u16, 3000u32);
    c.bench_function("egress_track_rewriter/seq_ts", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(3000);
            rewriter.rewrite(1, 0, black_box(seq), black_box(ts), 90_000, now)
        });
    });
}

criterion_group!(benches, viewer_egress_write, track_rewriter);
criterion_main!(benches);

//! One publisher packet fanned out by a shard's core to N connected viewers: the SRTP decrypt
//! of the publisher's packet, then, per viewer, `poll_transmit_into` (header rewrite and SRTP
//! encrypt straight into the send buffer), as the runtime drains it. One iteration is one
//! publisher packet; the throughput is in viewer-packets, so the time per viewer is the
//! iteration time divided by N.
//!
//! The viewers are the shard tests' simulated peers (feature `bench-support`), connected with
//! real ICE and DTLS before anything is timed; dimpl on both ends agrees on AES-256-GCM. Nothing is sent anywhere: datagrams stay in the
//! buffer, so this is the core's CPU cost without the kernel's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use shardcast_control::Role;
use shardcast_proto::rtp::RtpHeader;
use shardcast_proto::shard::sim_net::{Net, poll_past_yields, vp8};
use shardcast_proto::shard::sim_peer::SimPeer;
use shardcast_proto::shard::{RunLimits, ShardCore};

/// The engine binary's allocator: where sessions, tracks and keys land is part of what a
/// viewer costs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VIEWER_COUNTS: [usize; 4] = [1, 10, 100, 1000];

/// Publisher packets protected ahead of each timed run (outside the timing).
const CHUNK: u64 = 256;

/// The time between two publisher packets as the shard sees it. The bench fires no timers;
/// a small step keeps millions of packets within seconds of simulated time all the same.
const PACKET_SPACING: Duration = Duration::from_micros(1);

#[derive(Clone, Copy)]
enum Kind {
    /// 1200 bytes of VP8 payload on the video track (mid 1).
    Video,
    /// 100 bytes of Opus payload on the audio track (mid 0).
    Audio,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Video => "video_1200B",
            Kind::Audio => "audio_100B",
        }
    }
}

/// One shard with a publisher (peer 0) and `viewers` connected viewers that have all had a
/// keyframe, so every later packet reaches every one of them.
fn watched_shard(viewers: usize) -> Net {
    let mut net = Net::new(1);
    net.join(Role::Publish, "s", "publisher");
    for i in 0..viewers {
        net.join(Role::Play, "s", &format!("v{i}"));
    }
    net.run_until(Duration::from_secs(60), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.receive_video(0, 0, 0, true);
    net.settle();
    net
}

/// The publisher's next SRTP packets of `kind`, numbered on from `*seq`.
fn publisher_packets(net: &mut Net, kind: Kind, seq: &mut u16, count: u64) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            *seq = seq.wrapping_add(1);
            let (payload_type, timestamp, ssrc, mid, payload) = match kind {
                Kind::Video => {
                    let mut payload = vp8(false, *seq as u8);
                    payload.resize(1200, 0x5a);
                    (96, u32::from(*seq) * 3000, 0x1111, "1", payload)
                }
                Kind::Audio => (111, u32::from(*seq) * 960, 0x2222, "0", vec![0xfc; 100]),
            };
            let header = RtpHeader {
                marker: true,
                payload_type,
                sequence_number: *seq,
                timestamp,
                ssrc,
            };
            net.peers[0].send_rtp(&header, mid, &payload)
        })
        .collect()
}

/// Hands each packet to the shard and drains every datagram, as the runtime does; returns
/// how many went out.
fn forward(
    shard: &mut ShardCore,
    publisher: SocketAddr,
    now: &mut Instant,
    packets: &[Vec<u8>],
    out: &mut Vec<u8>,
) -> u64 {
    let mut datagrams = 0;
    for packet in packets {
        *now += PACKET_SPACING;
        shard.handle_receive(*now, publisher, None, packet);
        while poll_past_yields(shard, out, RunLimits::SINGLE).is_some() {
            datagrams += 1;
        }
    }
    datagrams
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout_per_publisher_packet");
    for viewers in VIEWER_COUNTS {
        let mut net = watched_shard(viewers);
        let publisher = net.peers[0].address;
        let mut now = net.now;
        let mut out = Vec::with_capacity(1500);
        let mut seqs = [0u16, 0u16];
        group.throughput(Throughput::Elements(viewers as u64));
        for kind in [Kind::Video, Kind::Audio] {
            let seq = &mut seqs[kind as usize];
            group.bench_function(BenchmarkId::new(kind.name(), viewers), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let chunk = left.min(CHUNK);
                        let packets = publisher_packets(&mut net, kind, seq, chunk);
                        let start = Instant::now();
                        let sent =
                            forward(&mut net.shards[0], publisher, &mut now, &packets, &mut out);
                        timed += start.elapsed();
                        assert_eq!(sent, chunk * viewers as u64, "a viewer missed a packet");
                        left -= chunk;
                    }
                    timed
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);

//! Runs: a viewer's queued packets written back to back for one UDP GSO send. Every run is
//! checked against what the kernel would make of it (every datagram but the last exactly
//! the segment size, the last at most that) and split the way the kernel would split it
//! before the viewers see it.

use std::net::SocketAddr;

use shardcast_control::{Role, SessionAnswer};

use super::fanout_tests::{delete, watched_shard};
use super::fanout_write::RunShape;
use super::sim_net::{Net, poll_past_yields, vp8};
use super::{RunLimits, TransmitMeta};
use crate::rtp::RtpHeader;

/// The runtime's limits: 8 datagrams, 12,000 bytes.
const GSO: RunLimits = RunLimits {
    segments: 8,
    bytes: 12_000,
};

/// The publisher (peer 0) sends a video packet with `payload_len` bytes of payload and these
/// header extensions besides its MID; the shard takes it in and writes nothing yet.
fn receive_video_with(net: &mut Net, seq: u16, payload_len: usize, extra: &[(u8, &[u8])]) {
    let header = RtpHeader {
        marker: false,
        payload_type: 96,
        sequence_number: seq,
        timestamp: 3_000,
        ssrc: 0x1111,
    };
    let mut payload = vp8(false, seq as u8);
    payload.resize(payload_len, seq as u8);
    let mut extensions = vec![(4, &b"1"[..])];
    extensions.extend_from_slice(extra);
    let now = net.now;
    let publisher = &mut net.peers[0];
    let datagram = publisher.send_rtp_with_extensions(&header, &extensions, &payload);
    let address = publisher.address;
    net.shards[0].handle_receive(now, address, None, &datagram);
}

fn receive_video(net: &mut Net, seq: u16, payload_len: usize) {
    receive_video_with(net, seq, payload_len, &[]);
}

fn receive_audio(net: &mut Net, seq: u16) {
    let header = RtpHeader {
        marker: false,
        payload_type: 111,
        sequence_number: seq,
        timestamp: u32::from(seq) * 960,
        ssrc: 0x2222,
    };
    let now = net.now;
    let publisher = &mut net.peers[0];
    let datagram = publisher.send_rtp(&header, "0", &[0xfc, seq as u8]);
    let address = publisher.address;
    net.shards[0].handle_receive(now, address, None, &datagram);
}

/// One poll's output: where it went and the sizes of its datagrams.
#[derive(Debug)]
struct Sent {
    destination: SocketAddr,
    sizes: Vec<usize>,
}

/// Takes one run from shard 0, checks it against `limits` and the segment rule, and hands
/// each of its datagrams to the peer it is for.
fn deliver_run(net: &mut Net, limits: RunLimits, buffer: &mut Vec<u8>) -> Option<Sent> {
    let TransmitMeta {
        destination,
        segment_size,
        ..
    } = poll_past_yields(&mut net.shards[0], buffer, limits)?;
    let datagrams: Vec<&[u8]> = match segment_size {
        Some(size) => {
            let size = usize::from(size);
            let datagrams: Vec<_> = buffer.chunks(size).collect();
            let (last, rest) = datagrams.split_last().unwrap();
            assert!(!rest.is_empty(), "a run of one is sent as a plain datagram");
            assert!(rest.iter().all(|d| d.len() == size) && last.len() <= size);
            assert!(datagrams.len() <= limits.segments);
            assert!(buffer.len() <= limits.bytes);
            datagrams
        }
        None => vec![&buffer[..]],
    };
    let sizes = datagrams.iter().map(|d| d.len()).collect();
    let now = net.now;
    let mut peer = net.peers.iter_mut().find(|p| p.address == destination);
    for datagram in datagrams {
        if let Some(peer) = peer.as_deref_mut() {
            peer.handle_receive(now, datagram);
        }
    }
    Some(Sent { destination, sizes })
}

/// Delivers runs until shard 0 has nothing left.
fn drain_runs(net: &mut Net, limits: RunLimits) -> Vec<Sent> {
    let mut buffer = Vec::with_capacity(limits.bytes.min(65_536));
    std::iter::from_fn(|| deliver_run(net, limits, &mut buffer)).collect()
}

/// The runs that went to `peer`, as datagram sizes.
fn runs_to(net: &Net, sent: &[Sent], peer: usize) -> Vec<Vec<usize>> {
    let address = net.peers[peer].address;
    sent.iter()
        .filter(|s| s.destination == address)
        .map(|s| s.sizes.clone())
        .collect()
}

/// Asserts `peer` received the keyframe and then `count` more video packets, each once, in
/// order.
fn assert_video(net: &Net, peer: usize, answer: &SessionAnswer, count: usize) {
    let seqs = net.video_received(peer, answer);
    assert_eq!(seqs.len(), count + 1, "peer {peer}: {seqs:?}");
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0].wrapping_add(1), "peer {peer}: {seqs:?}");
    }
}

#[test]
fn a_frame_goes_to_each_viewer_as_runs_within_the_limits() {
    let half_run = RunLimits {
        segments: 8,
        bytes: 2_500,
    };
    let two = RunLimits {
        segments: 2,
        bytes: 12_000,
    };
    for (limits, expected) in [
        (GSO, vec![5]),
        (two, vec![2, 2, 1]),
        (half_run, vec![2, 2, 1]),
    ] {
        let (mut net, viewers) = watched_shard(4);
        for seq in 1..=5 {
            receive_video(&mut net, seq, 1_000);
        }
        let sent = drain_runs(&mut net, limits);
        assert_eq!(sent.len(), 4 * expected.len(), "{limits:?}: {sent:?}");
        for (peer, answer) in &viewers {
            let runs = runs_to(&net, &sent, *peer);
            let counts: Vec<_> = runs.iter().map(Vec::len).collect();
            assert_eq!(counts, expected, "{limits:?}");
            // Equal packets, equal datagrams: every run is cut at the same size.
            let size = runs[0][0];
            assert!(runs.iter().flatten().all(|&s| s == size), "{runs:?}");
            assert_video(&net, *peer, answer, 5);
        }
        assert!(!net.shards[0].has_pending_transmits());
    }
}

#[test]
fn a_longer_packet_starts_a_new_run_and_a_shorter_one_ends_its_run() {
    let (mut net, viewers) = watched_shard(3);
    for (seq, payload) in [
        (1, 1_000),
        (2, 1_000),
        (3, 1_200),
        (4, 1_200),
        (5, 500),
        (6, 500),
    ] {
        receive_video(&mut net, seq, payload);
    }
    let sent = drain_runs(&mut net, GSO);
    for (peer, answer) in &viewers {
        let runs = runs_to(&net, &sent, *peer);
        let shape: Vec<Vec<bool>> = runs
            .iter()
            .map(|run| run.iter().map(|&size| size == run[0]).collect())
            .collect();
        // [1 2], then [3 4 5] with 5 shorter, then [6].
        assert_eq!(
            shape,
            [vec![true, true], vec![true, true, false], vec![true]],
            "{runs:?}"
        );
        assert!(runs[1][0] > runs[0][0] && runs[1][2] < runs[1][0]);
        assert_video(&net, *peer, answer, 6);
    }
}

/// A publisher's mix: frames of uneven packets, audio in between.
fn mixed_traffic(net: &mut Net) {
    let mut seq = 1;
    for (frame, sizes) in [
        vec![1_100, 1_100, 1_100, 700],
        vec![900, 900],
        vec![1_000; 12],
        vec![300],
        vec![1_150, 1_151, 1_151, 1_150],
    ]
    .into_iter()
    .enumerate()
    {
        for size in sizes {
            receive_video(net, seq, size);
            seq += 1;
        }
        receive_audio(net, frame as u16 + 1);
    }
}

#[test]
fn runs_deliver_exactly_what_single_datagrams_deliver() {
    let (mut by_runs, viewers) = watched_shard(5);
    let (mut singly, _) = watched_shard(5);
    mixed_traffic(&mut by_runs);
    mixed_traffic(&mut singly);
    let sent = drain_runs(&mut by_runs, GSO);
    singly.settle();

    assert!(sent.iter().any(|s| s.sizes.len() > 2), "runs were formed");
    for (peer, answer) in &viewers {
        assert_eq!(
            by_runs.peers[*peer].received, singly.peers[*peer].received,
            "viewer {peer}"
        );
        assert_video(&by_runs, *peer, answer, 23);
        let audio = by_runs.peers[*peer].received.len() - 24;
        assert_eq!(audio, 5, "viewer {peer}");
    }
}

#[test]
fn viewers_leaving_and_joining_mid_run_neither_miss_nor_repeat_a_packet() {
    let (mut net, viewers) = watched_shard(6);
    for seq in 1..=12 {
        receive_video(&mut net, seq, 1_000);
    }
    let mut buffer = Vec::with_capacity(12_000);
    let limits = RunLimits {
        segments: 4,
        bytes: 12_000,
    };
    // v0 gets packets 1-4, v1 and v2 too: those jobs' cursors stand at position 3, the
    // rest of the frame's at 0.
    for _ in 0..3 {
        deliver_run(&mut net, limits, &mut buffer).unwrap();
    }
    delete(&mut net, "v1");
    delete(&mut net, "v3");
    // A viewer that is not connected yet joins the list; the jobs pass it over.
    net.join(Role::Play, "s", "late");
    deliver_run(&mut net, limits, &mut buffer).unwrap();
    delete(&mut net, "v0");
    drain_runs(&mut net, limits);

    for (i, (peer, answer)) in viewers.iter().enumerate() {
        let seqs = net.video_received(*peer, answer);
        match i {
            2 | 4 | 5 => assert_video(&net, *peer, answer, 12),
            // v0 and v1 left after 1-4, v3 before any: in order, never twice.
            _ => {
                assert!(seqs.len() <= 9, "v{i}: {seqs:?}");
                for pair in seqs.windows(2) {
                    assert_eq!(pair[1], pair[0].wrapping_add(1), "v{i}: {seqs:?}");
                }
            }
        }
    }
    assert!(net.peers.last().unwrap().received.is_empty());
}

#[test]
fn a_copy_longer_than_its_run_allows_waits_and_goes_out_next_on_its_own() {
    let (mut net, viewers) = watched_shard(3);
    // Packet 1 arrives longer than packet 2, but part of it is an extension no viewer gets:
    // the viewer's copy of packet 2 comes out 10 bytes longer than its copy of packet 1.
    receive_video_with(&mut net, 1, 100, &[(9, &[7; 16])]);
    receive_video(&mut net, 2, 110);
    receive_video(&mut net, 3, 110);

    let mut buffer = Vec::with_capacity(12_000);
    let first = deliver_run(&mut net, GSO, &mut buffer).unwrap();
    assert_eq!(first.sizes.len(), 1, "packet 2 did not fit after packet 1");
    assert!(net.shards[0].has_pending_transmits());
    let leftover = deliver_run(&mut net, GSO, &mut buffer).unwrap();
    assert_eq!(leftover.destination, first.destination);
    // Packet 2 arrived 6 bytes shorter than packet 1, so it was padded by 6 to share its run.
    assert_eq!(leftover.sizes, [first.sizes[0] + 10 + 6]);

    drain_runs(&mut net, GSO);
    for (peer, answer) in &viewers {
        assert_video(&net, *peer, answer, 3);
    }
    assert!(!net.shards[0].has_pending_transmits());
}

#[test]
fn packets_a_byte_apart_share_one_run_padded_to_the_longest() {
    // Packetizers that split evenly put the longer packets first (ours) or last.
    for (sizes, longer_last) in [
        (vec![1_001, 1_001, 1_000, 1_000, 1_000], false),
        (vec![1_000, 1_000, 1_001], true),
    ] {
        let (mut net, viewers) = watched_shard(2);
        for (seq, &size) in (1..).zip(&sizes) {
            receive_video(&mut net, seq, size);
        }
        let sent = drain_runs(&mut net, GSO);
        for (peer, answer) in &viewers {
            let runs = runs_to(&net, &sent, *peer);
            assert_eq!(runs.len(), 1, "{sizes:?}: {runs:?}");
            let run = &runs[0];
            assert_eq!(run.len(), sizes.len());
            // Only the last datagram may be shorter, and it is not padded.
            assert!(
                run[..run.len() - 1].iter().all(|&size| size == run[0]),
                "{run:?}"
            );
            assert_eq!(run[0] - run[run.len() - 1], usize::from(!longer_last));
            assert_video(&net, *peer, answer, sizes.len());
            // Receivers drop the padding with the header: payloads arrive as sent (after the
            // keyframe the viewer started with).
            let video = answer.media[1].ssrc;
            let payloads: Vec<_> = net.peers[*peer]
                .received
                .iter()
                .filter(|p| Some(p.0) == video)
                .skip(1)
                .map(|p| p.4.len())
                .collect();
            assert_eq!(payloads, sizes, "viewer {peer}");
        }
    }
}

#[test]
fn a_run_pads_little_and_ends_at_a_much_shorter_or_longer_packet() {
    let shape = |lens: &[usize]| {
        let mut shape = RunShape::default();
        for &len in lens {
            if !shape.admit(len) {
                break;
            }
        }
        shape
    };
    // Within the padding limit: every packet but the last is padded to the longest.
    let even = shape(&[1_000, 1_001, 999, 1_001]);
    assert_eq!((even.packets, even.padded_len), (4, 1_001));
    assert_eq!(
        [
            even.padding(0, 1_000),
            even.padding(2, 999),
            even.padding(3, 1_000)
        ],
        [1, 2, 0]
    );
    // A much shorter packet is the last one taken; a much longer one is left for the next run.
    let tail = shape(&[1_000, 1_000, 300, 1_000]);
    assert_eq!((tail.packets, tail.padded_len), (3, 1_000));
    let longer = shape(&[1_000, 1_020, 1_100]);
    assert_eq!((longer.packets, longer.padded_len), (2, 1_020));
    // Growth is bounded by the shortest packet taken, so nothing is padded by more than 32.
    let creeping = shape(&[1_000, 1_030, 1_060]);
    assert_eq!((creeping.packets, creeping.padded_len), (2, 1_030));
    assert_eq!(creeping.padding(0, 1_000), 30);
}

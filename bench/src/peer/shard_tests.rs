//! A publisher and a viewer `ClientPeer` against the engine's real core, with the offers
//! negotiated and the answers written by signaling's real SDP code: the peer must
//! interoperate with what shardcast actually answers. Time is simulated in fixed steps.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shardcast_control::{MediaKind, Request, Response, Role, SessionRequest};
use shardcast_proto::clock::WallClock;
use shardcast_proto::dtls::{Certificate, DtlsConfig};
use shardcast_proto::rtp::RtpHeader;
use shardcast_proto::shard::{ShardConfig, ShardCore};
use shardcast_proto::timer::TimerProbe;
use shardcast_signaling::sdp::answer::{AnswerInput, write_answer};
use shardcast_signaling::sdp::negotiate::{Negotiated, PublisherCodecs, negotiate};
use shardcast_signaling::sdp::offer::Offer;

use super::{ClientPeer, PeerConfig, PeerEvent, VP8_PAYLOAD_TYPE};

const STEP: Duration = Duration::from_millis(10);
const SHARD: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50_000);

struct Net {
    now: Instant,
    shard: ShardCore,
    config: PeerConfig,
    peers: Vec<(SocketAddr, ClientPeer, Vec<PeerEvent>)>,
    publisher_codecs: Option<PublisherCodecs>,
}

impl Net {
    fn new() -> Self {
        let now = Instant::now();
        let certificate = Arc::new(Certificate::generate().unwrap());
        let dtls = DtlsConfig::new().unwrap();
        let shard = ShardCore::new(
            ShardConfig {
                index: 0,
                shards: 1,
                candidates: vec![SHARD],
                certificate,
                dtls: dtls.clone(),
                wall_clock: WallClock::new(now, Duration::from_secs(1_700_000_000)),
                seed: 1,
                probe_period: TimerProbe::DEFAULT_PERIOD,
                keyframe_interval: shardcast_proto::session::DEFAULT_KEYFRAME_INTERVAL,
                join_window: shardcast_proto::shard::DEFAULT_JOIN_WINDOW,
            },
            now,
        );
        let peer_certificate = Arc::new(Certificate::generate().unwrap());
        Self {
            now,
            shard,
            config: PeerConfig::new(peer_certificate, dtls),
            peers: Vec::new(),
            publisher_codecs: None,
        }
    }

    /// Runs the offer through signaling's negotiation and the shard, as a POST would.
    fn join(&mut self, role: Role, session: &str) -> usize {
        let index = self.peers.len();
        let mut peer = ClientPeer::new(role, &self.config, index as u64 + 7, self.now);
        let offer = Offer::parse(peer.offer_sdp()).unwrap();
        let negotiated = negotiate(&offer, role, self.publisher_codecs.as_ref()).unwrap();
        if role == Role::Publish {
            self.publisher_codecs = Some(negotiated.chosen_codecs());
        }
        let request = session_request(&negotiated, role, session);
        let Response::Session(engine) = self
            .shard
            .handle_control(self.now, Request::CreateSession(request))
        else {
            panic!("the shard refused the session");
        };
        let answer = write_answer(&AnswerInput {
            negotiated: &negotiated,
            engine: &engine,
            role,
            stream: "live",
            origin_id: 1,
        });
        peer.accept_answer(self.now, &answer).unwrap();
        let address = SocketAddr::from(([10, 0, 0, 1 + index as u8], 40_000));
        self.peers.push((address, peer, Vec::new()));
        index
    }

    fn step(&mut self) {
        for (address, peer, events) in &mut self.peers {
            if peer.poll_timeout().is_some_and(|at| at <= self.now) {
                peer.handle_timeout(self.now);
            }
            while let Some((destination, datagram)) = peer.poll_transmit() {
                assert_eq!(destination, SHARD);
                self.shard
                    .handle_receive(self.now, *address, None, &datagram);
            }
            events.extend(std::iter::from_fn(|| peer.poll_event()));
        }
        self.now += STEP;
        if self.shard.poll_timeout().is_some_and(|at| at <= self.now) {
            self.shard.handle_timeout(self.now);
        }
        let mut datagram = Vec::with_capacity(1500);
        while let Some(meta) = self.shard.poll_transmit_into(&mut datagram) {
            if let Some((_, peer, events)) = self
                .peers
                .iter_mut()
                .find(|(address, ..)| *address == meta.destination)
            {
                peer.handle_receive(self.now, SHARD, &datagram);
                events.extend(std::iter::from_fn(|| peer.poll_event()));
            }
        }
    }

    fn run_until(&mut self, limit: Duration, done: impl Fn(&Net) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(self.now < end, "not reached within {limit:?}");
            self.step();
        }
    }

    fn events(&self, peer: usize) -> &[PeerEvent] {
        &self.peers[peer].2
    }

    fn send_video(&mut self, publisher: usize, seq: u16, keyframe: bool) {
        let ssrc = self.peers[publisher].1.local().video_ssrc;
        let header = RtpHeader {
            marker: true,
            payload_type: VP8_PAYLOAD_TYPE,
            sequence_number: seq,
            timestamp: u32::from(seq) * 3000,
            ssrc,
        };
        let capture = 0x1234_5678_0000_0000 + u64::from(seq);
        let peer = &mut self.peers[publisher].1;
        peer.send_rtp(&header, &vp8_frame(keyframe, seq), Some(capture))
            .unwrap();
        self.step();
    }
}

fn session_request(negotiated: &Negotiated, role: Role, session: &str) -> SessionRequest {
    SessionRequest {
        session: session.into(),
        role,
        stream: "live".into(),
        remote_ufrag: negotiated.remote_ufrag.clone(),
        remote_pwd: negotiated.remote_pwd.clone(),
        remote_fingerprint: negotiated.remote_fingerprint.clone(),
        dtls_role: negotiated.dtls_role,
        media: negotiated.media_sections(),
        layer: None,
    }
}

/// A VP8 payload descriptor (start of partition 0) and a frame tag whose P bit says key or
/// delta, then filler up to 100 bytes.
fn vp8_frame(keyframe: bool, seq: u16) -> Vec<u8> {
    let tag = if keyframe { 0x50 } else { 0x51 };
    let mut payload = vec![
        0x10, tag, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01,
    ];
    payload.resize(100, seq as u8);
    payload
}

fn video_packets(events: &[PeerEvent]) -> Vec<&PeerEvent> {
    events
        .iter()
        .filter(|e| matches!(e, PeerEvent::Rtp { payload_type, .. } if *payload_type == VP8_PAYLOAD_TYPE))
        .collect()
}

fn connected_pair() -> (Net, usize, usize) {
    let mut net = Net::new();
    let publisher = net.join(Role::Publish, "publisher");
    let viewer = net.join(Role::Play, "viewer");
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(|(_, peer, _)| peer.is_connected())
    });
    (net, publisher, viewer)
}

#[test]
fn both_connect_and_the_viewer_receives_the_publishers_video() {
    let (mut net, publisher, viewer) = connected_pair();
    for index in [publisher, viewer] {
        let events = net.events(index);
        assert!(
            matches!(events.first(), Some(PeerEvent::IceConnected { remote }) if *remote == SHARD)
        );
        assert!(events.contains(&PeerEvent::Connected));
    }
    for seq in 500..505 {
        net.send_video(publisher, seq, seq == 500);
    }
    net.run_until(Duration::from_secs(1), |net| {
        video_packets(net.events(viewer)).len() >= 5
    });
    let announced = net.peers[viewer]
        .1
        .remote()
        .and_then(|r| r.section(MediaKind::Video))
        .and_then(|s| s.ssrcs.first().copied())
        .unwrap();
    let received = video_packets(net.events(viewer));
    let mut previous_seq = None;
    for (index, event) in received.iter().enumerate() {
        let PeerEvent::Rtp {
            ssrc,
            seq,
            marker,
            payload_len,
            keyframe_start,
            abs_capture_time,
            retransmission,
            verified,
            ..
        } = event
        else {
            unreachable!()
        };
        assert_eq!(*ssrc, announced);
        assert!(*marker && *verified && !*retransmission);
        assert_eq!(*payload_len, 100);
        assert_eq!(*keyframe_start, index == 0);
        assert_eq!(abs_capture_time.map(|t| t >> 32), Some(0x1234_5678));
        if let Some(previous) = previous_seq {
            assert_eq!(*seq, u16::wrapping_add(previous, 1));
        }
        previous_seq = Some(*seq);
    }
    assert_eq!(net.peers[viewer].1.counters().undecryptable_packets, 0);
}

#[test]
fn a_viewer_pli_reaches_the_publisher_as_a_keyframe_request() {
    let (mut net, publisher, viewer) = connected_pair();
    net.send_video(publisher, 1, true);
    net.run_until(Duration::from_secs(1), |net| {
        !video_packets(net.events(viewer)).is_empty()
    });
    let &PeerEvent::Rtp { ssrc, .. } = video_packets(net.events(viewer))[0] else {
        unreachable!()
    };
    net.peers[viewer].1.send_pli(ssrc).unwrap();
    let expected = PeerEvent::KeyframeRequest {
        media_ssrc: net.peers[publisher].1.local().video_ssrc,
    };
    net.run_until(Duration::from_secs(2), |net| {
        net.events(publisher).contains(&expected)
    });
}

#[test]
fn lite_viewer_reads_every_sequence_number_and_verifies_some() {
    let mut net = Net::new();
    net.config.lite = std::num::NonZeroU32::new(4);
    let publisher = net.join(Role::Publish, "publisher");
    let viewer = net.join(Role::Play, "viewer");
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(|(_, peer, _)| peer.is_connected())
    });
    let ssrc = net.peers[publisher].1.local().video_ssrc;
    // Twelve packets of one frame: only a frame start and every fourth packet are decrypted.
    for seq in 0..12u16 {
        let header = RtpHeader {
            marker: seq == 11,
            payload_type: VP8_PAYLOAD_TYPE,
            sequence_number: 2000 + seq,
            timestamp: 90_000,
            ssrc,
        };
        let peer = &mut net.peers[publisher].1;
        peer.send_rtp(&header, &vp8_frame(seq == 0, seq), None)
            .unwrap();
        net.step();
    }
    net.run_until(Duration::from_secs(1), |net| {
        video_packets(net.events(viewer)).len() >= 12
    });
    let received = video_packets(net.events(viewer));
    let verified = received
        .iter()
        .filter(|e| matches!(e, PeerEvent::Rtp { verified: true, .. }))
        .count();
    assert!((1..12).contains(&verified), "{verified} of 12 verified");
    for event in &received {
        assert!(
            matches!(
                event,
                PeerEvent::Rtp {
                    payload_len: 100,
                    ..
                }
            ),
            "{event:?}"
        );
    }
    assert_eq!(net.peers[viewer].1.counters().undecryptable_packets, 0);
}

#[test]
fn a_viewers_nack_comes_back_in_rtx_and_the_client_unwraps_it() {
    let (mut net, publisher, viewer) = connected_pair();
    for seq in 700..705 {
        net.send_video(publisher, seq, seq == 700);
    }
    let &PeerEvent::Rtp { ssrc, seq, .. } = video_packets(net.events(viewer))[2] else {
        unreachable!()
    };
    net.peers[viewer].1.send_nack(ssrc, &[seq]).unwrap();
    net.run_until(Duration::from_secs(1), |net| {
        video_packets(net.events(viewer)).len() > 5
    });
    let resent = video_packets(net.events(viewer))[5];
    assert!(
        matches!(
            resent,
            PeerEvent::Rtp { ssrc: s, seq: q, payload_len: 100, retransmission: true, .. }
                if *s == ssrc && *q == seq
        ),
        "{resent:?}"
    );
    assert_eq!(net.peers[viewer].1.counters().undecryptable_packets, 0);
}

#[test]
fn the_shard_nacks_the_publisher_and_forwards_the_answer_late() {
    let (mut net, publisher, viewer) = connected_pair();
    for seq in [800, 801, 803, 804] {
        net.send_video(publisher, seq, seq == 800);
    }
    let media_ssrc = net.peers[publisher].1.local().video_ssrc;
    let asked = PeerEvent::Nack {
        media_ssrc,
        lost: vec![802],
    };
    net.run_until(Duration::from_secs(1), |net| {
        net.events(publisher).contains(&asked)
    });
    net.send_video(publisher, 802, false);
    let seqs: Vec<u16> = video_packets(net.events(viewer))
        .iter()
        .map(|event| match event {
            PeerEvent::Rtp { seq, .. } => *seq,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(seqs.len(), 5, "{seqs:?}");
    let first = seqs[0];
    let offsets: Vec<u16> = seqs.iter().map(|s| s.wrapping_sub(first)).collect();
    assert_eq!(
        offsets,
        [0, 1, 3, 4, 2],
        "the repair keeps its place in the numbering"
    );
}

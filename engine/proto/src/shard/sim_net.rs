//! Shards, sessions and peers on a simulated network: time advances in fixed steps, nothing
//! touches the OS. Datagrams are delivered at once and in order, unless a peer's path is
//! impaired ([`Net::impair`]): then each direction delays, reorders and loses them as its
//! seeded [`Link`] draws. Cross-shard messages are always delivered at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shardcast_control::{
    MediaKind, MediaSection, Request, Response, Role, SessionAnswer, shard_for,
};

use super::sim_link::{Impairment, Link};
use super::sim_peer::{SimPeer, sections};
use super::{RunLimits, ShardConfig, ShardCore, TransmitMeta};
use crate::clock::WallClock;
use crate::dtls::{Certificate, DtlsConfig};
use crate::rtp::RtpHeader;
use crate::timer::TimerProbe;

const STEP: Duration = Duration::from_millis(10);

/// A datagram on an impaired path: (arrival, send order, destination, datagram).
type InFlight = Reverse<(Instant, u64, Endpoint, Vec<u8>)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    /// To a shard, from a peer.
    Shard {
        shard: usize,
        peer: usize,
    },
    Peer(usize),
}

pub struct Net {
    pub now: Instant,
    pub shards: Vec<ShardCore>,
    pub peers: Vec<SimPeer>,
    /// How far time moves per [`Net::step`]: 10 ms, finer for tests of pacing.
    pub step_size: Duration,
    /// Where shards write each datagram, reused as the runtime reuses its send buffers.
    buffer: Vec<u8>,
    /// Per peer, when impaired: its path to its shard, and back.
    links: Vec<Option<(Link, Link)>>,
    in_flight: BinaryHeap<InFlight>,
    sent: u64,
}

fn shard_address(index: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50_000 + index as u16))
}

impl Net {
    pub fn new(shard_count: usize) -> Self {
        Self::with_join_window(shard_count, Duration::ZERO)
    }

    /// Shards whose viewers start from a keyframe that arrived up to `join_window` before
    /// they connected (see `recent_start`); [`Net::new`] has them always ask.
    pub fn with_join_window(shard_count: usize, join_window: Duration) -> Self {
        let now = Instant::now();
        let certificate = Arc::new(Certificate::generate().unwrap());
        let dtls = DtlsConfig::new().unwrap();
        let shards = (0..shard_count)
            .map(|index| {
                let config = ShardConfig {
                    index,
                    shards: shard_count,
                    candidates: vec![shard_address(index)],
                    certificate: certificate.clone(),
                    dtls: dtls.clone(),
                    wall_clock: WallClock::new(now, Duration::from_secs(1_700_000_000)),
                    seed: index as u64,
                    probe_period: TimerProbe::DEFAULT_PERIOD,
                    keyframe_interval: crate::session::DEFAULT_KEYFRAME_INTERVAL,
                    join_window,
                };
                ShardCore::new(config, now)
            })
            .collect();
        Self {
            now,
            shards,
            peers: Vec::new(),
            step_size: STEP,
            buffer: Vec::with_capacity(1500),
            links: Vec::new(),
            in_flight: BinaryHeap::new(),
            sent: 0,
        }
    }

    /// Adds a peer through its shard's control request; returns its index and the answer.
    pub fn join(&mut self, role: Role, stream: &str, session: &str) -> (usize, SessionAnswer) {
        let media = sections(&[("0", MediaKind::Audio), ("1", MediaKind::Video)]);
        self.join_with(role, stream, session, media)
    }

    /// [`Net::join`] with the media sections of the peer's offer.
    pub fn join_with(
        &mut self,
        role: Role,
        stream: &str,
        session: &str,
        media: Vec<MediaSection>,
    ) -> (usize, SessionAnswer) {
        let index = self.peers.len();
        // Counted up from 10.0.0.1, so more than 254 peers keep distinct addresses.
        let address = SocketAddr::from((Ipv4Addr::from(0x0a00_0001 + index as u32), 40_000));
        let (mut peer, request) =
            SimPeer::new(address, role, stream, session, media, index as u8, self.now);
        let shard = match role {
            Role::Publish => shard_for(stream, self.shards.len()),
            Role::Play => shard_for(session, self.shards.len()),
        };
        let response = self.shards[shard].handle_control(self.now, Request::CreateSession(request));
        let Response::Session(answer) = response else {
            panic!("session refused: {response:?}");
        };
        peer.accept_answer(&answer, self.now);
        self.peers.push(peer);
        self.links.push(None);
        (index, answer)
    }

    /// From now on the path of `peer` to its shard is `up` and back `down`, drawn from
    /// generators seeded by `seed`.
    pub fn impair(&mut self, peer: usize, up: Impairment, down: Impairment, seed: u64) {
        self.links[peer] = Some((Link::new(up, seed * 2), Link::new(down, seed * 2 + 1)));
    }

    /// Delivers everything due, then advances time by one step.
    pub fn step(&mut self) {
        let now = self.now;
        for peer in 0..self.peers.len() {
            for (destination, datagram) in self.peers[peer].poll_transmit(now) {
                self.send_to_shard(peer, destination, datagram);
            }
        }
        self.settle();
        self.now += self.step_size;
        for shard in &mut self.shards {
            if shard.poll_timeout().is_some_and(|at| at <= self.now) {
                shard.handle_timeout(self.now);
            }
        }
        self.settle();
        #[cfg(test)]
        for (index, shard) in self.shards.iter().enumerate() {
            let behind = shard.sessions_behind_their_deadline();
            assert!(
                behind.is_empty(),
                "shard {index}: timers later than {behind:?} need"
            );
        }
    }

    /// A datagram from `peer` to the shard at `destination`, over the peer's path.
    pub fn send_to_shard(&mut self, peer: usize, destination: SocketAddr, datagram: Vec<u8>) {
        let shard = usize::from(destination.port() - 50_000);
        match self.links[peer].as_mut() {
            Some((up, _)) => {
                if let Some(at) = up.transit(self.now) {
                    self.sent += 1;
                    let endpoint = Endpoint::Shard { shard, peer };
                    self.in_flight
                        .push(Reverse((at, self.sent, endpoint, datagram)));
                }
            }
            None => {
                let address = self.peers[peer].address;
                self.shards[shard].handle_receive(self.now, address, None, &datagram);
            }
        }
    }

    /// Hands over every datagram on an impaired path that has arrived by now; true if any.
    fn deliver_arrived(&mut self) -> bool {
        let mut moved = false;
        while let Some(Reverse((at, _, _, _))) = self.in_flight.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, endpoint, datagram))) = self.in_flight.pop() else {
                break;
            };
            moved = true;
            match endpoint {
                Endpoint::Shard { shard, peer } => {
                    let address = self.peers[peer].address;
                    self.shards[shard].handle_receive(self.now, address, None, &datagram);
                }
                Endpoint::Peer(peer) => self.peers[peer].handle_receive(self.now, &datagram),
            }
        }
        moved
    }

    /// Delivers shard output until nothing moves.
    pub fn settle(&mut self) {
        loop {
            let mut moved = self.deliver_arrived();
            for from in 0..self.shards.len() {
                while self.deliver_next(from).is_some() {
                    moved = true;
                }
                while let Some((to, message)) = self.shards[from].poll_message() {
                    moved = true;
                    self.shards[to].handle_message(self.now, from, message);
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Takes the next datagram from shard `from` and sends it to the peer it is for.
    pub fn deliver_next(&mut self, from: usize) -> Option<TransmitMeta> {
        let meta = poll_past_yields(&mut self.shards[from], &mut self.buffer, RunLimits::SINGLE)?;
        let Some(index) = self
            .peers
            .iter()
            .position(|p| p.address == meta.destination)
        else {
            return Some(meta);
        };
        let peer = &mut self.peers[index];
        peer.observe(self.now, &self.buffer);
        match self.links[index].as_mut() {
            Some((_, down)) => {
                if let Some(at) = down.transit(self.now) {
                    self.sent += 1;
                    let datagram = self.buffer.clone();
                    self.in_flight
                        .push(Reverse((at, self.sent, Endpoint::Peer(index), datagram)));
                }
            }
            None => peer.handle_receive(self.now, &self.buffer),
        }
        Some(meta)
    }

    pub fn run_until(&mut self, limit: Duration, done: impl Fn(&Net) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(self.now < end, "condition not reached within {limit:?}");
            self.step();
        }
    }
}

/// A session id that `shard_for` puts on `shard`.
/// The shard's next datagram, or run within `limits`, past polls that yield with nothing
/// written (the runtime looks at its clock there; a simulation has no need to): `None` only
/// when all is sent.
pub fn poll_past_yields(
    shard: &mut ShardCore,
    out: &mut Vec<u8>,
    limits: RunLimits,
) -> Option<TransmitMeta> {
    loop {
        match shard.poll_transmit_run_into(out, limits) {
            Some(meta) => return Some(meta),
            None if shard.has_pending_transmits() => {}
            None => return None,
        }
    }
}

pub fn session_on(shard: usize, shards: usize, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}-{i}"))
        .find(|id| shard_for(id, shards) == shard)
        .unwrap()
}

pub fn vp8(keyframe: bool, n: u8) -> Vec<u8> {
    // Payload descriptor (S=1, partition 0), then a VP8 frame tag whose P bit says key or delta.
    let tag = if keyframe { 0x50 } else { 0x51 };
    vec![
        0x10, tag, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, n,
    ]
}

impl Net {
    /// The publisher at `peer` sends one video packet (and one audio packet) to `home`.
    pub fn publish_frame(&mut self, peer: usize, home: usize, seq: u16, keyframe: bool) {
        self.receive_video(peer, home, seq, keyframe);
        let audio = RtpHeader {
            marker: false,
            payload_type: 111,
            sequence_number: seq,
            timestamp: u32::from(seq).wrapping_mul(960),
            ssrc: 0x2222 + peer as u32,
        };
        let now = self.now;
        let publisher = &mut self.peers[peer];
        let audio = publisher.send_rtp(&audio, "0", &[0xfc, seq as u8]);
        let address = publisher.address;
        self.shards[home].handle_receive(now, address, None, &audio);
        self.step();
    }

    /// The publisher at `peer` sends one video packet to `home`, which takes it in; nothing
    /// is delivered yet.
    pub fn receive_video(&mut self, peer: usize, home: usize, seq: u16, keyframe: bool) {
        let video = RtpHeader {
            marker: true,
            payload_type: 96,
            sequence_number: seq,
            timestamp: u32::from(seq).wrapping_mul(3_000),
            ssrc: 0x1111 + peer as u32,
        };
        let now = self.now;
        let publisher = &mut self.peers[peer];
        let video = publisher.send_rtp(&video, "1", &vp8(keyframe, seq as u8));
        let address = publisher.address;
        self.shards[home].handle_receive(now, address, None, &video);
    }

    /// The publisher at `peer` sends one RTP packet over its path to its shard.
    pub fn send_media(&mut self, peer: usize, header: &RtpHeader, mid: &str, payload: &[u8]) {
        let datagram = self.peers[peer].send_rtp(header, mid, payload);
        let server = self.peers[peer].server().unwrap();
        self.send_to_shard(peer, server, datagram);
    }

    pub fn video_received(&self, peer: usize, answer: &SessionAnswer) -> Vec<u16> {
        let ssrc = answer.media[1].ssrc.unwrap();
        self.peers[peer]
            .received
            .iter()
            .filter(|p| p.0 == ssrc)
            .map(|p| p.2)
            .collect()
    }
}

//! A simulated 30 fps publisher, a seeded lossy network that answers NACKs after a round
//! trip, and one viewer's [`ReceiveLog`] that it feeds, all on simulated time.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::super::{ReceiveConfig, ReceiveLog, ReceivedPacket, ViewerStats};

pub(super) const FRAME_INTERVAL: Duration = Duration::from_micros(33_333);
pub(super) const ONE_WAY: Duration = Duration::from_millis(10);

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the network does to the stream.
#[derive(Clone, Copy)]
pub(super) struct Network {
    pub(super) seed: u64,
    pub(super) loss: f64,
    /// Answer NACKs with a retransmission one round trip later.
    pub(super) retransmit: bool,
    /// Chance that a packet is held back 5 ms, behind its successor.
    pub(super) reorder: f64,
    /// Every n-th packet is delivered twice.
    pub(super) duplicate_every: Option<u64>,
    /// One packet per frame, no keyframes, as Opus.
    pub(super) audio: bool,
    pub(super) first_sequence: u16,
    pub(super) first_timestamp: u32,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            seed: 1,
            loss: 0.0,
            retransmit: false,
            reorder: 0.0,
            duplicate_every: None,
            audio: false,
            first_sequence: 1000,
            first_timestamp: 50_000,
        }
    }
}

pub(super) struct Sim {
    pub(super) t0: Instant,
    pub(super) network: Network,
    pub(super) rng: StdRng,
    pub(super) log: ReceiveLog,
    pub(super) sent: HashMap<u16, ReceivedPacket>,
    /// Deliveries by (time, order of scheduling).
    pub(super) in_flight: BTreeMap<(Instant, u64), ReceivedPacket>,
    pub(super) scheduled: u64,
    pub(super) elapsed: Duration,
    pub(super) next_sequence: u16,
    pub(super) frames_sent: u32,
    pub(super) nacked: Vec<u16>,
    pub(super) keyframe_requests: u32,
}

impl Sim {
    pub(super) fn new(network: Network, config: ReceiveConfig) -> Self {
        Self::starting_at(Instant::now(), network, config)
    }

    /// The viewer posts its offer at `t0`, when the publisher starts.
    pub(super) fn starting_at(t0: Instant, network: Network, config: ReceiveConfig) -> Self {
        let mut log = ReceiveLog::new(config);
        log.on_join_posted(t0);
        Self {
            t0,
            network,
            rng: StdRng::seed_from_u64(network.seed),
            log,
            sent: HashMap::new(),
            in_flight: BTreeMap::new(),
            scheduled: 0,
            elapsed: Duration::ZERO,
            next_sequence: network.first_sequence,
            frames_sent: 0,
            nacked: Vec::new(),
            keyframe_requests: 0,
        }
    }

    pub(super) fn deliver_at(&mut self, at: Instant, packet: ReceivedPacket) {
        self.scheduled += 1;
        self.in_flight.insert((at, self.scheduled), packet);
    }

    /// Sends one frame: a keyframe of 8 packets every 2 s, otherwise 3 packets (audio: 1).
    pub(super) fn send_frame(&mut self, now: Instant) {
        let keyframe = self.frames_sent.is_multiple_of(60) && !self.network.audio;
        let count = match (self.network.audio, keyframe) {
            (true, _) => 1,
            (false, true) => 8,
            (false, false) => 3,
        };
        let timestamp = self
            .network
            .first_timestamp
            .wrapping_add(self.frames_sent.wrapping_mul(3000));
        for i in 0..count {
            let packet = ReceivedPacket {
                sequence_number: self.next_sequence,
                timestamp,
                marker: i == count - 1 && !self.network.audio,
                keyframe_start: keyframe && i == 0,
                payload_len: 1000,
                send_time: Some(now),
            };
            self.next_sequence = self.next_sequence.wrapping_add(1);
            self.sent.insert(packet.sequence_number, packet);
            if self.rng.random_bool(self.network.loss) {
                continue;
            }
            let held = if self.rng.random_bool(self.network.reorder) {
                ms(5)
            } else {
                Duration::ZERO
            };
            self.deliver_at(now + ONE_WAY + held, packet);
            let copies = u64::from(packet.sequence_number) + 1;
            if self
                .network
                .duplicate_every
                .is_some_and(|n| copies % n == 0)
            {
                self.deliver_at(now + ONE_WAY + ms(1), packet);
            }
        }
        self.frames_sent += 1;
    }

    /// Runs in 1 ms steps until `until` after the start; frames are sent while
    /// `sending(elapsed)` holds.
    pub(super) fn run(&mut self, until: Duration, sending: impl Fn(Duration) -> bool) {
        while self.elapsed < until {
            let elapsed = self.elapsed;
            let now = self.t0 + elapsed;
            while FRAME_INTERVAL * self.frames_sent <= elapsed && sending(elapsed) {
                self.send_frame(now);
            }
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let packet = entry.remove();
                self.log.on_packet(now, packet);
            }
            let nacks = self.log.poll_nack(now);
            if !nacks.is_empty() {
                self.log.on_nack_sent(now, nacks.len());
            }
            for sequence in nacks {
                self.nacked.push(sequence);
                if let Some(&packet) = self.sent.get(&sequence).filter(|_| self.network.retransmit)
                {
                    self.deliver_at(now + 2 * ONE_WAY, packet);
                }
            }
            if self.log.needs_keyframe(now) {
                self.log.on_pli_sent(now);
                self.keyframe_requests += 1;
            }
            self.elapsed += ms(1);
        }
    }

    pub(super) fn stats(&self, after: Duration) -> ViewerStats {
        self.log.stats(self.t0 + after)
    }
}

pub(super) fn always(_: Duration) -> bool {
    true
}

pub(super) fn video() -> ReceiveConfig {
    ReceiveConfig::video()
}

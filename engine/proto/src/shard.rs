//! One shard's whole protocol state: its sessions, its streams and its share of the fan-out.
//!
//! The runtime owns one `ShardCore` per pinned thread and drives it:
//! datagrams in through [`ShardCore::handle_receive`], control requests through
//! [`ShardCore::handle_control`], messages from other shards through
//! [`ShardCore::handle_message`], and the clock through [`ShardCore::handle_timeout`].
//! It then drains [`ShardCore::poll_transmit_run_into`] (runs of datagrams for one UDP GSO
//! send, written into the runtime's buffers) or [`ShardCore::poll_transmit_into`] (one
//! datagram at a time), [`ShardCore::poll_message`] (messages for other shards) and sleeps no
//! later than [`ShardCore::poll_timeout`].
//!
//! Media for local viewers is written lazily: a received packet only queues a fan-out job,
//! and each poll encrypts queued packets for one viewer: the packets of one frame, as a run,
//! when the runtime can send runs. The runtime decides how many datagrams it takes per turn,
//! so one packet for a thousand viewers never holds up the shard's timers.

#[cfg(test)]
mod allocation_tests;
#[cfg(test)]
mod bandwidth_tests;
mod control;
mod fanout;
mod fanout_queue;
#[cfg(test)]
mod fanout_run_tests;
#[cfg(test)]
mod fanout_tests;
mod fanout_write;
#[cfg(test)]
mod keyframe_tests;
mod packet_pool;
mod recent_start;
#[cfg(test)]
mod recent_start_tests;
#[cfg(test)]
mod repair_tests;
mod retransmit;
#[cfg(test)]
mod retransmit_tests;
#[cfg(any(test, feature = "bench-support"))]
pub mod sim_link;
#[cfg(any(test, feature = "bench-support"))]
#[allow(clippy::unwrap_used, reason = "test scaffolding")]
pub mod sim_net;
#[cfg(any(test, feature = "bench-support"))]
#[allow(clippy::unwrap_used, reason = "test scaffolding")]
pub mod sim_peer;
#[cfg(any(test, feature = "bench-support"))]
#[allow(clippy::unwrap_used, reason = "test scaffolding")]
pub mod sim_repair;
#[cfg(test)]
mod simulcast_tests;
mod stats;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transport_feedback_tests;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::clock::WallClock;
use crate::counter_hash::CounterMap;
use crate::demux::{DatagramKind, classify};
use crate::dtls::{Certificate, DtlsConfig};
use crate::egress::LayerSwitches;
use crate::ice::local_ufrag;
use crate::repair::RepairCounters;
use crate::router::{SessionKey, ShardMessage, StreamTable};
use crate::session::Session;
use crate::timer::{DeadlineTable, TimerLateness, TimerProbe};
use fanout_queue::FanoutQueue;
use fanout_write::Leftover;
use packet_pool::PacketPool;
pub use recent_start::DEFAULT_JOIN_WINDOW;
use recent_start::RecentStart;

/// Media packets waiting for local viewers, at most. Room for a couple of large keyframes
/// (~200 packets each at 1080p) arriving faster than the shard writes them; beyond that the
/// shard is overloaded, and dropping the oldest packets keeps memory bounded (each job holds
/// one shared packet, ~1.3 KB) and latency from growing.
pub const FANOUT_QUEUE_JOBS: usize = 512;

/// Packets the RTX caches gave back that the pool keeps for reuse. Other shards' mirrors let
/// go of their copy a moment after this shard's cache does, well within this many packets;
/// a packet still in use is simply not reused.
const RECYCLED_PACKETS: usize = 64;

/// What a shard needs to know about itself.
#[derive(Clone)]
pub struct ShardConfig {
    pub index: usize,
    pub shards: usize,
    /// Host candidates: the shard's UDP port on every advertised address.
    pub candidates: Vec<SocketAddr>,
    pub certificate: Arc<Certificate>,
    pub dtls: DtlsConfig,
    /// Maps `now` to wall-clock time for RTCP sender reports.
    pub wall_clock: WallClock,
    /// Seeds ICE credentials and SSRCs; tests pass a fixed one.
    pub seed: u64,
    /// The period of the shard's timer probe ([`TimerProbe::DEFAULT_PERIOD`] unless a test
    /// or an experiment wants another).
    pub probe_period: Duration,
    /// At most one keyframe request per stream reaches its publisher in this time, however
    /// many viewers ask.
    pub keyframe_interval: Duration,
    /// A viewer connecting at most this long after a keyframe starts from it rather than
    /// asking for a new one ([`DEFAULT_JOIN_WINDOW`]); zero always asks.
    pub join_window: Duration,
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub destination: SocketAddr,
    /// The local address to send from: the one the peer's checks arrived at. On a socket
    /// bound to all addresses the kernel would otherwise pick by route, and a peer whose
    /// check went to 127.0.0.1 from another local address would see the answer come from
    /// elsewhere and discard it (ICE checks must be symmetric, RFC 8445 7.2.5.2.1).
    pub source: Option<IpAddr>,
    pub contents: Vec<u8>,
}

/// Where a datagram, or a run of them, written by [`ShardCore::poll_transmit_run_into`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransmitMeta {
    pub destination: SocketAddr,
    /// The local address to send from, as in [`Transmit::source`].
    pub source: Option<IpAddr>,
    /// `None`: the buffer is one datagram. `Some(size)`: it is several, back to back, every
    /// one but the last exactly `size` bytes and the last at most that: what one send with
    /// UDP_SEGMENT set to `size` cuts it into.
    pub segment_size: Option<u16>,
}

/// How much one run may hold: the runtime's send buffer and what its kernel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Datagrams in the run, at most (at least one is always written).
    pub segments: usize,
    /// Bytes in the run, at most, unless its first datagram alone is longer.
    pub bytes: usize,
}

impl RunLimits {
    /// One datagram per poll.
    pub const SINGLE: Self = Self {
        segments: 1,
        bytes: usize::MAX,
    };
}

/// What the shard counted (the runtime exposes these).
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardCounters {
    pub datagrams_unknown_source: u64,
    pub sessions_created: u64,
    pub sessions_closed: u64,
    pub media_packets_in: u64,
    pub remote_packets_in: u64,
    pub keyframe_requests_forwarded: u64,
    /// Media datagrams written for local viewers.
    pub media_packets_out: u64,
    /// Packets some local viewers never got because the fan-out queue was full.
    pub fanout_jobs_dropped: u64,
    /// NACKs and retransmissions, both ways.
    pub repair: RepairCounters,
    /// Transport-wide congestion control feedback packets sent to publishers.
    pub publisher_transport_feedback_sent: u64,
    /// Simulcast layer switches of viewers gone (those here count in the stats as asked).
    pub layer_switches: LayerSwitches,
    /// Viewers that started from a keyframe the shard had, without asking for one.
    pub recent_keyframe_starts: u64,
}

pub struct ShardCore {
    config: ShardConfig,
    rng: StdRng,
    /// Boxed, so the map stays small enough to stay in cache and a session's address is
    /// known without touching it (the fan-out prefetches the next viewers').
    sessions: CounterMap<SessionKey, Box<Session>>,
    by_id: HashMap<String, SessionKey>,
    by_ufrag: HashMap<String, SessionKey>,
    by_address: HashMap<SocketAddr, SessionKey>,
    streams: StreamTable,
    timers: DeadlineTable<SessionKey>,
    session_timer_lateness: TimerLateness,
    probe: TimerProbe,
    next_key: u64,
    next_source: u64,
    /// Control-plane datagrams (STUN, DTLS, RTCP): few, sent before media.
    transmits: VecDeque<Transmit>,
    fanout: FanoutQueue,
    /// A viewer's packet that did not fit the run it was written for; it goes out next.
    leftover: Leftover,
    /// Viewers whose paced retransmissions may go now, taken in turn.
    retransmit_ready: VecDeque<SessionKey>,
    /// Viewers being sent the recent packets they start from, first come first served.
    recent_starts: VecDeque<RecentStart>,
    packets: PacketPool,
    messages: VecDeque<(usize, ShardMessage)>,
    counters: ShardCounters,
    /// The `now` of the latest `handle_*` call: media written by a poll is stamped with it,
    /// since polling carries no time of its own.
    now: Instant,
}

impl ShardCore {
    pub fn new(config: ShardConfig, now: Instant) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        let probe = TimerProbe::new(config.probe_period, now);
        Self {
            config,
            rng,
            sessions: CounterMap::default(),
            by_id: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_address: HashMap::new(),
            streams: StreamTable::default(),
            timers: DeadlineTable::default(),
            session_timer_lateness: TimerLateness::default(),
            probe,
            next_key: 0,
            next_source: 0,
            transmits: VecDeque::new(),
            fanout: FanoutQueue::new(FANOUT_QUEUE_JOBS),
            leftover: Leftover::default(),
            retransmit_ready: VecDeque::new(),
            recent_starts: VecDeque::new(),
            packets: PacketPool::new(RECYCLED_PACKETS),
            messages: VecDeque::new(),
            counters: ShardCounters::default(),
            now,
        }
    }

    pub fn index(&self) -> usize {
        self.config.index
    }

    pub fn counters(&self) -> ShardCounters {
        ShardCounters {
            repair: self.repair_counters(),
            publisher_transport_feedback_sent: self.counters.publisher_transport_feedback_sent
                + self
                    .sessions
                    .values()
                    .map(|session| session.transport_feedback_sent())
                    .sum::<u64>(),
            ..self.counters
        }
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions that need `handle_timeout` before the shard's deadline table says: each one
    /// a timer that would fire late. The simulated network checks this after every step.
    #[cfg(test)]
    pub(crate) fn sessions_behind_their_deadline(&self) -> Vec<SessionKey> {
        self.sessions
            .iter()
            .filter(|(key, session)| match session.poll_timeout() {
                Some(due) => self.timers.get(key).is_none_or(|held| held > due),
                None => false,
            })
            .map(|(&key, _)| key)
            .collect()
    }

    /// A datagram that arrived on this shard's socket from `source`, addressed to `local`
    /// (when the runtime knows it).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: Option<IpAddr>,
        datagram: &[u8],
    ) {
        self.advance(now);
        // STUN names its session by ufrag; everything else by the address ICE verified.
        let key = match classify(datagram) {
            DatagramKind::Stun => local_ufrag(datagram)
                .and_then(|ufrag| self.by_ufrag.get(ufrag))
                .or_else(|| self.by_address.get(&source)),
            _ => self.by_address.get(&source),
        };
        let Some(&key) = key else {
            self.counters.datagrams_unknown_source += 1;
            return;
        };
        if let Some(session) = self.sessions.get_mut(&key) {
            session.handle_receive(now, source, local, datagram, self.packets.buffer());
            self.after_session(now, key);
        }
    }

    /// A message another shard sent this one.
    pub fn handle_message(&mut self, now: Instant, from_shard: usize, message: ShardMessage) {
        self.advance(now);
        match message {
            ShardMessage::Subscribe { stream } => {
                self.streams.add_subscriber(&stream, from_shard);
                let clocks = self
                    .streams
                    .get(&stream)
                    .map(|route| route.clocks.clone())
                    .unwrap_or_default();
                for clock in clocks {
                    let stream = stream.clone();
                    self.messages
                        .push_back((from_shard, ShardMessage::SenderClock { stream, clock }));
                }
            }
            ShardMessage::Unsubscribe { stream } => {
                self.streams.remove_subscriber(&stream, from_shard);
            }
            ShardMessage::Media { stream, packet } => {
                self.counters.remote_packets_in += 1;
                self.cache_mirrored(&stream, &packet);
                self.enqueue_fanout(&stream, packet);
            }
            ShardMessage::SenderClock { stream, clock } => self.apply_clock(&stream, clock),
            ShardMessage::KeyframeRequest { stream, layer } => {
                self.request_keyframe(now, &stream, layer);
            }
        }
    }

    /// Fires every timer due at `now`, recording how late each one is.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.probe.handle_timeout(now);
        while let Some((deadline, key)) = self.timers.pop_due(now) {
            if let Some(session) = self.sessions.get_mut(&key) {
                self.session_timer_lateness
                    .record(now.saturating_duration_since(deadline));
                session.handle_timeout(now);
                self.after_session(now, key);
            }
        }
    }

    /// The next datagram to send, written into `out` (cleared first; its capacity is reused).
    /// Control datagrams come first, then viewers' paced retransmissions, then media in the
    /// order the packets arrived, one viewer per call.
    pub fn poll_transmit_into(&mut self, out: &mut Vec<u8>) -> Option<TransmitMeta> {
        self.poll_transmit_run_into(out, RunLimits::SINGLE)
    }

    /// The next datagram, or run of datagrams for one destination, written into `out`
    /// (cleared first; its capacity is reused) within `limits`. A packet left over from the
    /// previous run comes first, then control datagrams (STUN, DTLS, RTCP), one per call,
    /// then media: the packets queued for the next viewer, as one run while they fit the
    /// run's rule (see [`TransmitMeta::segment_size`]). `None` when nothing was written: all
    /// is sent, or the fan-out passed over its most viewers for one call (those that take
    /// nothing, see `PASSED_OVER_PER_POLL`) and wants another; [`Self::has_pending_transmits`]
    /// tells which.
    pub fn poll_transmit_run_into(
        &mut self,
        out: &mut Vec<u8>,
        limits: RunLimits,
    ) -> Option<TransmitMeta> {
        out.clear();
        if let Some(meta) = self.leftover.take_into(out) {
            return Some(meta);
        }
        if let Some(transmit) = self.transmits.pop_front() {
            out.extend_from_slice(&transmit.contents);
            return Some(TransmitMeta {
                destination: transmit.destination,
                source: transmit.source,
                segment_size: None,
            });
        }
        if let Some(retransmission) = self.write_next_retransmission(out) {
            return Some(retransmission);
        }
        if let Some(recent) = self.write_next_recent_start(out) {
            return Some(recent);
        }
        self.write_fanout_run(out, limits)
    }

    /// True when a poll may have more to give: the runtime should come back without
    /// sleeping.
    pub fn has_pending_transmits(&self) -> bool {
        self.leftover.is_pending()
            || !self.transmits.is_empty()
            || !self.retransmit_ready.is_empty()
            || !self.recent_starts.is_empty()
            || !self.fanout.is_empty()
    }

    /// The next message for another shard: (destination shard, message).
    pub fn poll_message(&mut self) -> Option<(usize, ShardMessage)> {
        self.messages.pop_front()
    }

    /// The earliest deadline; the runtime must call `handle_timeout` no later than this.
    /// There is always one: the timer probe's.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let probe = self.probe.deadline();
        Some(self.timers.earliest().map_or(probe, |at| at.min(probe)))
    }

    /// Moves the core's notion of the present forward (never back: egress extrapolates
    /// timestamps from it).
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn home_of(&self, stream: &str) -> usize {
        shardcast_control::shard_for(stream, self.config.shards)
    }

    fn is_home_of(&self, stream: &str) -> bool {
        self.home_of(stream) == self.config.index
    }
}

//! One shard's loop on its own io_uring: receives in, core in the middle, sends out.
//!
//! Each turn: read the clock, take a bounded batch of completions (datagrams go to the core
//! as they come), take messages from other shards and control requests, read the clock again
//! and fire the core's timers if due, turn everything the core wants sent into SQEs and ring
//! pushes, then submit once and sleep no later than the core's next deadline. The bound on
//! each batch is what keeps a flood from delaying timers.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use io_uring::IoUring;
use shardcast_proto::router::ShardMessage;
use shardcast_proto::shard::ShardCore;

use crate::control_socket::ControlRequest;
use crate::counters::{Counter, ShardCounters};
use crate::io_slots::{Received, RecvSlot, SendSlots, SourceAddress};
use crate::mesh::ShardLinks;
use crate::udp::UdpSocket;
use crate::uring::{KIND_RECV, KIND_SEND, KIND_WAKE, Uring, split_user_data};
use crate::wake::Waker;

/// Receives kept in flight at all times.
const RECV_SLOTS: usize = 64;
const SUBMISSION_ENTRIES: u32 = 1024;
/// Completions handled per turn; the timer is checked between turns.
const COMPLETIONS_PER_TURN: usize = 256;
/// Messages taken from each other shard per turn.
const MESSAGES_PER_TURN: usize = 256;
/// Sends in flight, kept well under the completion queue size (twice the submission queue)
/// so completions never overflow; further datagrams wait in the core's queue.
const MAX_SENDS_IN_FLIGHT: usize = 1024;
const STATS_INTERVAL: Duration = Duration::from_secs(10);

/// Everything one shard thread owns.
pub struct ShardLoop {
    pub index: usize,
    pub core: ShardCore,
    pub socket: UdpSocket,
    pub links: ShardLinks<ShardMessage>,
    pub control: Receiver<ControlRequest>,
    pub waker: Arc<Waker>,
    pub stopping: Arc<AtomicBool>,
    pub counters: Arc<ShardCounters>,
}

/// A shard ready to run: its ring exists and every receive is armed.
pub struct ArmedShard {
    shard: ShardLoop,
    uring: Uring,
}

impl ShardLoop {
    /// Creates the io_uring on the calling thread (it is single-issuer) and arms receives.
    pub fn arm(self) -> io::Result<ArmedShard> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_coop_taskrun()
            .build(SUBMISSION_ENTRIES)
            .or_else(|_| IoUring::new(SUBMISSION_ENTRIES))?;
        let mut uring = Uring {
            ring,
            recv_slots: (0..RECV_SLOTS).map(|_| RecvSlot::empty()).collect(),
            sends: SendSlots::default(),
            wake_buffer: Box::new(0),
            completions: Vec::with_capacity(COMPLETIONS_PER_TURN),
        };
        for slot in 0..RECV_SLOTS {
            uring.arm_recv(&self.socket, slot)?;
        }
        uring.arm_wake(&self.waker)?;
        uring.ring.submit()?;
        Ok(ArmedShard { shard: self, uring })
    }
}

impl ArmedShard {
    /// Runs until `stopping` is set (and the shard woken) or the ring fails.
    pub fn run(mut self) -> io::Result<()> {
        let mut next_stats = Instant::now() + STATS_INTERVAL;
        while !self.shard.stopping.load(Ordering::Acquire) {
            let now = Instant::now();
            let backlog = self.handle_completions(now)?;
            self.handle_messages(now);
            self.handle_control(now);
            // The batches above take time: timers fire, and their lateness is measured, by
            // the clock as it is now rather than as it was when the turn began.
            let now = Instant::now();
            if self.shard.core.poll_timeout().is_some_and(|due| due <= now) {
                self.shard.core.handle_timeout(now);
            }
            self.flush_messages();
            self.flush_transmits()?;
            if now >= next_stats {
                self.log_counters();
                next_stats = now + STATS_INTERVAL;
            }
            let deadline = self
                .shard
                .core
                .poll_timeout()
                .map_or(next_stats, |due| due.min(next_stats));
            self.uring.submit_and_wait(backlog, deadline)?;
        }
        Ok(())
    }

    /// Handles up to one turn's completions; returns true when more are already waiting.
    fn handle_completions(&mut self, now: Instant) -> io::Result<bool> {
        let uring = &mut self.uring;
        let shard = &mut self.shard;
        uring.completions.clear();
        let mut queue = uring.ring.completion();
        uring.completions.extend(
            queue
                .by_ref()
                .take(COMPLETIONS_PER_TURN)
                .map(|entry| (entry.user_data(), entry.result())),
        );
        let backlog = !queue.is_empty();
        drop(queue);

        let mut received = 0;
        for index in 0..uring.completions.len() {
            let (user_data, result) = uring.completions[index];
            let (kind, slot) = split_user_data(user_data);
            match kind {
                KIND_RECV => {
                    match uring.received(slot, result) {
                        Some(Received {
                            source,
                            local,
                            datagram,
                        }) => {
                            shard.core.handle_receive(now, source, local, datagram);
                            received += 1;
                        }
                        None => shard.counters.add(Counter::ReceiveErrors, 1),
                    }
                    uring.arm_recv(&shard.socket, slot)?;
                }
                KIND_SEND => {
                    uring.sends.finish(slot);
                    if result < 0 {
                        shard.counters.add(Counter::SendErrors, 1);
                        tracing::trace!(error = %io::Error::from_raw_os_error(-result), "send failed");
                    }
                }
                KIND_WAKE => uring.arm_wake(&shard.waker)?,
                _ => tracing::error!(user_data, "completion of an unknown operation"),
            }
        }
        shard.counters.add(Counter::DatagramsIn, received);
        Ok(backlog)
    }

    fn handle_messages(&mut self, now: Instant) {
        let shard = &mut self.shard;
        let mut taken = 0;
        for (from, inbound) in shard.links.inbound.iter_mut().enumerate() {
            let Some(inbound) = inbound else { continue };
            for _ in 0..MESSAGES_PER_TURN {
                let Some(message) = inbound.pop() else { break };
                shard.core.handle_message(now, from, message);
                taken += 1;
            }
        }
        shard.counters.add(Counter::MessagesIn, taken);
    }

    fn handle_control(&mut self, now: Instant) {
        let shard = &mut self.shard;
        while let Ok(ControlRequest { request, reply }) = shard.control.try_recv() {
            shard.counters.add(Counter::ControlRequests, 1);
            let response = shard.core.handle_control(now, request);
            if reply.send(response).is_err() {
                tracing::debug!(shard = shard.index, "control client left before the answer");
            }
        }
    }

    fn flush_messages(&mut self) {
        let shard = &mut self.shard;
        while let Some((to, message)) = shard.core.poll_message() {
            let Some(Some(outbound)) = shard.links.outbound.get_mut(to) else {
                tracing::warn!(
                    shard = shard.index,
                    to,
                    "message for an unknown shard dropped"
                );
                shard.counters.add(Counter::RingFullDrops, 1);
                continue;
            };
            if outbound.send(message).is_err() {
                shard.counters.add(Counter::RingFullDrops, 1);
            }
        }
    }

    fn flush_transmits(&mut self) -> io::Result<()> {
        let mut sent = 0;
        while self.uring.sends.in_flight() < MAX_SENDS_IN_FLIGHT {
            let Some(transmit) = self.shard.core.poll_transmit() else {
                break;
            };
            let Some(destination) = self.shard.socket.destination_for(transmit.destination) else {
                self.shard.counters.add(Counter::SendErrors, 1);
                continue;
            };
            // From the wrong address the peer would discard it, so a source that cannot be
            // used for this destination drops the datagram rather than letting the kernel pick.
            let source = match transmit.source {
                Some(ip) => match SourceAddress::for_destination(destination, ip) {
                    Some(source) => Some(source),
                    None => {
                        self.shard.counters.add(Counter::SendErrors, 1);
                        continue;
                    }
                },
                None => None,
            };
            self.uring
                .push_send(&self.shard.socket, destination, source, transmit.contents)?;
            sent += 1;
        }
        self.shard.counters.add(Counter::DatagramsOut, sent);
        Ok(())
    }

    fn log_counters(&self) {
        let counts = self.shard.counters.snapshot();
        tracing::debug!(
            shard = self.shard.index,
            datagrams_in = counts.datagrams_in,
            datagrams_out = counts.datagrams_out,
            receive_errors = counts.receive_errors,
            send_errors = counts.send_errors,
            ring_full_drops = counts.ring_full_drops,
            messages_in = counts.messages_in,
            control_requests = counts.control_requests,
            core = ?self.shard.core.counters(),
            "shard counters"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::sync::mpsc;
    use std::time::SystemTime;

    use shardcast_proto::clock::WallClock;
    use shardcast_proto::dtls::{Certificate, DtlsConfig};
    use shardcast_proto::shard::ShardConfig;

    /// Upper bound for conditions that normally hold within milliseconds.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn armed_shard() -> ArmedShard {
        armed_shard_on(None)
    }

    fn armed_shard_on(bind: Option<IpAddr>) -> ArmedShard {
        let config = ShardConfig {
            index: 0,
            shards: 1,
            candidates: Vec::new(),
            certificate: Arc::new(Certificate::generate().unwrap()),
            dtls: DtlsConfig::new().unwrap(),
            wall_clock: WallClock::new(
                Instant::now(),
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap(),
            ),
            seed: 7,
            probe_period: shardcast_proto::timer::TimerProbe::DEFAULT_PERIOD,
        };
        let waker = Arc::new(Waker::new().unwrap());
        let (_requests, control) = mpsc::channel();
        ShardLoop {
            index: 0,
            core: ShardCore::new(config, Instant::now()),
            socket: UdpSocket::bind(bind, 0).unwrap(),
            links: crate::mesh::mesh(&[Arc::clone(&waker)], 1).remove(0),
            control,
            waker,
            stopping: Arc::new(AtomicBool::new(false)),
            counters: Arc::new(ShardCounters::default()),
        }
        .arm()
        .unwrap()
    }

    /// Submits and handles completions until every send has completed.
    fn finish_sends(armed: &mut ArmedShard) {
        let give_up = Instant::now() + PATIENCE;
        while armed.uring.sends.in_flight() > 0 && Instant::now() < give_up {
            armed.uring.submit_and_wait(false, give_up).unwrap();
            armed.handle_completions(Instant::now()).unwrap();
        }
        assert_eq!(armed.uring.sends.in_flight(), 0);
        assert_eq!(armed.shard.counters.snapshot().send_errors, 0);
    }

    /// Sends `contents` from the shard to `peer`, from `source` when given, and returns where
    /// the peer saw it come from.
    fn send_and_receive(
        armed: &mut ArmedShard,
        peer: &std::net::UdpSocket,
        source: Option<IpAddr>,
    ) -> SocketAddr {
        peer.set_read_timeout(Some(PATIENCE)).unwrap();
        let destination = armed
            .shard
            .socket
            .destination_for(peer.local_addr().unwrap())
            .unwrap();
        let source = source.map(|ip| SourceAddress::for_destination(destination, ip).unwrap());
        armed
            .uring
            .push_send(&armed.shard.socket, destination, source, b"out".to_vec())
            .unwrap();
        assert_eq!(armed.uring.sends.in_flight(), 1);
        finish_sends(armed);
        let mut buffer = [0; 16];
        let (length, from) = peer.recv_from(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"out");
        from
    }

    /// Drives the ring until a receive completes and returns what the core would be handed.
    fn next_datagram(armed: &mut ArmedShard) -> (SocketAddr, Option<IpAddr>, Vec<u8>) {
        let give_up = Instant::now() + PATIENCE;
        while Instant::now() < give_up {
            armed.uring.submit_and_wait(false, give_up).unwrap();
            let completions: Vec<(u64, i32)> = armed
                .uring
                .ring
                .completion()
                .map(|entry| (entry.user_data(), entry.result()))
                .collect();
            for (user_data, result) in completions {
                let (kind, slot) = split_user_data(user_data);
                if kind == KIND_RECV {
                    let received = armed.uring.received(slot, result).unwrap();
                    return (received.source, received.local, received.datagram.to_vec());
                }
            }
        }
        panic!("no datagram within {PATIENCE:?}");
    }

    /// A socket on loopback address `ip`, or `None` when the host has no such address.
    fn peer_on(ip: IpAddr) -> Option<std::net::UdpSocket> {
        std::net::UdpSocket::bind((ip, 0)).ok()
    }

    const V4_LOOPBACK_2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    const V4_LOOPBACK_3: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

    #[test]
    fn a_send_reaches_an_ipv4_peer_and_frees_its_slot() {
        let mut armed = armed_shard();
        let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let from = send_and_receive(&mut armed, &peer, None);
        let shard_port = armed.shard.socket.local_addr().port();
        assert_eq!(from, SocketAddr::from((Ipv4Addr::LOCALHOST, shard_port)));
    }

    /// The default (dual-stack) socket and an IPv4-only one: IPV6_PKTINFO with v4-mapped
    /// addresses and IP_PKTINFO.
    fn wildcard_shards() -> [ArmedShard; 2] {
        [
            armed_shard(),
            armed_shard_on(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
        ]
    }

    #[test]
    fn a_receive_reports_the_ipv4_address_it_was_sent_to() {
        for mut armed in wildcard_shards() {
            let port = armed.shard.socket.local_addr().port();
            let peer = peer_on(V4_LOOPBACK_2).unwrap();
            for local in [IpAddr::V4(Ipv4Addr::LOCALHOST), V4_LOOPBACK_3] {
                peer.send_to(b"check", (local, port)).unwrap();
                let (source, reported, datagram) = next_datagram(&mut armed);
                assert_eq!(source, peer.local_addr().unwrap());
                assert_eq!(reported, Some(local), "{}", armed.shard.socket.local_addr());
                assert_eq!(datagram, b"check");
            }
        }
    }

    #[test]
    fn a_receive_reports_the_ipv6_address_it_was_sent_to() {
        let mut armed = armed_shard();
        let Some(peer) = peer_on(IpAddr::V6(Ipv6Addr::LOCALHOST)) else {
            return;
        };
        assert!(armed.shard.socket.is_dual_stack());
        let port = armed.shard.socket.local_addr().port();
        peer.send_to(b"check", (Ipv6Addr::LOCALHOST, port)).unwrap();
        let (source, local, _) = next_datagram(&mut armed);
        assert_eq!(source, peer.local_addr().unwrap());
        assert_eq!(local, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn a_send_leaves_from_the_ipv4_source_it_names() {
        for mut armed in wildcard_shards() {
            let port = armed.shard.socket.local_addr().port();
            // Without a source the kernel picks 127.0.0.1 for this peer; each named one wins.
            let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            for source in [V4_LOOPBACK_2, V4_LOOPBACK_3] {
                let from = send_and_receive(&mut armed, &peer, Some(source));
                assert_eq!(from, SocketAddr::new(source, port));
            }
        }
    }

    #[test]
    fn a_send_leaves_from_the_ipv6_source_it_names() {
        let mut armed = armed_shard();
        let Some(peer) = peer_on(IpAddr::V6(Ipv6Addr::LOCALHOST)) else {
            return;
        };
        let source = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let from = send_and_receive(&mut armed, &peer, Some(source));
        let port = armed.shard.socket.local_addr().port();
        assert_eq!(from, SocketAddr::new(source, port));
    }

    #[test]
    fn a_wake_completes_and_is_rearmed() {
        let mut armed = armed_shard();
        for _ in 0..2 {
            armed.shard.waker.wake();
            let give_up = Instant::now() + Duration::from_secs(10);
            armed.uring.submit_and_wait(false, give_up).unwrap();
            armed.handle_completions(Instant::now()).unwrap();
            // The read consumed the counter; a pending read is armed again for the next wake.
            assert_eq!(armed.shard.waker.take(), 0);
        }
    }
}

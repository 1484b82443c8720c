//! One shard's loop on its own io_uring: receives in, core in the middle, sends out.
//!
//! Each turn: read the clock, take a bounded batch of completions (datagrams go to the core
//! as they come), take messages from other shards and control requests, read the clock again
//! and fire the core's timers if due, let the core write a bounded batch of datagrams straight
//! into free send slots (a viewer's packets of one frame as one UDP GSO run where the kernel
//! allows it, see `gso`) and push messages on the rings, then enter the kernel once more:
//! submit what is still queued (sends go in chunks as they are queued, see
//! `uring::DATAGRAMS_PER_SUBMIT`), have the completions that are ready posted, and sleep no later
//! than the core's next deadline, or not at all while work is left over.
//!
//! The batches are bounded by time as well as by count: each stops once it has taken
//! [`BATCH_TIME`], or when the core's next deadline has come, the clock being read every
//! [`CLOCK_CHECK_EVERY`] completions or datagrams. That is what keeps a flood, or one packet
//! fanned out to thousands of viewers, from delaying timers: a turn lasts about a millisecond,
//! however costly each datagram is, and one that finds a deadline come ends at once.
//!
//! Whether that holds is measured, not assumed: each gap between two timer checks is split
//! into the thread's CPU time and the time it was kept off its core ([`TimerCheckGaps`]), so
//! a late timer can be told from a preempted or stolen CPU.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use shardcast_control::Response;
use shardcast_proto::router::ShardMessage;
use shardcast_proto::shard::{RunLimits, ShardCore};
use shardcast_proto::timer::TimerCheckGaps;

use crate::control_socket::ControlRequest;
use crate::counters::{Counter, ShardCounters};
use crate::gso;
use crate::io_slots::{SEND_BUFFER_BYTES, SendSlots};
use crate::mesh::ShardLinks;
use crate::pktinfo::SourceAddress;
use crate::recv_ring::{Received, RecvRing};
use crate::thread_clock;
use crate::udp::UdpSocket;
use crate::uring::{KIND_RECV, KIND_SEND, KIND_WAKE, Uring, split_user_data};
use crate::uring_setup::{RingSetup, SocketTarget, build_ring};
use crate::wake::Waker;

const SUBMISSION_ENTRIES: u32 = 1024;
/// Receive buffers (1 MiB of them). The kernel fills one per datagram until the loop hands it
/// to the core, so 512 cover two turns of completions; past that the multishot receive ends
/// with ENOBUFS and the datagrams wait in the socket's buffer until it is armed again. With
/// `SEND_SLOTS` sends and the wake, every completion that can be pending at once still fits
/// the completion queue (twice the submission queue), so it never overflows.
const RECV_BUFFERS: u16 = 512;
const _: () = assert!(SEND_SLOTS + RECV_BUFFERS as usize + 2 <= 2 * SUBMISSION_ENTRIES as usize);
/// Completions handled per turn, at most; the timer is checked between turns.
const COMPLETIONS_PER_TURN: usize = 256;
/// How long a turn may spend on each of its two batches: completions (a media packet in costs
/// its decryption and a fan-out job, ~1-2 us) and datagrams out (~1 us each to write), unless
/// the core's next deadline comes first. The submit that follows costs the kernel's share of
/// the datagrams (~1.2 us each), so a saturated turn takes about 0.8 ms, and a timer that
/// comes due just after the turn's check waits that long. At 500 us a turn took ~1.6 ms, and
/// a few firings an hour landed past 2 ms at 90-99% CPU.
const BATCH_TIME: Duration = Duration::from_micros(250);
/// Completions or datagrams between two readings of the clock in a batch: the clock costs
/// ~25 ns, 32 datagrams ~80 us, so a batch overruns its time by that much at most.
const CLOCK_CHECK_EVERY: usize = 32;
/// Messages taken from each other shard per turn.
const MESSAGES_PER_TURN: usize = 256;
/// Send slots, each owning its buffer for the life of the shard: the most sends in flight.
/// Kept well under the completion queue size (twice the submission queue) so completions never
/// overflow; further datagrams wait in the core.
const SEND_SLOTS: usize = 1024;
/// Datagrams the core writes per turn, at most: a backstop behind `BATCH_TIME`, which
/// normally ends the batch first (media costs ~2.5 us per viewer-packet for header rewrite and
/// SRTP, and up to ~6 us with the kernel's share of single sends). A run counts as the
/// datagrams it holds, and each is at least one, so with at most a receive and a wake re-armed
/// besides, a turn's SQEs fit the submission queue.
const DATAGRAMS_PER_TURN: usize = 256;
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

/// A shard ready to run: its ring exists and its receive is armed.
pub struct ArmedShard {
    shard: ShardLoop,
    uring: Uring,
    /// How long each batch of a turn may take ([`BATCH_TIME`]; tests of the count bounds
    /// lift it).
    batch_time: Duration,
    check_gaps: TimerCheckGaps,
}

impl ShardLoop {
    /// Creates the io_uring on the calling thread (it is single-issuer) and arms the receive.
    pub fn arm(self) -> io::Result<ArmedShard> {
        self.arm_with(RECV_BUFFERS)
    }

    /// `arm` with `recv_buffers` receive buffers (a power of two).
    fn arm_with(self, recv_buffers: u16) -> io::Result<ArmedShard> {
        let (ring, setup) = build_ring(SUBMISSION_ENTRIES, &RingSetup::BEST_FIRST)?;
        let socket = SocketTarget::register(&ring, &self.socket);
        let recv = RecvRing::register(&ring.submitter(), recv_buffers)?;
        let gso = gso::supported(&self.socket);
        tracing::info!(
            shard = self.index,
            ring = setup.name(),
            fixed_socket = socket == SocketTarget::Fixed,
            gso,
            "shard ring ready"
        );
        let send_buffer_bytes = if gso {
            gso::RUN_BYTES
        } else {
            SEND_BUFFER_BYTES
        };
        let mut uring = Uring {
            ring,
            setup,
            socket,
            recv,
            sends: SendSlots::new(SEND_SLOTS, send_buffer_bytes),
            gso,
            wake_buffer: Box::new(0),
            completions: Vec::with_capacity(COMPLETIONS_PER_TURN),
            counters: Arc::clone(&self.counters),
            recv_failures: 0,
            datagrams_queued: 0,
        };
        uring.arm_recv()?;
        uring.arm_wake(&self.waker)?;
        uring.submit()?;
        Ok(ArmedShard {
            shard: self,
            uring,
            batch_time: BATCH_TIME,
            check_gaps: TimerCheckGaps::default(),
        })
    }
}

impl ArmedShard {
    /// Runs until `stopping` is set (and the shard woken) or the ring fails.
    pub fn run(mut self) -> io::Result<()> {
        let mut next_stats = Instant::now() + STATS_INTERVAL;
        self.check_gaps
            .begin(Instant::now(), thread_clock::cpu_time());
        while !self.shard.stopping.load(Ordering::Acquire) {
            let now = Instant::now();
            let backlog = self.handle_completions(now)?;
            self.handle_messages(now);
            self.handle_control(now);
            // The batches above take time: timers fire, and their lateness is measured, by
            // the clock as it is now rather than as it was when the turn began.
            let now = Instant::now();
            let cpu_time = self
                .check_gaps
                .wants_cpu_time(now)
                .then(thread_clock::cpu_time);
            self.check_gaps.check(now, cpu_time);
            if self.shard.core.poll_timeout().is_some_and(|due| due <= now) {
                self.shard.core.handle_timeout(now);
            }
            self.flush_messages();
            let more_to_send = self.flush_transmits()?;
            if now >= next_stats {
                self.log_counters();
                next_stats = now + STATS_INTERVAL;
            }
            let deadline = self
                .shard
                .core
                .poll_timeout()
                .map_or(next_stats, |due| due.min(next_stats));
            let busy = backlog || more_to_send;
            let sleep_from = (!busy).then(Instant::now);
            self.uring.submit_and_wait(busy, deadline)?;
            if let Some(from) = sleep_from {
                self.check_gaps.slept(from.elapsed());
            }
        }
        Ok(())
    }

    /// Handles up to one turn's completions, which began at `now`: until none are left, or
    /// `COMPLETIONS_PER_TURN` or the batch's time are used up, or the core's next deadline
    /// comes. Returns true when more are already waiting.
    fn handle_completions(&mut self, now: Instant) -> io::Result<bool> {
        let stop = self.batch_end(now);
        let mut now = now;
        let mut handled = 0;
        loop {
            let more = self.handle_completion_chunk(now)?;
            handled += CLOCK_CHECK_EVERY;
            if !more {
                return Ok(false);
            }
            now = Instant::now();
            if handled >= COMPLETIONS_PER_TURN || now >= stop {
                return Ok(true);
            }
        }
    }

    /// Handles up to `CLOCK_CHECK_EVERY` completions, with the clock at `now`; returns true
    /// when more are already waiting.
    fn handle_completion_chunk(&mut self, now: Instant) -> io::Result<bool> {
        let uring = &mut self.uring;
        let shard = &mut self.shard;
        uring.completions.clear();
        let mut queue = uring.ring.completion();
        uring.completions.extend(
            queue
                .by_ref()
                .take(CLOCK_CHECK_EVERY)
                .map(|entry| (entry.user_data(), entry.result(), entry.flags())),
        );
        let more = !queue.is_empty();
        drop(queue);

        for index in 0..uring.completions.len() {
            let (user_data, result, flags) = uring.completions[index];
            let (kind, slot) = split_user_data(user_data);
            match kind {
                KIND_RECV => {
                    let core = &mut shard.core;
                    uring.complete_recv((result, flags), |received| {
                        let Received {
                            source,
                            local,
                            datagram,
                        } = received;
                        core.handle_receive(now, source, local, datagram);
                    })?;
                }
                KIND_SEND => uring.complete_send(slot, result)?,
                KIND_WAKE => uring.arm_wake(&shard.waker)?,
                _ => tracing::error!(user_data, "completion of an unknown operation"),
            }
        }
        Ok(more)
    }

    /// When a batch that starts at `start` must stop: when its time is up, or at the core's
    /// next deadline if that comes first.
    fn batch_end(&mut self, start: Instant) -> Instant {
        let end = start + self.batch_time;
        self.shard
            .core
            .poll_timeout()
            .map_or(end, |due| due.min(end))
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
            let mut response = shard.core.handle_control(now, request);
            // The core counts what it sees; the socket, the ring and the thread are the
            // runtime's.
            if let Response::Stats(stats) = &mut response {
                stats.runtime = shard.counters.snapshot();
                stats.runtime.preemptions = thread_clock::preemptions();
                stats.check_gaps_on_cpu = self.check_gaps.on_cpu().snapshot();
                stats.check_gaps_off_cpu = self.check_gaps.off_cpu().snapshot();
            }
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

    /// Lets the core write up to a turn's datagrams into free send slots, as runs when GSO is
    /// on, and queues their sends, until `DATAGRAMS_PER_TURN` or the batch's time are used up
    /// or the core's next deadline comes. Returns true when such a bound, not the core, ended
    /// it: the loop should come back without sleeping. When every slot is in flight the rest
    /// waits in the core, and the loop sleeps until sends complete.
    fn flush_transmits(&mut self) -> io::Result<bool> {
        let stop = self.batch_end(Instant::now());
        let limits = if self.uring.gso {
            gso::RUN_LIMITS
        } else {
            RunLimits::SINGLE
        };
        let shard = &mut self.shard;
        let mut written = 0;
        let mut next_clock_check = CLOCK_CHECK_EVERY;
        let mut sent = 0;
        let bounded = loop {
            if written >= DATAGRAMS_PER_TURN {
                break true;
            }
            if written >= next_clock_check {
                next_clock_check = written + CLOCK_CHECK_EVERY;
                if Instant::now() >= stop {
                    break true;
                }
            }
            let Some(mut vacant) = self.uring.sends.vacant() else {
                break false;
            };
            let Some(meta) = shard.core.poll_transmit_run_into(vacant.buffer(), limits) else {
                if !shard.core.has_pending_transmits() {
                    break false;
                }
                // The core passed over viewers that took nothing and yielded: a look at the
                // clock before it goes on.
                next_clock_check = written;
                continue;
            };
            let segments = meta.segment_size.map_or(1, |size| {
                vacant.buffer().len().div_ceil(usize::from(size.max(1)))
            }) as u64;
            written += segments as usize;
            let Some(destination) = shard.socket.destination_for(meta.destination) else {
                shard.counters.add(Counter::SendErrors, segments);
                continue;
            };
            // From the wrong address the peer would discard it, so a source that cannot be
            // used for this destination drops the datagram rather than letting the kernel pick.
            let source = match meta.source {
                // A socket bound to one address sends from it: a control message naming it
                // would only cost the kernel a copy and a parse per send.
                Some(_) if !shard.socket.is_wildcard() => None,
                Some(ip) => match SourceAddress::for_destination(destination, ip) {
                    Some(source) => Some(source),
                    None => {
                        shard.counters.add(Counter::SendErrors, segments);
                        continue;
                    }
                },
                None => None,
            };
            let started = vacant.start(destination, source, meta.segment_size);
            self.uring.push_send(started, segments as usize)?;
            sent += segments;
            if meta.segment_size.is_some() {
                shard.counters.add(Counter::GsoSends, 1);
                shard.counters.add(Counter::GsoSegments, segments);
            }
        };
        shard.counters.add(Counter::DatagramsOut, sent);
        Ok(bounded && shard.core.has_pending_transmits())
    }

    fn log_counters(&self) {
        tracing::debug!(
            shard = self.shard.index,
            ring = self.uring.setup.name(),
            runtime = ?self.shard.counters.snapshot(),
            core = ?self.shard.core.counters(),
            "shard counters"
        );
    }
}

#[cfg(test)]
mod gso_tests;
#[cfg(test)]
mod receive_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod turn_tests;

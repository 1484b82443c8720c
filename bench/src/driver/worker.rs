//! A viewer worker thread: many viewers on one io_uring.
//!
//! Each turn: read the clock once, take a bounded batch of completions (datagrams go to
//! their viewer's peer, the receive is armed again), take new viewers from the signaling
//! thread, fire a bounded number of due timers, then let every viewer touched this turn
//! account its packets and send its feedback, submit once, and sleep until the earliest
//! deadline or a wake. The bounds keep a flood of packets from delaying NACK timers.
//! With `--link-delay` the datagrams take a detour through the worker's `LinkDelay`:
//! received ones reach their peer once due (a bounded batch a turn, like completions),
//! sent ones join the send queue once due, and the sleep ends at the next release.
//! Once a turn the worker publishes its live tally for the progress display, and at the
//! steady window's ends it reads its own CPU clock.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::accounting::MeasurementWindow;

use super::clock::CaptureClock;
use super::link_delay::LinkDelay;
use super::live::{WorkerCounters, WorkerTally};
use super::ring::{Completion, ViewerRing};
use super::timers::Timers;
use super::viewer::{NewViewer, Viewer, ViewerOutcome};
use super::wake::EventFd;
use super::window_cpu::{WindowCpu, this_thread_cpu_time};

const COMPLETIONS_PER_TURN: usize = 1024;
const TIMERS_PER_TURN: usize = 512;
/// Delayed received datagrams handed to their peers per turn.
const DELAYED_PER_TURN: usize = 4096;
const NEW_VIEWERS_PER_TURN: usize = 64;
/// Sends in flight, so that they plus one receive per viewer fit the completion queue.
const MAX_SENDS_IN_FLIGHT: usize = 1024;
/// The longest sleep, so a missed wake costs at most this much.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// A deadline already past after its viewer was processed is retried this much later
/// rather than at once, so a timer that cannot make progress never spins.
const RETRY_DELAY: Duration = Duration::from_millis(1);

/// What one worker thread is given.
pub struct WorkerSetup {
    pub new_viewers: Receiver<NewViewer>,
    pub waker: Arc<EventFd>,
    pub stopping: Arc<AtomicBool>,
    pub cpu: Option<usize>,
    pub window: MeasurementWindow,
    pub clock: CaptureClock,
    /// How many viewers it will get, to size the ring.
    pub capacity: usize,
    /// Where it publishes its tally for the progress display.
    pub counters: Arc<WorkerCounters>,
    /// `--link-delay`: how long each datagram is held each way; zero holds nothing.
    pub link_delay: Duration,
    /// Where the link delay counts the datagrams it had no room for.
    pub link_overflowed: Arc<AtomicU64>,
}

/// What one worker thread measured.
pub struct WorkerOutcome {
    pub viewers: Vec<ViewerOutcome>,
    /// Its own CPU time in the steady window; `None` when it could not be read.
    pub steady_cpu: Option<Duration>,
}

/// Starts worker `number`; it runs until `stopping` is set and it is woken, then returns
/// every viewer's outcome.
pub fn spawn(
    number: usize,
    setup: WorkerSetup,
) -> io::Result<JoinHandle<io::Result<WorkerOutcome>>> {
    std::thread::Builder::new()
        .name(format!("bench-viewers-{number}"))
        .spawn(move || {
            if let Some(cpu) = setup.cpu
                && !core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
            {
                return Err(io::Error::other(format!(
                    "cannot pin a worker to CPU {cpu}"
                )));
            }
            Worker::new(setup)?.run()
        })
}

struct Worker {
    /// First, so it is dropped before the sockets and the eventfd its operations use.
    ring: ViewerRing,
    viewers: Vec<Viewer>,
    timers: Timers,
    touched: Vec<usize>,
    outbox: VecDeque<(usize, SocketAddr, Vec<u8>)>,
    link: Option<LinkDelay<usize>>,
    completions: Vec<Completion>,
    tally: WorkerTally,
    steady_cpu: WindowCpu,
    setup: WorkerSetup,
}

impl Worker {
    fn new(setup: WorkerSetup) -> io::Result<Self> {
        let wanted = setup.capacity + MAX_SENDS_IN_FLIGHT + 1;
        let entries = wanted.next_power_of_two().clamp(64, 32_768) as u32;
        Ok(Self {
            ring: ViewerRing::new(entries)?,
            viewers: Vec::with_capacity(setup.capacity),
            timers: Timers::default(),
            touched: Vec::new(),
            outbox: VecDeque::new(),
            link: LinkDelay::new(setup.link_delay, setup.link_overflowed.clone()),
            completions: Vec::with_capacity(COMPLETIONS_PER_TURN),
            tally: WorkerTally::default(),
            steady_cpu: WindowCpu::new(setup.window),
            setup,
        })
    }

    fn run(mut self) -> io::Result<WorkerOutcome> {
        self.ring.arm_wake(self.setup.waker.as_raw_fd())?;
        loop {
            let now = Instant::now();
            self.steady_cpu.on_turn(now, this_thread_cpu_time);
            let backlog = self.handle_completions(now)?;
            let delayed_backlog = self.deliver_delayed(now);
            self.take_new_viewers()?;
            self.fire_timers(now);
            self.process_touched(now)?;
            self.setup.counters.publish(&self.tally);
            if self.setup.stopping.load(Ordering::Acquire) {
                break;
            }
            let deadline = [
                self.timers.next(),
                self.link.as_ref().and_then(LinkDelay::next_release),
            ]
            .into_iter()
            .flatten()
            .fold(now + IDLE_WAIT, Instant::min);
            self.ring
                .submit_and_wait(backlog || delayed_backlog, deadline)?;
        }
        let now = Instant::now();
        Ok(WorkerOutcome {
            viewers: self.viewers.iter().map(|v| v.outcome(now)).collect(),
            steady_cpu: self.steady_cpu.spent(),
        })
    }

    /// Handles up to one turn's completions; true when more are already waiting.
    fn handle_completions(&mut self, now: Instant) -> io::Result<bool> {
        let backlog = self
            .ring
            .take_completions(COMPLETIONS_PER_TURN, &mut self.completions);
        for &completion in &self.completions {
            match completion {
                Completion::Recv { slot, result } => {
                    let Some(viewer) = self.viewers.get_mut(slot) else {
                        continue;
                    };
                    if let Some(received) = self.ring.received(slot, result) {
                        for datagram in received.datagrams() {
                            match self.link.as_mut() {
                                Some(link) => {
                                    link.hold_received(now, slot, received.source, datagram);
                                }
                                None => viewer.handle_datagram(now, received.source, datagram),
                            }
                        }
                    }
                    let fd = viewer.fd();
                    if self.link.is_none() {
                        touch(viewer, slot, &mut self.touched);
                    }
                    self.ring.arm_recv(fd, slot)?;
                }
                // A failed send is a lost datagram, which the server's side of the
                // accounting sees like any other loss.
                Completion::Send { slot, .. } => self.ring.finish_send(slot),
                Completion::Wake => self.ring.arm_wake(self.setup.waker.as_raw_fd())?,
            }
        }
        Ok(backlog)
    }

    /// Hands the held received datagrams that are due to their viewers; true when more
    /// are due than one turn takes.
    fn deliver_delayed(&mut self, now: Instant) -> bool {
        let Some(link) = self.link.as_mut() else {
            return false;
        };
        link.deliver_received(now, DELAYED_PER_TURN, |slot, source, datagram| {
            if let Some(viewer) = self.viewers.get_mut(slot) {
                viewer.handle_datagram(now, source, datagram);
                touch(viewer, slot, &mut self.touched);
            }
        })
    }

    fn take_new_viewers(&mut self) -> io::Result<()> {
        for _ in 0..NEW_VIEWERS_PER_TURN {
            let Ok(new) = self.setup.new_viewers.try_recv() else {
                break;
            };
            let slot = self.ring.add_recv_slot();
            let mut viewer = Viewer::new(new, self.setup.window);
            self.ring.arm_recv(viewer.fd(), slot)?;
            // Its first connectivity checks are already queued.
            touch(&mut viewer, slot, &mut self.touched);
            self.viewers.push(viewer);
        }
        Ok(())
    }

    fn fire_timers(&mut self, now: Instant) {
        for _ in 0..TIMERS_PER_TURN {
            let Some((due, slot)) = self.timers.pop_due(now) else {
                break;
            };
            let Some(viewer) = self.viewers.get_mut(slot) else {
                continue;
            };
            if viewer.scheduled != Some(due) {
                continue;
            }
            viewer.scheduled = None;
            viewer.handle_timeout(now);
            touch(viewer, slot, &mut self.touched);
        }
    }

    /// Accounting, feedback, transmits and the next deadline of every touched viewer.
    fn process_touched(&mut self, now: Instant) -> io::Result<()> {
        for slot in self.touched.drain(..) {
            let Some(viewer) = self.viewers.get_mut(slot) else {
                continue;
            };
            viewer.touched = false;
            self.tally.received += viewer.process(now, &self.setup.clock);
            let state = viewer.session_state();
            self.tally.on_session_change(viewer.counted_as, state);
            viewer.counted_as = state;
            while let Some((destination, datagram)) = viewer.poll_transmit() {
                match self.link.as_mut() {
                    Some(link) => link.hold_sent(now, slot, destination, datagram),
                    None => self.outbox.push_back((slot, destination, datagram)),
                }
            }
            if let Some(deadline) = viewer.deadline() {
                let at = deadline.max(now + RETRY_DELAY);
                self.timers.schedule(slot, at, &mut viewer.scheduled);
            }
        }
        if let Some(link) = self.link.as_mut() {
            while let Some(held) = link.release_sent(now) {
                self.outbox
                    .push_back((held.owner, held.address, held.bytes));
            }
        }
        while self.ring.sends_in_flight() < MAX_SENDS_IN_FLIGHT {
            let Some((slot, destination, datagram)) = self.outbox.pop_front() else {
                break;
            };
            if let Some(viewer) = self.viewers.get(slot) {
                self.ring.send(viewer.fd(), destination, datagram)?;
            }
        }
        Ok(())
    }
}

/// Puts `viewer` on this turn's list once.
fn touch(viewer: &mut Viewer, slot: usize, touched: &mut Vec<usize>) {
    if !viewer.touched {
        viewer.touched = true;
        touched.push(slot);
    }
}

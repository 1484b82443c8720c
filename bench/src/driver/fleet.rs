//! The viewer side of a run: the worker threads and the signaling thread that feeds them.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::accounting::MeasurementWindow;
use crate::peer::PeerConfig;

use super::clock::CaptureClock;
use super::joins::{self, JoinOutcome, JoinPlan, Ramp, WorkerInbox};
use super::live::LiveCounters;
use super::viewer::ViewerOutcome;
use super::wake::EventFd;
use super::worker::{self, WorkerOutcome, WorkerSetup};
use super::{BenchConfig, DriverError};

/// A worker thread, and the eventfd that wakes it to see `stopping`.
type Worker = (JoinHandle<io::Result<WorkerOutcome>>, Arc<EventFd>);

/// What the workers measured, together.
pub struct WorkersOutcome {
    pub viewers: Vec<ViewerOutcome>,
    /// Their CPU time in the steady window, summed; `None` unless every worker read it.
    pub steady_cpu: Option<Duration>,
}

pub struct Viewers {
    /// The end of the ramp: when the last offer is due.
    pub steady_start: Instant,
    pub steady_end: Instant,
    /// What the threads have done so far, for the progress display.
    pub live: Arc<LiveCounters>,
    workers: Vec<Worker>,
    joins: JoinHandle<JoinOutcome>,
}

impl Viewers {
    /// Starts the workers, then the ramp from now.
    pub fn start(
        config: &BenchConfig,
        peer_config: PeerConfig,
        candidate_ip: Option<IpAddr>,
        clock: CaptureClock,
        seed: u64,
        stopping: &Arc<AtomicBool>,
        link_overflowed: &Arc<AtomicU64>,
    ) -> Result<Self, DriverError> {
        let ramp = Ramp {
            start: Instant::now(),
            per_second: config.ramp_per_second,
        };
        let steady_start = ramp.end(config.viewers);
        let steady_end = steady_start + config.duration;
        let window = MeasurementWindow::between(steady_start, steady_end);
        let capacity = config.viewers.div_ceil(config.threads);
        let live = Arc::new(LiveCounters::new(config.threads));
        let mut workers = Vec::with_capacity(config.threads);
        let mut inboxes = Vec::with_capacity(config.threads);
        for (number, counters) in live.workers().iter().enumerate() {
            let (sender, new_viewers) = mpsc::channel();
            let waker = Arc::new(EventFd::new()?);
            let cpu = config.cpus.get(number % config.cpus.len().max(1)).copied();
            let setup = WorkerSetup {
                new_viewers,
                waker: waker.clone(),
                stopping: stopping.clone(),
                cpu,
                window,
                clock,
                capacity,
                counters: counters.clone(),
                link_delay: config.link_delay,
                link_overflowed: link_overflowed.clone(),
            };
            workers.push((worker::spawn(number, setup)?, waker.clone()));
            inboxes.push(WorkerInbox { sender, waker });
        }
        let plan = JoinPlan {
            whep_url: config.whep_url.clone(),
            token: config.token.clone(),
            tls: config.tls.clone(),
            viewers: config.viewers,
            ramp,
            peer_config,
            candidate_ip,
            seed,
            workers: inboxes,
            stopping: stopping.clone(),
            live: live.clone(),
        };
        let joins = std::thread::Builder::new()
            .name("bench-signaling".into())
            .spawn(move || joins::run(&plan))?;
        Ok(Self {
            steady_start,
            steady_end,
            live,
            workers,
            joins,
        })
    }

    /// Waits for every thread (`stopping` must be set): each viewer's outcome, and what the
    /// signaling thread did.
    pub fn finish(self) -> (Result<WorkersOutcome, DriverError>, JoinOutcome) {
        let joined = self.joins.join().unwrap_or_default();
        let mut outcome = WorkersOutcome {
            viewers: Vec::new(),
            steady_cpu: Some(Duration::ZERO),
        };
        let mut failure = None;
        for (handle, waker) in self.workers {
            waker.wake();
            match handle.join() {
                Ok(Ok(mut worker)) => {
                    outcome.viewers.append(&mut worker.viewers);
                    outcome.steady_cpu = outcome
                        .steady_cpu
                        .zip(worker.steady_cpu)
                        .map(|(sum, cpu)| sum + cpu);
                }
                Ok(Err(error)) => {
                    failure.get_or_insert(DriverError::Io(error));
                }
                Err(_) => {
                    failure.get_or_insert(DriverError::Panicked("viewer worker"));
                }
            }
        }
        (failure.map_or(Ok(outcome), Err), joined)
    }
}

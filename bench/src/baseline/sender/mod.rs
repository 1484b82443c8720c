//! The three ways the baseline puts the fan-out on the wire, each on a thread of its own:
//! `sendto` (one syscall per datagram), `sendmmsg` (one syscall per batch of viewers) and
//! `glommio` (glommio's `UdpSocket::send_to` inside a `LocalExecutor`). The per-viewer work
//! before the send is the same for all three.

mod glommio_udp;
mod sendmmsg;
mod sendto;

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shardcast_proto::media::MediaPacket;

use super::stream::{Pacer, Step};
use super::viewers::Viewers;
use super::{BaselineConfig, BaselineError};
use crate::driver::this_thread_cpu_time;

/// How long past the end of the stream a sender may take before the run is declared hung.
const GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderKind {
    Sendto,
    Sendmmsg,
    Glommio,
}

impl SenderKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sendto => "sendto",
            Self::Sendmmsg => "sendmmsg",
            Self::Glommio => "glommio",
        }
    }
}

/// What a sender did while the stream played.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub publisher_packets: u64,
    pub datagrams: u64,
    pub bytes: u64,
    /// Datagrams the kernel refused.
    pub errors: u64,
    /// Viewer-packets egress or SRTP did not produce (video before its first keyframe).
    pub skipped: u64,
    /// The sending thread's CPU time from the first packet to the end.
    pub cpu: Duration,
    pub elapsed: Duration,
}

impl Sent {
    fn record(&mut self, result: io::Result<usize>) {
        match result {
            Ok(len) => {
                self.datagrams += 1;
                self.bytes += len as u64;
            }
            Err(_) => self.errors += 1,
        }
    }
}

/// Starts the sender `config` names with `viewers`, and waits for it to finish the stream.
pub fn run(config: &BaselineConfig, viewers: Viewers) -> Result<Sent, BaselineError> {
    let (done, finished) = mpsc::channel();
    let thread = match config.sender {
        SenderKind::Sendto => spawn_thread::<sendto::SendTo>(config, viewers, done)?,
        SenderKind::Sendmmsg => spawn_thread::<sendmmsg::SendMmsg>(config, viewers, done)?,
        SenderKind::Glommio => glommio_udp::spawn(config, viewers, done)?,
    };
    match finished.recv_timeout(config.duration + GRACE) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(BaselineError::SenderHung(config.duration)),
        // The thread ended without a word: it failed to start, or panicked.
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(thread.failure()),
    }
}

/// A sender's thread, asked why it ended when it ended without a result.
enum SenderThread {
    Plain(std::thread::JoinHandle<()>),
    Glommio(glommio::ExecutorJoinHandle<()>),
}

impl SenderThread {
    fn failure(self) -> BaselineError {
        match self {
            Self::Plain(handle) => match handle.join() {
                Ok(()) => BaselineError::SenderFailed("ended without a result".into()),
                Err(_) => BaselineError::SenderFailed("panicked".into()),
            },
            Self::Glommio(handle) => match handle.join() {
                Ok(()) => BaselineError::SenderFailed("ended without a result".into()),
                Err(error) => glommio_udp::explain(&error),
            },
        }
    }
}

type Done = mpsc::Sender<Result<Sent, BaselineError>>;

/// A sender that blocks in its syscalls, run on a plain thread.
trait BlockingSender: Sized {
    fn new(viewers: &Viewers) -> io::Result<Self>;

    /// Writes `packet` for every viewer and sends it, counting into `sent`.
    fn fan_out(
        &mut self,
        viewers: &mut Viewers,
        now: Instant,
        packet: &MediaPacket,
        sent: &mut Sent,
    );
}

/// Each viewer's address in the form the kernel takes.
fn raw_destinations(viewers: &Viewers) -> Vec<(libc::sockaddr_storage, libc::socklen_t)> {
    (0..viewers.len())
        .filter_map(|viewer| viewers.destination(viewer))
        .map(shardcast::udp::sockaddr_from)
        .collect()
}

/// A plain thread, pinned when asked, that plays the stream through an `S`.
fn spawn_thread<S: BlockingSender>(
    config: &BaselineConfig,
    mut viewers: Viewers,
    done: Done,
) -> Result<SenderThread, BaselineError> {
    let (cpu, duration) = (config.cpu, config.duration);
    let handle = std::thread::Builder::new()
        .name("baseline-send".into())
        .spawn(move || {
            let result = pin(cpu).and_then(|()| {
                let mut sender = S::new(&viewers)?;
                let pacer = Pacer::new(Instant::now(), duration)?;
                let sent = play(pacer, |packet, now, sent| {
                    sender.fan_out(&mut viewers, now, packet, sent)
                })?;
                Ok(sent)
            });
            // The receiving end gave up only if the run already failed.
            let _ = done.send(result);
        })?;
    Ok(SenderThread::Plain(handle))
}

fn pin(cpu: Option<usize>) -> Result<(), BaselineError> {
    match cpu {
        Some(id) if !core_affinity::set_for_current(core_affinity::CoreId { id }) => {
            Err(BaselineError::Pin(id))
        }
        _ => Ok(()),
    }
}

/// Plays the stream: each packet to `fan_out` when due, sleeping in between. Measures the
/// thread's CPU time over the whole stream.
fn play(
    mut pacer: Pacer,
    mut fan_out: impl FnMut(&MediaPacket, Instant, &mut Sent),
) -> io::Result<Sent> {
    let mut sent = Sent::default();
    let cpu_at_start = this_thread_cpu_time()?;
    let start = Instant::now();
    loop {
        let now = Instant::now();
        match pacer.next(now) {
            Step::Send(packet) => {
                sent.publisher_packets += 1;
                fan_out(&packet, now, &mut sent);
            }
            Step::Wait(wait) => std::thread::sleep(wait),
            Step::Done => break,
        }
    }
    sent.elapsed = start.elapsed();
    sent.cpu = this_thread_cpu_time()?.saturating_sub(cpu_at_start);
    Ok(sent)
}

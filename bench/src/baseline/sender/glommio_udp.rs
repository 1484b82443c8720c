//! glommio's `UdpSocket::send_to` inside a `LocalExecutor` pinned to a CPU: glommio tries a
//! non-blocking `sendmsg` syscall first and falls back to its io_uring only when the socket
//! would block, so this is one syscall per datagram with an async runtime around it.
//!
//! glommio's reactor needs RLIMIT_MEMLOCK of at least 512 KiB (`ulimit -l`) and io_uring
//! (`/proc/sys/kernel/io_uring_disabled` = 0); it registers 10 MiB of I/O memory with its
//! rings when the kernel lets it, and goes on without when it does not.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use glommio::net::UdpSocket;
use glommio::{GlommioError, LocalExecutorBuilder, Placement};

use super::{Done, SenderThread, Sent};
use crate::baseline::stream::{Pacer, Step};
use crate::baseline::viewers::Viewers;
use crate::baseline::{BaselineConfig, BaselineError};
use crate::driver::this_thread_cpu_time;

/// Starts the executor's thread; the result of the run arrives on `done`.
pub(super) fn spawn(
    config: &BaselineConfig,
    viewers: Viewers,
    done: Done,
) -> Result<SenderThread, BaselineError> {
    let placement = config.cpu.map_or(Placement::Unbound, Placement::Fixed);
    let duration = config.duration;
    let handle = LocalExecutorBuilder::new(placement)
        .name("baseline-glommio")
        .spawn(move || async move {
            // The receiving end gave up only if the run already failed.
            let _ = done.send(play(viewers, duration).await);
        })
        .map_err(|error| explain(&error))?;
    Ok(SenderThread::Glommio(handle))
}

/// What went wrong, with what glommio needs from the system unless it was our request
/// (a CPU that does not exist, say) that it refused.
pub(super) fn explain<T>(error: &GlommioError<T>) -> BaselineError {
    let needs = match error {
        GlommioError::BuilderError(_) => "",
        _ => {
            " (glommio needs RLIMIT_MEMLOCK of at least 512 KiB, see `ulimit -l`, and \
             io_uring enabled: /proc/sys/kernel/io_uring_disabled = 0)"
        }
    };
    BaselineError::SenderFailed(format!("glommio: {error}{needs}"))
}

async fn play(mut viewers: Viewers, duration: Duration) -> Result<Sent, BaselineError> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|error| explain(&error))?;
    let destinations: Vec<SocketAddr> = (0..viewers.len())
        .filter_map(|viewer| viewers.destination(viewer))
        .collect();
    let mut out = Vec::with_capacity(1500);
    let mut pacer = Pacer::new(Instant::now(), duration)?;
    let mut sent = Sent::default();
    let cpu_at_start = this_thread_cpu_time()?;
    let start = Instant::now();
    loop {
        let now = Instant::now();
        match pacer.next(now) {
            Step::Send(packet) => {
                sent.publisher_packets += 1;
                for (viewer, destination) in destinations.iter().enumerate() {
                    if !viewers.write(viewer, now, &packet, &mut out) {
                        sent.skipped += 1;
                        continue;
                    }
                    let result = socket.send_to(&out, *destination).await;
                    sent.record(result.map_err(Into::into));
                }
            }
            Step::Wait(wait) => glommio::timer::sleep(wait).await,
            Step::Done => break,
        }
    }
    sent.elapsed = start.elapsed();
    sent.cpu = this_thread_cpu_time()?.saturating_sub(cpu_at_start);
    Ok(sent)
}

//! The steady window, as the main thread sees it while the viewers run: waiting out the ramp
//! and the window (watching the publisher), and sampling the servers, this process, the
//! host's steal and the server's timer probe at both ends.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::fleet::Viewers;
use super::progress::Progress;
use super::{BenchConfig, DriverError};
use crate::host_steal::{self, CpuSteal};
use crate::media::LoopStats;
use crate::server_metrics::{self, ProbeScrape, ProbeWindow};
use crate::server_usage::{self, ServerUsage};

/// How often waits look at the publisher, so its failure ends the run at once.
const PUBLISHER_CHECK: Duration = Duration::from_millis(100);

/// What the main thread measured over the steady window.
pub(super) struct Measured {
    pub(super) steady: Duration,
    pub(super) server: Vec<ServerUsage>,
    pub(super) timer_probe: Option<ProbeWindow>,
    pub(super) process_cpu_percent: Option<f64>,
    pub(super) host_steal: Option<Vec<CpuSteal>>,
}

/// Waits out the ramp, samples the servers, this process and the host's steal, waits out
/// the steady window, samples again; the progress bar is drawn while waiting and cleared at
/// the end.
pub(super) fn measure(
    config: &BenchConfig,
    viewers: &Viewers,
    publisher: &JoinHandle<Result<LoopStats, DriverError>>,
) -> Result<Measured, DriverError> {
    let mut progress = Progress::new(
        config.progress,
        config.viewers,
        viewers.steady_start,
        viewers.steady_end,
    );
    let mut show = |now| progress.show(now, &viewers.live.totals());
    let own_pid = std::process::id();
    wait_until(viewers.steady_start, publisher, &mut show)?;
    let first = sample_all(&config.server_pids)?;
    let own_first = server_usage::sample(own_pid, Instant::now()).ok();
    let steal_first = host_steal::sample(Instant::now()).ok();
    let probe_first = scrape_probe(config)?;
    wait_until(viewers.steady_end, publisher, &mut show)?;
    let last = sample_all(&config.server_pids)?;
    let own_last = server_usage::sample(own_pid, Instant::now()).ok();
    let steal_last = host_steal::sample(Instant::now()).ok();
    let probe_last = scrape_probe(config)?;
    let server = config
        .server_pids
        .iter()
        .zip(first.iter().zip(&last))
        .map(|(&pid, (first, last))| server_usage::usage_between(first, last, pid))
        .collect();
    let process_cpu_percent = own_first
        .zip(own_last)
        .map(|(first, last)| server_usage::usage_between(&first, &last, own_pid).cpu_percent);
    let timer_probe = match (probe_first, probe_last) {
        (Some(first), Some(last)) => Some(ProbeWindow::between(&first, &last)?),
        _ => None,
    };
    Ok(Measured {
        steady: viewers.steady_end - viewers.steady_start,
        server,
        timer_probe,
        process_cpu_percent,
        host_steal: steal_first
            .zip(steal_last)
            .and_then(|(first, last)| host_steal::steal_between(&first, &last)),
    })
}

/// The server's probe figures now, when there is a metrics URL.
pub(super) fn scrape_probe(config: &BenchConfig) -> Result<Option<ProbeScrape>, DriverError> {
    let Some(url) = &config.metrics_url else {
        return Ok(None);
    };
    Ok(Some(server_metrics::scrape(
        url,
        config.token.as_deref(),
        &config.tls,
    )?))
}

fn sample_all(pids: &[u32]) -> Result<Vec<server_usage::UsageSample>, DriverError> {
    pids.iter().map(|&pid| sample_server(pid)).collect()
}

/// Sleeps until `at`, calling `show` at every wake; an error as soon as the publisher
/// thread ended (its own error is what the run reports).
fn wait_until(
    at: Instant,
    publisher: &JoinHandle<Result<LoopStats, DriverError>>,
    show: &mut impl FnMut(Instant),
) -> Result<(), DriverError> {
    loop {
        if publisher.is_finished() {
            return Err(DriverError::PublisherLost("the publisher stopped"));
        }
        let now = Instant::now();
        show(now);
        let left = at.saturating_duration_since(now);
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(PUBLISHER_CHECK));
    }
}

pub(super) fn sample_server(pid: u32) -> Result<server_usage::UsageSample, DriverError> {
    server_usage::sample(pid, Instant::now())
        .map_err(|source| DriverError::ServerUsage { pid, source })
}

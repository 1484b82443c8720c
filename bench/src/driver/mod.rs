//! The runtime that plays one publisher and many viewers against a server, for real.
//!
//! Threads, in the order a run starts them: the `publisher` (one WHIP session on a plain
//! UDP socket), the viewer `worker`s (each many viewers on its own io_uring, see `ring` and
//! `slots`), and the signaling thread in `joins` that posts WHEP offers at the ramp rate and
//! hands each accepted viewer to a worker. With `--link-delay`, the publisher's and the
//! workers' datagrams pass through a `link_delay` each way. [`run`] itself (in `window`) waits
//! out the ramp and the steady window, drawing the `progress` bar from the `live` counters,
//! samples the server's usage (and, with a metrics URL, scrapes its timer probe), its own and
//! the host's steal at both ends of the window, then stops everything, ends every session and
//! adds up what the viewers measured.

mod clock;
mod codec_offer;
mod fleet;
mod joins;
mod link_delay;
mod live;
mod net;
mod probe;
mod progress;
mod publisher;
mod ring;
mod slots;
mod timers;
mod viewer;
mod wake;
mod window;
mod window_cpu;
mod worker;

use std::io;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use shardcast_proto::dtls::{Certificate, DtlsConfig, DtlsError};

use crate::accounting::Summary;
use crate::host_steal::CpuSteal;
use crate::media::{LoopStats, MediaError};
use crate::peer::{H264_PAYLOAD_TYPE, PeerConfig, PeerError, VP8_PAYLOAD_TYPE};
use crate::server_metrics::{MetricsError, ProbeWindow};
use crate::server_usage::ServerUsage;
use crate::whip_client::{ClientTls, WhipError};

use clock::CaptureClock;
use fleet::{Viewers, WorkersOutcome};
use joins::JoinOutcome;
use publisher::{CONNECT_TIMEOUT, PublisherSetup};
use window::{Measured, measure, sample_server, scrape_probe};

pub use link_delay::LinkDelayUsage;
pub(crate) use window_cpu::this_thread_cpu_time;

/// The video codec the publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchCodec {
    Vp8,
    H264,
}

impl BenchCodec {
    pub fn name(self) -> &'static str {
        match self {
            Self::Vp8 => "VP8",
            Self::H264 => "H264",
        }
    }

    fn payload_type(self) -> u8 {
        match self {
            Self::Vp8 => VP8_PAYLOAD_TYPE,
            Self::H264 => H264_PAYLOAD_TYPE,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub whip_url: String,
    pub whep_url: String,
    pub token: Option<String>,
    /// How `https://` URLs are secured; built once, shared by every request.
    pub tls: ClientTls,
    pub viewers: usize,
    /// Viewers posted per second.
    pub ramp_per_second: f64,
    /// The steady-state window: measured from the end of the ramp.
    pub duration: Duration,
    /// Viewer worker threads.
    pub threads: usize,
    /// Cores to pin worker i to (`cpus[i % len]`); empty leaves them to the scheduler.
    pub cpus: Vec<usize>,
    pub lite: Option<NonZeroU32>,
    pub codec: BenchCodec,
    /// Host candidates in the offers (some ICE-lite servers drop sessions that have them).
    pub offer_candidates: bool,
    /// Server processes whose CPU and memory are sampled over the steady window.
    pub server_pids: Vec<u32>,
    /// The server's Prometheus page (shardcast-signaling's `/metrics`), scraped at both ends
    /// of the steady window for its timer probe; sent the bearer token too.
    pub metrics_url: Option<String>,
    /// A progress bar on stderr during the ramp and the steady window (shown only when
    /// stderr is a terminal).
    pub progress: bool,
    /// `--link-delay`: every datagram the publisher and the viewers send is held this long
    /// before it goes on the socket, and every one they receive this long before their peer
    /// sees it (see `link_delay`); zero holds nothing.
    pub link_delay: Duration,
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub viewers_requested: usize,
    /// Connected at the end of the run.
    pub viewers_connected: usize,
    /// The rest: refused, unusable answer, never connected, or lost.
    pub viewers_failed: usize,
    pub steady: Duration,
    /// Counters over the steady window; join and first-keyframe times over every viewer.
    pub video: Summary,
    pub audio: Summary,
    pub publisher: LoopStats,
    pub server: Vec<ServerUsage>,
    /// How late the server's probe timer fired in the steady window (with a metrics URL).
    pub timer_probe: Option<ProbeWindow>,
    /// Viewer-packets received in the steady window.
    pub delivered_packets: u64,
    /// What the bench itself spent in the steady window.
    pub bench: BenchUsage,
    /// The emulated link delay, when `--link-delay` was given.
    pub link_delay: Option<LinkDelayUsage>,
    /// What the hypervisor took from each CPU in the steady window; `None` when /proc/stat
    /// could not be read.
    pub host_steal: Option<Vec<CpuSteal>>,
}

/// The bench's own CPU over the steady window, to show it was not the bottleneck.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BenchUsage {
    /// The viewer worker threads' CPU time, summed; `None` unless every worker read its
    /// clock at both ends of the window.
    pub workers_cpu: Option<Duration>,
    /// The whole process (workers, publisher, signaling) in percent of one core; `None`
    /// when /proc could not be read.
    pub process_cpu_percent: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    #[error("cannot make the peers' certificate: {0}")]
    Certificate(String),
    #[error("cannot set up DTLS: {0}")]
    Dtls(#[from] DtlsError),
    #[error("the media files cannot be read: {0}")]
    Media(#[from] MediaError),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("WHIP offer refused: {0}")]
    PublisherRefused(#[source] WhipError),
    #[error("the WHIP answer cannot be used: {0}")]
    PublisherAnswer(#[source] PeerError),
    #[error("the WHIP answer does not accept {0} video")]
    CodecRefused(&'static str),
    #[error("the publisher did not connect within {0:?}")]
    PublisherNotConnected(Duration),
    #[error("the publisher's session was lost: {0}")]
    PublisherLost(&'static str),
    #[error("no viewer connected ({failed} failed); the first failure: {first_failure}")]
    NoViewerConnected {
        failed: usize,
        first_failure: String,
    },
    #[error("cannot read the usage of server process {pid}: {source}")]
    ServerUsage { pid: u32, source: io::Error },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

/// Runs one benchmark: publisher up, viewers ramped, steady window measured, all torn down.
pub fn run(config: &BenchConfig) -> Result<RunReport, DriverError> {
    validate(config)?;
    for &pid in &config.server_pids {
        sample_server(pid)?;
    }
    // A wrong URL or token shows now, not after the ramp.
    scrape_probe(config)?;
    let certificate =
        Certificate::generate().map_err(|error| DriverError::Certificate(error.to_string()))?;
    let mut peer_config = PeerConfig::new(Arc::new(certificate), DtlsConfig::new()?);
    peer_config.lite = config.lite;
    let candidate_ip = if config.offer_candidates {
        Some(net::local_ip_towards(&config.whep_url)?)
    } else {
        None
    };
    let clock = CaptureClock::start();
    let seed = rand::random();
    let stopping = Arc::new(AtomicBool::new(false));
    let link_overflowed = Arc::new(AtomicU64::new(0));
    let (connected_tx, connected_rx) = mpsc::channel();
    let publisher = publisher::spawn(
        PublisherSetup {
            whip_url: config.whip_url.clone(),
            token: config.token.clone(),
            tls: config.tls.clone(),
            codec: config.codec,
            peer_config: peer_config.clone(),
            candidate_ip,
            clock,
            stopping: stopping.clone(),
            seed,
            link_delay: config.link_delay,
            link_overflowed: link_overflowed.clone(),
        },
        connected_tx,
    )?;
    // Generous: the POST, then ICE and DTLS.
    if connected_rx.recv_timeout(CONNECT_TIMEOUT * 3).is_err() {
        stopping.store(true, Ordering::Release);
        return Err(finish_publisher(publisher)
            .err()
            .unwrap_or(DriverError::PublisherNotConnected(CONNECT_TIMEOUT)));
    }
    let viewers = Viewers::start(
        config,
        peer_config,
        candidate_ip,
        clock,
        seed,
        &stopping,
        &link_overflowed,
    );
    let viewers = match viewers {
        Ok(viewers) => viewers,
        Err(error) => {
            stopping.store(true, Ordering::Release);
            finish_publisher(publisher)?;
            return Err(error);
        }
    };
    let measured = measure(config, &viewers, &publisher);
    stopping.store(true, Ordering::Release);
    let (outcomes, joined) = viewers.finish();
    joins::delete_all(&joined.sessions, config.token.as_deref(), &config.tls);
    let publisher_stats = finish_publisher(publisher)?;
    let measured = measured?;
    let link_overflowed = link_overflowed.load(Ordering::Relaxed);
    report(
        config,
        outcomes?,
        joined,
        publisher_stats,
        measured,
        link_overflowed,
    )
}

fn validate(config: &BenchConfig) -> Result<(), DriverError> {
    if config.viewers == 0 {
        return Err(DriverError::InvalidConfig("at least one viewer is needed"));
    }
    if config.threads == 0 {
        return Err(DriverError::InvalidConfig(
            "at least one viewer thread is needed",
        ));
    }
    if !(config.ramp_per_second.is_finite() && config.ramp_per_second > 0.0) {
        return Err(DriverError::InvalidConfig(
            "the ramp must be a positive number of viewers per second",
        ));
    }
    if config.duration.is_zero() {
        return Err(DriverError::InvalidConfig(
            "the duration must be more than zero",
        ));
    }
    Ok(())
}

fn finish_publisher(
    publisher: JoinHandle<Result<LoopStats, DriverError>>,
) -> Result<LoopStats, DriverError> {
    publisher
        .join()
        .map_err(|_| DriverError::Panicked("publisher"))?
}

fn report(
    config: &BenchConfig,
    workers: WorkersOutcome,
    joined: JoinOutcome,
    publisher: LoopStats,
    measured: Measured,
    link_overflowed: u64,
) -> Result<RunReport, DriverError> {
    let mut video = Summary::new();
    let mut audio = Summary::new();
    let mut connected = 0;
    for outcome in &workers.viewers {
        video.add(&outcome.video);
        audio.add(&outcome.audio);
        connected += usize::from(outcome.connected);
    }
    if connected == 0 {
        return Err(DriverError::NoViewerConnected {
            failed: config.viewers,
            first_failure: joined
                .first_failure
                .unwrap_or_else(|| "ICE or DTLS never completed".into()),
        });
    }
    let delivered_packets = video.totals().packets + audio.totals().packets;
    Ok(RunReport {
        viewers_requested: config.viewers,
        viewers_connected: connected,
        viewers_failed: config.viewers - connected,
        steady: measured.steady,
        video,
        audio,
        publisher,
        server: measured.server,
        timer_probe: measured.timer_probe,
        delivered_packets,
        bench: BenchUsage {
            workers_cpu: workers.steady_cpu,
            process_cpu_percent: measured.process_cpu_percent,
        },
        link_delay: (!config.link_delay.is_zero()).then_some(LinkDelayUsage {
            one_way: config.link_delay,
            overflowed: link_overflowed,
        }),
        host_steal: measured.host_steal,
    })
}

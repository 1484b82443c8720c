//! The driver against the real engine and signaling, in-process: a publisher and a few
//! viewers over real UDP on loopback. Assertions are about correctness, never speed.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use shardcast::{Engine, EngineConfig};
use shardcast_bench::accounting::Summary;
use shardcast_bench::driver::{
    BenchCodec, BenchConfig, DriverError, LinkDelayUsage, RunReport, run,
};
use shardcast_bench::whip_client::{ClientTls, get_text};
use shardcast_signaling::{Config, Server};

/// A real engine with `shards` shards on loopback, and signaling in front of it.
struct Stack {
    engine: Engine,
    signaling: SocketAddr,
    dir: PathBuf,
}

impl Stack {
    fn start(name: &str, shards: usize) -> Self {
        Self::with_join_window(name, shards, shardcast_proto::shard::DEFAULT_JOIN_WINDOW)
    }

    fn with_join_window(name: &str, shards: usize, join_window: Duration) -> Self {
        let dir =
            std::env::temp_dir().join(format!("shardcast-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let engine = Engine::start(EngineConfig {
            shards,
            cpus: Vec::new(),
            port_base: 0,
            bind: Some(loopback),
            advertise_ips: vec![loopback],
            control_dir: dir.clone(),
            keyframe_interval: shardcast_proto::session::DEFAULT_KEYFRAME_INTERVAL,
            join_window,
        })
        .unwrap();
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let control_dir = dir.clone();
        // Serves until the test process exits.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(Config {
                    listen: SocketAddr::new(loopback, 0),
                    control_dir,
                    tls: None,
                    token: None,
                    cors_origin: "*".into(),
                })
                .await
                .unwrap();
                address_tx.send(server.local_addr().unwrap()).unwrap();
                server.run().await;
            });
        });
        let signaling = address_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self {
            engine,
            signaling,
            dir,
        }
    }

    fn config(&self, stream: &str, viewers: usize) -> BenchConfig {
        BenchConfig {
            whip_url: format!("http://{}/whip/{stream}", self.signaling),
            whep_url: format!("http://{}/whep/{stream}", self.signaling),
            token: None,
            tls: ClientTls::verifying(&[]).unwrap(),
            viewers,
            ramp_per_second: 20.0,
            duration: Duration::from_secs(3),
            threads: 2,
            cpus: Vec::new(),
            lite: None,
            codec: BenchCodec::Vp8,
            offer_candidates: false,
            server_pids: Vec::new(),
            metrics_url: None,
            progress: false,
            link_delay: Duration::ZERO,
        }
    }

    fn stop(self) {
        self.engine.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What every healthy run shows: everyone connected, media of both kinds, nothing lost for
/// good, every viewer's first keyframe within 2 s of its offer.
fn assert_healthy(report: &RunReport, viewers: usize) {
    assert_eq!(report.viewers_requested, viewers);
    assert_eq!(report.viewers_connected, viewers, "{report:#?}");
    assert_eq!(report.viewers_failed, 0);
    assert_eq!(report.steady, Duration::from_secs(3));
    for (kind, summary) in [("video", &report.video), ("audio", &report.audio)] {
        assert_eq!(summary.viewers(), viewers, "{kind}");
        assert_eq!(summary.viewers_joined(), viewers, "{kind}");
        let totals = summary.totals();
        assert!(
            totals.packets > 0 && totals.frames > 0,
            "{kind}: {totals:?}"
        );
        assert_eq!(totals.unrecovered, 0, "{kind}: {totals:?}");
        assert!(summary.latency().is_some(), "{kind}: no send times arrived");
    }
    assert_first_keyframes(&report.video, viewers);
    let packets = report.video.totals().packets + report.audio.totals().packets;
    assert_eq!(report.delivered_packets, packets);
    // The bench measured itself over the same window: its workers did some work.
    let workers_cpu = report.bench.workers_cpu.unwrap();
    assert!(workers_cpu > Duration::ZERO, "{:?}", report.bench);
    assert!(
        report.bench.process_cpu_percent.is_some(),
        "{:?}",
        report.bench
    );
}

fn assert_first_keyframes(video: &Summary, viewers: usize) {
    assert_eq!(video.viewers_with_keyframe(), viewers);
    let first = video.first_keyframe_time().unwrap();
    assert!(first.max <= Duration::from_secs(2), "{first:?}");
}

#[test]
fn five_viewers_receive_the_publishers_vp8_and_opus_without_loss() {
    let stack = Stack::start("vp8", 2);
    let mut config = stack.config("vp8", 5);
    // The engine runs in this process, so its usage is ours.
    config.server_pids = vec![std::process::id()];
    config.metrics_url = Some(format!("http://{}/metrics", stack.signaling));
    let report = run(&config).unwrap();
    stack.stop();

    assert_healthy(&report, 5);
    assert_eq!(report.server.len(), 1);
    // Both shards' probes fired in the window; how late is the machine's business.
    let probe = report.timer_probe.unwrap();
    assert!(probe.firings() > 0, "{probe:?}");
}

/// The sum over shards of a per-shard counter in the signaling's /metrics page.
fn metric_total(stack: &Stack, family: &str) -> u64 {
    let url = format!("http://{}/metrics", stack.signaling);
    let tls = ClientTls::verifying(&[]).unwrap();
    let text = get_text(&url, None, Duration::from_secs(5), &tls).unwrap();
    text.lines()
        .filter(|line| line.starts_with(&format!("{family}{{")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn viewers_joining_within_the_window_start_from_a_recent_keyframe_and_decode() {
    // Ten viewers in half a second, with a window of one second: the publisher's first
    // keyframe, or the one the first viewer asks for, is recent for the viewers after it.
    let stack = Stack::with_join_window("recent", 1, Duration::from_secs(1));
    let config = stack.config("recent", 10);
    let report = run(&config).unwrap();
    let starts = metric_total(&stack, "shardcast_recent_keyframe_starts_total");
    stack.stop();

    assert_healthy(&report, 10);
    assert!(
        starts >= 1,
        "{starts} viewers started from a recent keyframe"
    );
    let video = report.video.totals();
    assert_eq!(video.duplicates, 0, "{video:?}");
    // Those viewers asked the publisher for nothing.
    assert!(
        report.publisher.keyframe_requests < 10,
        "{:?}",
        report.publisher
    );
}

#[test]
fn lite_viewers_with_candidates_in_their_offers_receive_h264() {
    let stack = Stack::start("h264", 1);
    let mut config = stack.config("h264", 3);
    config.codec = BenchCodec::H264;
    config.lite = std::num::NonZeroU32::new(4);
    config.offer_candidates = true;
    config.threads = 1;
    let report = run(&config).unwrap();
    stack.stop();

    assert_healthy(&report, 3);
}

#[test]
fn viewers_behind_a_delayed_link_receive_everything_later() {
    let stack = Stack::start("delay", 1);
    let mut config = stack.config("delay", 3);
    config.link_delay = Duration::from_millis(20);
    let report = run(&config).unwrap();
    stack.stop();

    assert_healthy(&report, 3);
    assert_eq!(
        report.link_delay,
        Some(LinkDelayUsage {
            one_way: Duration::from_millis(20),
            overflowed: 0,
        })
    );
    // Held on the publisher's way out and on each viewer's way in; the histogram reports a
    // bucket's midpoint, at most 1/32 below the sample.
    let latency = report.video.latency().unwrap();
    assert!(
        latency.p50 >= Duration::from_millis(40) * 31 / 32,
        "{latency:?}"
    );
}

#[test]
fn an_unreachable_server_fails_the_publisher_with_a_clear_error() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let config = BenchConfig {
        whip_url: "http://127.0.0.1:1/whip/x".into(),
        whep_url: "http://127.0.0.1:1/whep/x".into(),
        token: None,
        tls: ClientTls::verifying(&[]).unwrap(),
        viewers: 1,
        ramp_per_second: 1.0,
        duration: Duration::from_secs(1),
        threads: 1,
        cpus: Vec::new(),
        lite: None,
        codec: BenchCodec::Vp8,
        offer_candidates: false,
        server_pids: Vec::new(),
        metrics_url: None,
        progress: false,
        link_delay: Duration::ZERO,
    };
    let error = run(&config).unwrap_err();
    assert!(matches!(error, DriverError::PublisherRefused(_)), "{error}");

    // A metrics page that cannot be scraped fails the run before it starts.
    let error = run(&BenchConfig {
        metrics_url: Some("http://127.0.0.1:1/metrics".into()),
        ..config.clone()
    })
    .unwrap_err();
    assert!(matches!(error, DriverError::Metrics(_)), "{error}");

    let error = run(&BenchConfig {
        viewers: 0,
        ..config
    })
    .unwrap_err();
    assert!(matches!(error, DriverError::InvalidConfig(_)), "{error}");
}

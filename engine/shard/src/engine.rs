//! Starting and stopping the whole engine: the certificate, the sockets, the mesh, one pinned
//! thread per shard, the control sockets, and `engine.json` once everything listens.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use shardcast_control::{EngineInfo, control_socket_path, encode, engine_info_path};
use shardcast_proto::clock::WallClock;
use shardcast_proto::dtls::{Certificate, DtlsConfig};
use shardcast_proto::router::ShardMessage;
use shardcast_proto::shard::{ShardConfig, ShardCore};
use shardcast_proto::timer::TimerProbe;

use crate::addresses::advertised_ips;
use crate::control_socket::{self, ControlServer, ShardInbox};
use crate::cores::{available_cores, movable_threads_on, shard_core, spare_cores};
use crate::counters::ShardCounters;
use crate::event_loop::ShardLoop;
use crate::mesh::{ShardLinks, mesh};
use crate::udp::UdpSocket;
use crate::wake::Waker;

/// Messages one shard may have queued for another before further ones are dropped.
const RING_CAPACITY: usize = 4096;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub shards: usize,
    /// Cores to pin shard i to, in order; shards past the list (or all, when empty) go to core
    /// i mod the number of cores.
    pub cpus: Vec<usize>,
    /// Shard i binds `port_base + i`; 0 lets the kernel pick every port.
    pub port_base: u16,
    /// One address to bind; `None` binds `[::]` dual-stack (or `0.0.0.0` without IPv6).
    pub bind: Option<IpAddr>,
    /// Addresses to advertise in candidates; empty means the interface addresses.
    pub advertise_ips: Vec<IpAddr>,
    pub control_dir: PathBuf,
    /// At most one keyframe request per stream reaches its publisher in this time.
    pub keyframe_interval: Duration,
    /// A viewer connecting this soon after a keyframe starts from it instead of asking.
    pub join_window: Duration,
}

/// A running engine. Dropping it stops it too.
pub struct Engine {
    stopping: Arc<AtomicBool>,
    shards: Vec<RunningShard>,
    control_dir: PathBuf,
    stopped: bool,
}

struct RunningShard {
    thread: Option<JoinHandle<()>>,
    waker: Arc<Waker>,
    control: ControlServer,
    local_addr: SocketAddr,
    counters: Arc<ShardCounters>,
}

/// What a shard thread needs, gathered on the starting thread.
struct ShardSetup {
    index: usize,
    core: usize,
    config: ShardConfig,
    socket: UdpSocket,
    links: ShardLinks<ShardMessage>,
    control: mpsc::Receiver<control_socket::ControlRequest>,
    waker: Arc<Waker>,
    counters: Arc<ShardCounters>,
}

impl Engine {
    /// Starts every shard; returns once all of them run and `engine.json` is written.
    pub fn start(config: EngineConfig) -> io::Result<Self> {
        let shard_count = config.shards.max(1);
        create_private_dir(&config.control_dir)?;
        let certificate = Arc::new(Certificate::generate().map_err(io::Error::other)?);
        let dtls = DtlsConfig::new().map_err(io::Error::other)?;
        let wall_clock = wall_clock()?;
        let sockets = bind_sockets(&config, shard_count)?;
        let ips = candidate_ips(&config, &sockets[0])?;
        let wakers: Vec<Arc<Waker>> = (0..shard_count)
            .map(|_| Waker::new().map(Arc::new))
            .collect::<io::Result<_>>()?;
        let cores = available_cores();
        let spare = spare_cores(shard_count, &config.cpus, &cores);
        let stopping = Arc::new(AtomicBool::new(false));

        let mut engine = Self {
            stopping: Arc::clone(&stopping),
            shards: Vec::with_capacity(shard_count),
            control_dir: config.control_dir.clone(),
            stopped: false,
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        let links = mesh::<ShardMessage>(&wakers, RING_CAPACITY);
        for ((index, socket), links) in sockets.into_iter().enumerate().zip(links) {
            let local_addr = socket.local_addr();
            let path = control_socket_path(&config.control_dir, index);
            let listener = control_socket::bind(&path)?;
            let (requests, control) = mpsc::channel();
            let waker = Arc::clone(&wakers[index]);
            let counters = Arc::new(ShardCounters::default());
            let setup = ShardSetup {
                index,
                core: shard_core(index, &config.cpus, &cores),
                config: ShardConfig {
                    index,
                    shards: shard_count,
                    candidates: ips
                        .iter()
                        .map(|&ip| SocketAddr::new(ip, local_addr.port()))
                        .collect(),
                    certificate: Arc::clone(&certificate),
                    dtls: dtls.clone(),
                    wall_clock,
                    seed: rand::random(),
                    probe_period: TimerProbe::DEFAULT_PERIOD,
                    keyframe_interval: config.keyframe_interval,
                    join_window: config.join_window,
                },
                socket,
                links,
                control,
                waker: Arc::clone(&waker),
                counters: Arc::clone(&counters),
            };
            let thread = spawn_shard(setup, Arc::clone(&stopping), ready_tx.clone())?;
            let control = ControlServer::spawn(
                listener,
                path,
                index,
                ShardInbox {
                    requests,
                    waker: Arc::clone(&waker),
                },
                spare.clone(),
            )?;
            engine.shards.push(RunningShard {
                thread: Some(thread),
                waker,
                control,
                local_addr,
                counters,
            });
        }
        drop(ready_tx);
        for _ in 0..shard_count {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(io::Error::other("a shard thread died while starting")),
            }
        }
        let shard_cores: Vec<usize> = (0..shard_count)
            .map(|index| shard_core(index, &config.cpus, &cores))
            .collect();
        let intruders = movable_threads_on(Path::new("/proc"), &shard_cores, std::process::id());
        if intruders > 0 {
            tracing::warn!(
                threads = intruders,
                cores = ?shard_cores,
                "other processes may run on the shard cores and delay their timers; \
                 kernel-tuning/shield-cores (or isolcpus=) keeps them off"
            );
        }
        write_engine_info(&config.control_dir, shard_count)?;
        tracing::info!(
            shards = shard_count,
            candidates = ?ips,
            ports = ?engine.shards.iter().map(|s| s.local_addr.port()).collect::<Vec<_>>(),
            control_dir = %config.control_dir.display(),
            "engine running"
        );
        Ok(engine)
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The address shard `index` is bound to.
    pub fn local_addr(&self, index: usize) -> Option<SocketAddr> {
        self.shards.get(index).map(|shard| shard.local_addr)
    }

    pub fn counters(&self, index: usize) -> Option<&ShardCounters> {
        self.shards.get(index).map(|shard| &*shard.counters)
    }

    /// False once any shard thread has ended (its ring failed).
    pub fn is_running(&self) -> bool {
        self.shards
            .iter()
            .all(|shard| shard.thread.as_ref().is_some_and(|t| !t.is_finished()))
    }

    /// Stops the shards, removes the sockets and `engine.json`.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.stopping.store(true, Ordering::Release);
        for shard in &mut self.shards {
            shard.waker.wake();
            shard.control.stop();
        }
        for shard in &mut self.shards {
            if let Some(thread) = shard.thread.take()
                && thread.join().is_err()
            {
                tracing::error!("a shard thread panicked");
            }
        }
        if let Err(error) = std::fs::remove_file(engine_info_path(&self.control_dir))
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(%error, "cannot remove engine.json");
        }
        tracing::info!("engine stopped");
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn spawn_shard(
    setup: ShardSetup,
    stopping: Arc<AtomicBool>,
    ready: mpsc::Sender<io::Result<()>>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("shard-{}", setup.index))
        .spawn(move || {
            let index = setup.index;
            if !core_affinity::set_for_current(core_affinity::CoreId { id: setup.core }) {
                tracing::warn!(shard = index, core = setup.core, "cannot pin the shard");
            }
            let shard = ShardLoop {
                index,
                core: ShardCore::new(setup.config, Instant::now()),
                socket: setup.socket,
                links: setup.links,
                control: setup.control,
                waker: setup.waker,
                stopping,
                counters: setup.counters,
            };
            let armed = match shard.arm() {
                Ok(armed) => armed,
                Err(error) => {
                    // The starter waits on this channel; if it left, there is no one to tell.
                    ready.send(Err(error)).ok();
                    return;
                }
            };
            ready.send(Ok(())).ok();
            if let Err(error) = armed.run() {
                tracing::error!(shard = index, %error, "shard loop failed");
            }
        })
}

fn bind_sockets(config: &EngineConfig, shard_count: usize) -> io::Result<Vec<UdpSocket>> {
    (0..shard_count)
        .map(|index| {
            let port = if config.port_base == 0 {
                0
            } else {
                u16::try_from(index)
                    .ok()
                    .and_then(|offset| config.port_base.checked_add(offset))
                    .ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidInput, "port range past 65535")
                    })?
            };
            UdpSocket::bind(config.bind, port)
        })
        .collect()
}

/// The advertised IPs this socket family can serve; an unreachable explicit one is warned about.
fn candidate_ips(config: &EngineConfig, socket: &UdpSocket) -> io::Result<Vec<IpAddr>> {
    let bound = socket.local_addr().ip();
    let dual_stack = socket.is_dual_stack();
    let mut ips = advertised_ips(&config.advertise_ips, bound, dual_stack)?;
    ips.retain(|ip| {
        let reachable = dual_stack || ip.is_ipv4() == bound.is_ipv4();
        if !reachable {
            tracing::warn!(%ip, %bound, "advertised address has the wrong family; skipped");
        }
        reachable
    });
    if ips.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to advertise",
        ));
    }
    Ok(ips)
}

/// One reading of both clocks, so RTCP wall-clock times follow the monotonic clock from here on.
fn wall_clock() -> io::Result<WallClock> {
    let origin = Instant::now();
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| io::Error::other("the system clock is before 1970"))?;
    Ok(WallClock::new(origin, since_epoch))
}

/// Creates `dir` (and parents) readable only by us: the sockets in it accept sessions.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Written through a rename so a reader never sees half a file.
fn write_engine_info(dir: &Path, shards: usize) -> io::Result<()> {
    let info = EngineInfo {
        shards,
        pid: std::process::id(),
    };
    let path = engine_info_path(dir);
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, encode(&info))?;
    std::fs::rename(&partial, &path)
}

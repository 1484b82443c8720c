//! The command line: `shardcast engine` runs the shards, `shardcast up` runs the engine and
//! signaling together.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::engine::EngineConfig;

#[derive(Debug, Parser)]
#[command(name = "shardcast", version, about = "WebRTC broadcast SFU")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the media engine: one pinned io_uring shard per core.
    Engine(EngineArgs),
    /// Run the engine and the signaling server together, and supervise both.
    Up(UpArgs),
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Number of shards [default: number of cores]
    #[arg(long)]
    pub shards: Option<usize>,
    /// Cores to pin the shards to, in order (e.g. 2,3)
    #[arg(long, value_delimiter = ',')]
    pub cpus: Vec<usize>,
    /// UDP port of shard 0; shard i uses port-base + i (0: let the kernel pick)
    #[arg(long, default_value_t = 50000)]
    pub port_base: u16,
    /// Bind this one address; sends then need not name their source [default: all addresses, both families]
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Address to advertise in ICE candidates (repeatable, IPv4 and IPv6) [default: interfaces]
    #[arg(long = "advertise-ip")]
    pub advertise_ips: Vec<IpAddr>,
    /// Directory of the control sockets [default: $XDG_RUNTIME_DIR/shardcast, else /tmp/shardcast-<uid>]
    #[arg(long)]
    pub control_dir: Option<PathBuf>,
    /// Milliseconds between two keyframe requests to a publisher: requests from all viewers
    /// of a stream in between are folded into one
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub keyframe_interval_ms: u64,
    /// Milliseconds after a keyframe in which a connecting viewer starts from it (sent from
    /// the packets the shard keeps, so its video starts up to this far behind) instead of
    /// asking the publisher for a new one; 0 always asks, and 1000 is the most, since the shard
    /// keeps packets for a second
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    pub join_window_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Address signaling listens on for WHIP/WHEP
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Base URL printed for publishing and watching [default: derived from --listen]
    #[arg(long)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// TLS certificate chain (PEM) for signaling
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for signaling
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Bearer token signaling requires
    #[arg(long)]
    pub token: Option<String>,
}

impl EngineArgs {
    pub fn control_dir(&self) -> PathBuf {
        self.control_dir.clone().unwrap_or_else(default_control_dir)
    }

    pub fn to_config(&self) -> EngineConfig {
        EngineConfig {
            shards: self.shards.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, |cores| cores.get())
            }),
            cpus: self.cpus.clone(),
            port_base: self.port_base,
            bind: self.bind,
            advertise_ips: self.advertise_ips.clone(),
            control_dir: self.control_dir(),
            keyframe_interval: Duration::from_millis(self.keyframe_interval_ms),
            join_window: Duration::from_millis(self.join_window_ms),
        }
    }

    /// These flags as `shardcast engine` arguments, with the control directory made explicit
    /// so a supervisor and its children agree on it.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["engine".into()];
        if let Some(shards) = self.shards {
            args.extend(["--shards".into(), shards.to_string().into()]);
        }
        if !self.cpus.is_empty() {
            let cpus: Vec<String> = self.cpus.iter().map(usize::to_string).collect();
            args.extend(["--cpus".into(), cpus.join(",").into()]);
        }
        args.extend(["--port-base".into(), self.port_base.to_string().into()]);
        if let Some(bind) = self.bind {
            args.extend(["--bind".into(), bind.to_string().into()]);
        }
        for ip in &self.advertise_ips {
            args.extend(["--advertise-ip".into(), ip.to_string().into()]);
        }
        args.extend(["--control-dir".into(), self.control_dir().into_os_string()]);
        args.extend([
            "--keyframe-interval-ms".into(),
            self.keyframe_interval_ms.to_string().into(),
            "--join-window-ms".into(),
            self.join_window_ms.to_string().into(),
        ]);
        args
    }
}

/// `$XDG_RUNTIME_DIR/shardcast`, else `/tmp/shardcast-<uid>`.
pub fn default_control_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) if !runtime.is_empty() => PathBuf::from(runtime).join("shardcast"),
        _ => {
            // SAFETY: getuid cannot fail and has no preconditions.
            let uid = unsafe { libc::getuid() };
            PathBuf::from(format!("/tmp/shardcast-{uid}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("shardcast").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn parses_engine_flags() {
        let cli = parse(&[
            "engine",
            "--shards",
            "2",
            "--cpus",
            "2,3",
            "--port-base",
            "40000",
            "--advertise-ip",
            "192.0.2.1",
            "--advertise-ip",
            "2001:db8::1",
            "--control-dir",
            "/run/x",
            "--keyframe-interval-ms",
            "500",
            "--join-window-ms",
            "0",
        ]);
        let Command::Engine(engine) = cli.command else {
            panic!("not the engine command");
        };
        let config = engine.to_config();
        assert_eq!(config.shards, 2);
        assert_eq!(config.cpus, [2, 3]);
        assert_eq!(config.port_base, 40000);
        assert_eq!(config.bind, None);
        assert_eq!(config.advertise_ips.len(), 2);
        assert_eq!(config.control_dir, PathBuf::from("/run/x"));
        assert_eq!(config.keyframe_interval, Duration::from_millis(500));
        assert_eq!(config.join_window, Duration::ZERO);
    }

    #[test]
    fn engine_defaults() {
        let Command::Engine(engine) = parse(&["engine"]).command else {
            panic!("not the engine command");
        };
        let config = engine.to_config();
        assert!(config.shards >= 1);
        assert_eq!(config.port_base, 50000);
        assert_eq!(config.keyframe_interval, Duration::from_secs(1));
        assert_eq!(config.join_window, Duration::from_millis(100));
        assert!(config.cpus.is_empty() && config.advertise_ips.is_empty());
    }

    #[test]
    fn up_forwards_engine_flags_that_parse_back_to_the_same_config() {
        let cli = parse(&[
            "up",
            "--listen",
            "127.0.0.1:9000",
            "--shards",
            "3",
            "--bind",
            "127.0.0.1",
            "--advertise-ip",
            "198.51.100.4",
            "--control-dir",
            "/tmp/c",
            "--join-window-ms",
            "250",
        ]);
        let Command::Up(up) = cli.command else {
            panic!("not the up command");
        };
        assert_eq!(up.listen, "127.0.0.1:9000".parse().unwrap());
        let forwarded: Vec<String> = up
            .engine
            .to_args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let forwarded: Vec<&str> = forwarded.iter().map(String::as_str).collect();
        let Command::Engine(engine) = parse(&forwarded).command else {
            panic!("forwarded args are not the engine command");
        };
        let (sent, received) = (up.engine.to_config(), engine.to_config());
        assert_eq!(received.shards, sent.shards);
        assert_eq!(received.bind, sent.bind);
        assert_eq!(received.advertise_ips, sent.advertise_ips);
        assert_eq!(received.control_dir, sent.control_dir);
        assert_eq!(received.keyframe_interval, sent.keyframe_interval);
        assert_eq!(received.join_window, Duration::from_millis(250));
    }

    #[test]
    fn tls_needs_both_cert_and_key() {
        let result = Cli::try_parse_from(["shardcast", "up", "--tls-cert", "c.pem"]);
        assert!(result.is_err());
    }
}

//! Command-line flags.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use clap::Parser;

use crate::server::Config;

#[derive(Debug, Parser)]
#[command(
    name = "shardcast-signaling",
    version,
    about = "WHIP/WHEP signaling for the shardcast engine"
)]
pub struct Args {
    /// Address to serve HTTP(S) on.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Where the engine writes engine.json and its shard sockets
    /// [default: $XDG_RUNTIME_DIR/shardcast, else /tmp/shardcast-<uid>].
    #[arg(long)]
    pub control_dir: Option<PathBuf>,
    /// Certificate chain (PEM); serve HTTPS together with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require `Authorization: Bearer <TOKEN>` on WHIP/WHEP POST, PATCH and DELETE, and on
    /// GET /metrics.
    #[arg(long)]
    pub token: Option<String>,
    /// Access-Control-Allow-Origin on every response.
    #[arg(long, default_value = "*")]
    pub cors_origin: String,
}

impl Args {
    pub fn into_config(self) -> Config {
        Config {
            listen: self.listen,
            control_dir: self.control_dir.unwrap_or_else(default_control_dir),
            tls: self.tls_cert.zip(self.tls_key),
            token: self.token,
            cors_origin: self.cors_origin,
        }
    }
}

/// The engine's default control directory, which both processes compute the same way.
pub fn default_control_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) if !runtime.is_empty() => PathBuf::from(runtime).join("shardcast"),
        // /proc/self belongs to our own uid; this avoids an unsafe getuid() call.
        _ => {
            let uid = std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(0);
            PathBuf::from(format!("/tmp/shardcast-{uid}"))
        }
    }
}

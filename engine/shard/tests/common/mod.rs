//! Starting a real engine in a test: its control directory and its configuration.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use shardcast::{Engine, EngineConfig};

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shardcast-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn start(dir: &Path, shards: usize) -> Engine {
    Engine::start(EngineConfig {
        shards,
        cpus: Vec::new(),
        port_base: 0,
        bind: None,
        advertise_ips: vec![Ipv4Addr::LOCALHOST.into()],
        control_dir: dir.to_owned(),
        keyframe_interval: shardcast_proto::session::DEFAULT_KEYFRAME_INTERVAL,
        join_window: shardcast_proto::shard::DEFAULT_JOIN_WINDOW,
    })
    .unwrap()
}

//! Which shard owns what, and where its control socket lives.
//!
//! Both processes must agree on placement without talking, so the hash is fixed (FNV-1a,
//! 64 bit) rather than std's randomly seeded one.

use std::path::{Path, PathBuf};

/// The shard that owns `key` among `shards`: a stream's home shard (key = stream name) or a
/// viewer's shard (key = session id).
pub fn shard_for(key: &str, shards: usize) -> usize {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = key
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    (hash % shards.max(1) as u64) as usize
}

/// The Unix socket on which shard `index` takes session requests.
pub fn control_socket_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("shard-{index}.sock"))
}

/// The file the engine writes once every shard listens: an [`crate::EngineInfo`] in JSON.
pub fn engine_info_path(dir: &Path) -> PathBuf {
    dir.join("engine.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_stable_and_in_range() {
        assert_eq!(shard_for("stream-a", 4), shard_for("stream-a", 4));
        for n in 1..8 {
            assert!(shard_for("x", n) < n);
        }
        assert_eq!(shard_for("anything", 0), 0);
    }

    #[test]
    fn placement_spreads_keys() {
        let mut hits = [0usize; 2];
        for i in 0..1000 {
            hits[shard_for(&format!("session-{i}"), 2)] += 1;
        }
        assert!(hits[0] > 400 && hits[1] > 400, "{hits:?}");
    }
}

//! Where the engine's threads run. Its own test binary: the kernel's view of a thread is found
//! by name, and the engine tests running beside it would have threads of the same names.

#![allow(clippy::unwrap_used)]

mod common;
use common::{start, temp_dir};

/// The CPUs the kernel lets this process's thread named `name` run on.
fn allowed_cpus_of_thread(name: &str) -> Option<Vec<usize>> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|task| {
        let task = task.ok()?.path();
        let comm = std::fs::read_to_string(task.join("comm")).ok()?;
        (comm.trim() == name).then_some(())?;
        let status = std::fs::read_to_string(task.join("status")).ok()?;
        Some(shardcast::cores::allowed_cpus(&status))
    })
}

#[test]
fn control_threads_keep_off_the_shards_cores() {
    let cores = shardcast::cores::available_cores();
    let dir = temp_dir("spare");
    let engine = start(&dir, 1);
    let control = allowed_cpus_of_thread("control-0").expect("the control thread runs");
    let shard = allowed_cpus_of_thread("shard-0").expect("the shard thread runs");
    assert_eq!(shard, [cores[0]], "the shard is pinned");
    if cores.len() > 1 {
        assert_eq!(
            control,
            cores[1..],
            "the control thread is on the spare cores"
        );
    }
    engine.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

//! Which core each shard runs on, and keeping other processes (signaling) off those cores.
//!
//! A shard owns its core: anything else scheduled there delays its timers (the lateness
//! histogram shows it as 2–20 ms firings when signaling shares the core under load).

use std::io;

/// The cores this process may run on.
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect()
}

/// The core shard `index` is pinned to: the one `cpus` (`--cpus`) names, else the index'th
/// available core, wrapping around.
pub fn shard_core(index: usize, cpus: &[usize], available: &[usize]) -> usize {
    cpus.get(index).copied().unwrap_or_else(|| {
        available
            .get(index % available.len().max(1))
            .copied()
            .unwrap_or(index)
    })
}

/// The available cores no shard is pinned to.
pub fn spare_cores(shards: usize, cpus: &[usize], available: &[usize]) -> Vec<usize> {
    let taken: Vec<usize> = (0..shards)
        .map(|index| shard_core(index, cpus, available))
        .collect();
    available
        .iter()
        .copied()
        .filter(|core| !taken.contains(core))
        .collect()
}

/// How a process was kept off the shards' cores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Pinned to these spare cores.
    Pinned(Vec<usize>),
    /// Every core has a shard: the process runs at this lower priority (nice value), so a
    /// busy shard wins its core.
    Yielding(i32),
}

/// The nice value of a process that shares cores with shards. Signaling needs little CPU
/// (a few requests per join); at nice 10 it gets about a tenth of a contended core.
const SHARED_CORE_NICE: i32 = 10;

/// Keeps process (or thread) `pid` off the shards' cores: pins it to `spare` when there are
/// spare cores, else lowers its priority. Pid 0 is the calling thread.
pub fn keep_off_shards(pid: u32, spare: &[usize]) -> io::Result<Placement> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    if spare.is_empty() {
        // SAFETY: setpriority takes plain integers.
        let result =
            unsafe { libc::setpriority(libc::PRIO_PROCESS, pid as libc::id_t, SHARED_CORE_NICE) };
        return match result {
            0 => Ok(Placement::Yielding(SHARED_CORE_NICE)),
            _ => Err(io::Error::last_os_error()),
        };
    }
    // SAFETY: cpu_set_t is plain bits; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &core in spare {
        if core < libc::CPU_SETSIZE as usize {
            // SAFETY: `core` is within the set, checked above.
            unsafe { libc::CPU_SET(core, &mut set) };
        }
    }
    // SAFETY: `set` lives across the call and its size is passed with it.
    let result = unsafe { libc::sched_setaffinity(pid, std::mem::size_of_val(&set), &set) };
    match result {
        0 => Ok(Placement::Pinned(spare.to_vec())),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_take_named_cores_else_wrap_around_the_available_ones() {
        let available = [0, 1, 2, 3];
        assert_eq!(shard_core(1, &[2, 3], &available), 3);
        assert_eq!(shard_core(5, &[], &available), 1);
        assert_eq!(shard_core(2, &[7], &[]), 2);
        assert_eq!(spare_cores(2, &[], &available), [2, 3]);
        assert_eq!(spare_cores(2, &[2, 3], &available), [0, 1]);
        assert_eq!(spare_cores(4, &[], &available), Vec::<usize>::new());
        assert_eq!(spare_cores(9, &[], &available), Vec::<usize>::new());
    }

    #[test]
    fn a_process_is_pinned_to_spare_cores_or_yields() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let first = available_cores()[0];
        assert_eq!(
            keep_off_shards(child.id(), &[first]).unwrap(),
            Placement::Pinned(vec![first])
        );
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let allowed = status
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim()
            .to_owned();
        assert_eq!(allowed, first.to_string());

        assert_eq!(
            keep_off_shards(child.id(), &[]).unwrap(),
            Placement::Yielding(SHARED_CORE_NICE)
        );
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
        // Field 19 is the nice value; the command name (field 2) has no spaces here.
        let nice: i32 = stat.split_whitespace().nth(18).unwrap().parse().unwrap();
        assert_eq!(nice, SHARED_CORE_NICE);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

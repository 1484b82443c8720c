//! Which core each shard runs on, and keeping other processes (signaling) off those cores.
//!
//! A shard owns its core: anything else scheduled there delays its timers (the lateness
//! histogram shows it as 2–20 ms firings when signaling shares the core under load).

use std::io;
use std::path::Path;

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

/// Threads of other processes, under `proc` (`/proc`), allowed on one of `shard_cores` and on
/// some other core too: each can take a shard's core from it and delay its timers, and each
/// could be moved (`kernel-tuning/shield-cores`). Per-CPU kernel threads, allowed on one core
/// only, are not counted: nothing moves them.
pub fn movable_threads_on(proc: &Path, shard_cores: &[usize], own_pid: u32) -> usize {
    let Ok(processes) = std::fs::read_dir(proc) else {
        return 0;
    };
    let own = own_pid.to_string();
    let mut count = 0;
    for process in processes.flatten() {
        let name = process.file_name();
        let Some(pid) = name.to_str() else { continue };
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(process.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            // Threads come and go while this reads; one that has gone is not counted.
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
                continue;
            };
            let allowed = allowed_cpus(&status);
            let on_shard = allowed.iter().any(|cpu| shard_cores.contains(cpu));
            let elsewhere = allowed.iter().any(|cpu| !shard_cores.contains(cpu));
            count += usize::from(on_shard && elsewhere);
        }
    }
    count
}

/// The CPUs a thread may run on, from its `/proc/.../status` text (`Cpus_allowed_list`);
/// none when the line is missing.
pub fn allowed_cpus(status: &str) -> Vec<usize> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .map(|list| parse_cpu_list(list.trim()))
        .unwrap_or_default()
}

/// A kernel CPU list such as `0-3,8`; parts that do not parse are left out.
fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(first), Ok(last)) = (first.parse::<usize>(), last.parse::<usize>()) {
            cpus.extend(first..=last);
        }
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_expand_ranges_and_skip_what_does_not_parse() {
        assert_eq!(parse_cpu_list("0-2,5,7-8"), [0, 1, 2, 5, 7, 8]);
        assert_eq!(parse_cpu_list("3"), [3]);
        assert_eq!(parse_cpu_list("x,1"), [1]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
    }

    #[test]
    fn movable_threads_on_shard_cores_are_counted_pinned_ones_and_our_own_not() {
        let proc = std::env::temp_dir().join(format!("shardcast-cores-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&proc);
        let threads = [
            ("1", "1", "0-3"),    // may run on the shard core 2, and elsewhere: counted
            ("1", "2", "2"),      // a per-CPU kernel thread: nothing moves it
            ("20", "20", "0-1"),  // never on a shard core
            ("30", "31", "1,3"),  // on shard core 3 and on core 1: counted
            ("77", "77", "0-3"),  // our own process
            ("self", "5", "0-3"), // not a process directory
        ];
        for (pid, tid, cpus) in threads {
            let task = proc.join(pid).join("task").join(tid);
            std::fs::create_dir_all(&task).unwrap();
            let status = format!("Name:\tx\nCpus_allowed_list:\t{cpus}\n");
            std::fs::write(task.join("status"), status).unwrap();
        }
        assert_eq!(movable_threads_on(&proc, &[2, 3], 77), 2);
        assert_eq!(movable_threads_on(&proc, &[0, 1, 2, 3], 77), 0);
        assert_eq!(movable_threads_on(&proc.join("missing"), &[2], 77), 0);
        std::fs::remove_dir_all(&proc).unwrap();
    }

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

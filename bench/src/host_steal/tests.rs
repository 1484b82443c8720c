//! Parsing `/proc/stat` text and the steal between two hand-built samples.

use std::time::Duration;

use super::*;

/// A real `/proc/stat` of a two-CPU VM: the aggregate line first, ten values per CPU
/// (guest and guest_nice after steal), then lines that are not about CPUs at all.
const STAT: &str = "\
cpu  2655106 9520 395111 1139883 705121 0 66448 54601 0 0
cpu0 1291372 4589 186949 554257 391820 0 56343 26987 0 0
cpu1 1363733 4930 208161 585626 313301 0 10105 27614 0 0
intr 24744778 0 0 0 1 1 5042 2482 0 423
ctxt 38653232
btime 1765100000
processes 123456
procs_running 2
softirq 9876543 0 1234 5 678 90 0 12 3456 0 7890
";

fn ticks(cpu: u32, steal: u64) -> CpuTicks {
    CpuTicks { cpu, steal }
}

fn sample_at(at: Instant, cpus: &[CpuTicks]) -> StealSample {
    StealSample {
        at,
        cpus: cpus.to_vec(),
    }
}

#[test]
fn parses_every_cpus_steal() {
    assert_eq!(
        parse_steal_ticks(STAT),
        Some(vec![ticks(0, 26987), ticks(1, 27614)])
    );
    // Older kernels stop at steal; CPUs listed out of order come out sorted.
    let short = "cpu  2 2 2 2 2 2 2 9\ncpu3 1 1 1 1 1 1 1 7\ncpu2 1 1 1 1 1 1 1 2\n";
    assert_eq!(
        parse_steal_ticks(short),
        Some(vec![ticks(2, 2), ticks(3, 7)])
    );
}

#[test]
fn refuses_a_truncated_or_odd_cpu_line() {
    let truncated = STAT.replace(
        "cpu1 1363733 4930 208161 585626 313301 0 10105 27614 0 0",
        "cpu1 1363733 4930 208161 585626 313301 0 10105",
    );
    assert_eq!(parse_steal_ticks(&truncated), None, "7 values, no steal");
    let garbled = STAT.replace(" 27614 ", " -3 ");
    assert_eq!(parse_steal_ticks(&garbled), None, "a negative count");
    let trailing = STAT.replace("27614 0 0", "27614 0 x");
    assert_eq!(
        parse_steal_ticks(&trailing),
        None,
        "a word among the values"
    );
    let unnamed = STAT.replace("cpu1 ", "cpuX ");
    assert_eq!(parse_steal_ticks(&unnamed), None, "no CPU number");
    assert_eq!(
        parse_steal_ticks("cpu  1 1 1 1 1 1 1 1\nctxt 5\n"),
        None,
        "the aggregate alone says nothing per CPU"
    );
    assert_eq!(parse_steal_ticks(""), None);
}

#[test]
fn steal_is_milliseconds_and_percent_of_the_window() {
    let start = Instant::now();
    let first = sample_at(start, &[ticks(0, 1_000), ticks(1, 5_000)]);
    let last = sample_at(
        start + Duration::from_secs(10),
        &[ticks(0, 1_004), ticks(1, 5_120)],
    );
    assert_eq!(
        steal_with_clock(&first, &last, 100),
        Some(vec![
            CpuSteal {
                cpu: 0,
                ms: 40.0,
                percent: 0.4,
            },
            CpuSteal {
                cpu: 1,
                ms: 1_200.0,
                percent: 12.0,
            },
        ])
    );
    // Another tick rate: 50 ticks at 250 per second are 200 ms, a twentieth of 4 s.
    let last = sample_at(start + Duration::from_secs(4), &[ticks(0, 1_050)]);
    assert_eq!(
        steal_with_clock(&first, &last, 250),
        Some(vec![CpuSteal {
            cpu: 0,
            ms: 200.0,
            percent: 5.0,
        }])
    );
}

#[test]
fn a_counter_stepping_back_is_no_steal() {
    let start = Instant::now();
    let first = sample_at(start, &[ticks(0, 1_000)]);
    let last = sample_at(start + Duration::from_secs(1), &[ticks(0, 990)]);
    let steal = steal_with_clock(&first, &last, 100).unwrap();
    assert_eq!((steal[0].ms, steal[0].percent), (0.0, 0.0));

    let same = steal_with_clock(&first, &first, 100).unwrap();
    assert_eq!(same[0].percent, 0.0, "no time passed, no division by zero");
}

#[test]
fn a_cpu_missing_from_either_sample_is_left_out() {
    let start = Instant::now();
    let first = sample_at(start, &[ticks(0, 10), ticks(1, 10)]);
    let last = sample_at(
        start + Duration::from_secs(1),
        &[ticks(0, 20), ticks(2, 30)],
    );
    let steal = steal_with_clock(&first, &last, 100).unwrap();
    let cpus: Vec<u32> = steal.iter().map(|cpu| cpu.cpu).collect();
    assert_eq!(cpus, [0], "cpu1 went offline, cpu2 came online");
    assert_eq!(steal[0].ms, 100.0);

    let elsewhere = sample_at(start + Duration::from_secs(1), &[ticks(5, 30)]);
    assert_eq!(steal_with_clock(&first, &elsewhere, 100), None);
}

#[test]
fn samples_this_host() {
    let first = sample(Instant::now()).unwrap();
    let last = sample(Instant::now()).unwrap();
    assert!(!first.cpus.is_empty());
    let steal = steal_between(&first, &last).unwrap();
    assert!(
        steal
            .iter()
            .all(|cpu| cpu.ms >= 0.0 && cpu.percent.is_finite()),
        "{steal:?}"
    );
}

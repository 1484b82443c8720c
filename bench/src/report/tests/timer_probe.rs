//! The table's timer probe lines when the engine measured only part of them.

use crate::server_metrics::ProbeWindow;

use super::{report, table};

/// The table of the report with its probe window changed by `change`.
fn table_with_probe(change: impl FnOnce(&mut ProbeWindow)) -> String {
    let mut run = report(Vec::new());
    change(run.timer_probe.as_mut().unwrap());
    table(&run)
}

#[test]
fn the_table_leaves_out_check_gaps_not_measured() {
    let text = table_with_probe(|probe| probe.preemptions = None);
    assert!(
        text.contains(
            "own CPU worst <1 ms (0 gaps >= 2 ms), off its CPU 2 gaps >= 2 ms (worst <5 ms), \
             - preemptions\n"
        ),
        "{text}"
    );
    let text = table_with_probe(|probe| {
        probe.on_cpu_gaps = Some([0; 9]);
        probe.off_cpu_gaps = Some([0; 9]);
    });
    assert!(
        text.contains(
            "server loop between timer checks: own CPU worst - (0 gaps >= 2 ms), \
             off its CPU 0 gaps >= 2 ms (worst -), 4123 preemptions\n"
        ),
        "{text}"
    );

    // An older engine: the probe alone, as before check gaps were measured.
    let text = table_with_probe(|probe| {
        probe.on_cpu_gaps = None;
        probe.off_cpu_gaps = None;
        probe.preemptions = None;
    });
    assert!(
        text.contains(
            "1 periods skipped\n\
             lateness  <1 ms  <2 ms  <5 ms  <10 ms  <20 ms  <40 ms  <80 ms  <160 ms  >=160 ms\n\
             firings     990      8      1       1       0       0       0        0         0\n\
             bench CPU:"
        ),
        "{text}"
    );
    assert!(!text.contains("gaps"), "{text}");
    // Half of the check gaps prove nothing: left out too.
    let half = table_with_probe(|probe| probe.on_cpu_gaps = None);
    assert!(!half.contains("gaps"), "{half}");
}

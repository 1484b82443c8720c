//! Parsing pages shaped like shardcast-signaling's, and the window's arithmetic.

use super::exposition::Sample;
use super::*;

const BUCKET: &str = "shardcast_timer_lateness_seconds_bucket";
const GAP_BUCKET: &str = "shardcast_timer_check_gap_seconds_bucket";
const LES: [&str; LATENESS_BUCKETS] = [
    "0.001", "0.002", "0.005", "0.01", "0.02", "0.04", "0.08", "0.16", "+Inf",
];

/// Two shards' cumulative counts per `le`.
type PerShard = [[u64; LATENESS_BUCKETS]; 2];

/// A page with two shards, as an engine without check gaps writes it; `probe` holds each
/// shard's cumulative probe counts per `le`.
fn page(probe: PerShard, skipped: [u64; 2]) -> String {
    let mut text = String::from(
        "# HELP shardcast_timer_lateness_seconds How late.\n\
         # TYPE shardcast_timer_lateness_seconds histogram\n",
    );
    for (shard, counts) in probe.iter().enumerate() {
        for timer in ["session", "probe"] {
            for (le, count) in LES.iter().zip(counts) {
                // Session timers get other numbers, which must not leak into the probe's.
                let count = if timer == "probe" {
                    *count
                } else {
                    count + 1000
                };
                text.push_str(&format!(
                    "{BUCKET}{{shard=\"{shard}\",timer=\"{timer}\",le=\"{le}\"}} {count}\n"
                ));
            }
            text.push_str(&format!(
                "shardcast_timer_lateness_seconds_count{{shard=\"{shard}\",timer=\"{timer}\"}} {}\n",
                counts[8]
            ));
        }
    }
    text.push_str("# TYPE shardcast_timer_probe_skipped_periods_total counter\n");
    for (shard, skipped) in skipped.iter().enumerate() {
        text.push_str(&format!("{SKIPPED}{{shard=\"{shard}\"}} {skipped}\n"));
    }
    text
}

/// `page` followed by the check gaps' two histograms and the preemptions, as a newer engine
/// writes them.
fn with_check_gaps(
    page: String,
    on_cpu: PerShard,
    off_cpu: PerShard,
    preempted: [u64; 2],
) -> String {
    let mut text = page;
    text.push_str(
        "# HELP shardcast_timer_check_gap_seconds Gaps.\n\
         # TYPE shardcast_timer_check_gap_seconds histogram\n",
    );
    for shard in 0..2 {
        for (time, counts) in [("on_cpu", on_cpu[shard]), ("off_cpu", off_cpu[shard])] {
            let labels = format!("shard=\"{shard}\",time=\"{time}\"");
            for (le, count) in LES.iter().zip(counts) {
                text.push_str(&format!("{GAP_BUCKET}{{{labels},le=\"{le}\"}} {count}\n"));
            }
            text.push_str(&format!(
                "shardcast_timer_check_gap_seconds_sum{{{labels}}} 0.5\n\
                 shardcast_timer_check_gap_seconds_count{{{labels}}} {}\n",
                counts[8]
            ));
        }
    }
    text.push_str("# TYPE shardcast_shard_preemptions_total counter\n");
    for (shard, count) in preempted.iter().enumerate() {
        text.push_str(&format!("{PREEMPTIONS}{{shard=\"{shard}\"}} {count}\n"));
    }
    text
}

/// A page with check gaps whose every figure differs from shard to shard and histogram to
/// histogram, so a mix-up shows.
fn page_with_check_gaps() -> String {
    with_check_gaps(
        page([[1; LATENESS_BUCKETS], [2; LATENESS_BUCKETS]], [0, 0]),
        [
            [100, 110, 110, 110, 110, 110, 110, 110, 110],
            [200, 200, 200, 200, 200, 200, 200, 200, 200],
        ],
        [
            [50, 60, 70, 70, 70, 70, 70, 70, 70],
            [300, 300, 300, 301, 301, 301, 301, 301, 302],
        ],
        [4000, 123],
    )
}

#[test]
fn probe_buckets_are_made_per_bucket_and_summed_over_shards() {
    let text = page(
        [
            [90, 98, 99, 100, 100, 100, 100, 100, 100],
            [50, 50, 50, 50, 50, 50, 50, 51, 52],
        ],
        [0, 3],
    );
    let scrape = parse_probe(&text).unwrap();
    assert_eq!(scrape.buckets, [140, 8, 1, 1, 0, 0, 0, 1, 1]);
    assert_eq!(scrape.skipped_periods, 3);
    // An engine that does not measure check gaps.
    assert_eq!(
        (scrape.on_cpu_gaps, scrape.off_cpu_gaps, scrape.preemptions),
        (None, None, None)
    );
}

#[test]
fn check_gaps_and_preemptions_are_read_apart_and_summed_over_shards() {
    let scrape = parse_probe(&page_with_check_gaps()).unwrap();
    assert_eq!(scrape.buckets, [3, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(scrape.on_cpu_gaps, Some([300, 10, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(scrape.off_cpu_gaps, Some([350, 10, 10, 1, 0, 0, 0, 0, 1]));
    assert_eq!(scrape.preemptions, Some(4123));
}

#[test]
fn labels_in_any_order_with_escapes_and_timestamps() {
    let mut text = String::new();
    for (le, count) in [
        ("0.001", "7"),
        ("0.002", "8"),
        ("0.005", "8"),
        ("0.01", "8"),
        ("0.02", "8"),
        ("0.04", "8"),
        ("0.08", "8"),
        ("0.16", "8"),
        ("+Inf", "9e0"),
    ] {
        text.push_str(&format!(
            "{BUCKET}{{le=\"{le}\", note=\"a \\\"quoted\\\" \\\\ {{brace}}\",timer=\"probe\",}} {count} 1712345678000\n"
        ));
    }
    let scrape = parse_probe(&text).unwrap();
    assert_eq!(scrape.buckets, [7, 1, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(scrape.skipped_periods, 0, "no skipped-periods line: none");

    let sample = Sample::parse(1, "m{a=\"x\\\"y\\\\z\\n\"} 1").unwrap();
    assert_eq!(sample.label("a"), Some("x\"y\\z\n"));
}

/// `text` without the lines that contain every one of `parts`.
fn without(text: &str, parts: &[&str]) -> String {
    text.lines()
        .filter(|line| !parts.iter().all(|part| line.contains(part)))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn pages_without_a_whole_probe_histogram_or_with_garbage_are_errors() {
    let complete = page([[1; LATENESS_BUCKETS], [1; LATENESS_BUCKETS]], [0, 0]);
    assert!(parse_probe(&complete).is_ok());
    let no_inf = without(&complete, &["probe", "+Inf"]);
    assert!(matches!(
        parse_probe(&no_inf),
        Err(MetricsError::Incomplete(PROBE))
    ));
    // One shard's bucket missing, though the other shard's counts would hide it in a sum.
    let one_shard = without(&complete, &["shard=\"1\",timer=\"probe\",le=\"0.002\""]);
    assert!(matches!(
        parse_probe(&one_shard),
        Err(MetricsError::Incomplete(PROBE))
    ));
    let no_probe = without(&complete, &["probe"]);
    assert!(matches!(parse_probe(&no_probe), Err(MetricsError::NoProbe)));
    assert!(matches!(
        parse_probe("# nothing here\n"),
        Err(MetricsError::NoProbe)
    ));
    // Cumulative counts that fall: not a histogram.
    let falling = complete.replace(
        "timer=\"probe\",le=\"+Inf\"} 1",
        "timer=\"probe\",le=\"+Inf\"} 0",
    );
    assert!(matches!(
        parse_probe(&falling),
        Err(MetricsError::Incomplete(PROBE))
    ));

    for (line, problem) in [
        (
            "shardcast_timer_lateness_seconds_bucket{timer=\"probe\",le=\"0.003\"} 1",
            "an le that is not the engine's",
        ),
        (
            "shardcast_timer_lateness_seconds_bucket{timer=\"probe\"} 1",
            "a bucket without le",
        ),
        (
            "shardcast_timer_probe_skipped_periods_total 1.5",
            "a count that is not a whole number",
        ),
        (
            "shardcast_shard_preemptions_total{shard=\"0\"} x",
            "a value that is not a number",
        ),
        (
            "shardcast_timer_check_gap_seconds_bucket{time=\"off_cpu\",le=\"0.03\"} 1",
            "an le that is not the engine's",
        ),
        (
            "shardcast_timer_probe_skipped_periods_total",
            "a sample without a value",
        ),
        (
            "m{a=\"unterminated} 1",
            "a label value without its closing quote",
        ),
        ("m{a=b} 1", "a label value without quotes"),
    ] {
        let text = format!("# a comment\n{line}\n");
        match parse_probe(&text) {
            Err(MetricsError::Parse {
                line: 2,
                problem: found,
            }) => assert_eq!(found, problem),
            other => panic!("{line}: {other:?}"),
        }
    }

    let twice = format!("{complete}{BUCKET}{{shard=\"0\",timer=\"probe\",le=\"0.01\"}} 1\n");
    match parse_probe(&twice) {
        Err(MetricsError::Parse { line, problem }) => {
            assert_eq!(problem, "a bucket written twice");
            assert_eq!(line, twice.lines().count());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_gaps_with_only_some_buckets_are_errors() {
    let complete = page_with_check_gaps();
    assert!(parse_probe(&complete).is_ok());
    for (missing, histogram) in [
        (["on_cpu", "le=\"+Inf\""], ON_CPU_GAPS),
        (
            ["shard=\"1\",time=\"off_cpu\"", "le=\"0.005\""],
            OFF_CPU_GAPS,
        ),
    ] {
        match parse_probe(&without(&complete, &missing)) {
            Err(MetricsError::Incomplete(found)) => assert_eq!(found, histogram),
            other => panic!("{missing:?}: {other:?}"),
        }
    }
    let falling = complete.replace(
        "shard=\"0\",time=\"on_cpu\",le=\"0.002\"} 110",
        "shard=\"0\",time=\"on_cpu\",le=\"0.002\"} 99",
    );
    assert_ne!(falling, complete);
    assert!(matches!(
        parse_probe(&falling),
        Err(MetricsError::Incomplete(ON_CPU_GAPS))
    ));
    assert_eq!(
        MetricsError::Incomplete(OFF_CPU_GAPS).to_string(),
        "the metrics page has an incomplete histogram \
         (shardcast_timer_check_gap_seconds, time=\"off_cpu\"): a bucket missing, or counts that fall"
    );

    // Without any of a histogram's samples, or without the counter: not measured.
    let no_off_cpu = without(&complete, &["off_cpu"]);
    let scrape = parse_probe(&no_off_cpu).unwrap();
    assert_eq!(scrape.off_cpu_gaps, None);
    assert_eq!(scrape.on_cpu_gaps, Some([300, 10, 0, 0, 0, 0, 0, 0, 0]));
    let no_preemptions = without(&complete, &[PREEMPTIONS]);
    assert_eq!(parse_probe(&no_preemptions).unwrap().preemptions, None);
}

/// A scrape whose every figure is known; the check gaps are `gaps` in every bucket.
fn scrape(buckets: Buckets, skipped_periods: u64, gaps: Option<u64>) -> ProbeScrape {
    ProbeScrape {
        buckets,
        skipped_periods,
        on_cpu_gaps: gaps.map(|count| [count; LATENESS_BUCKETS]),
        off_cpu_gaps: gaps.map(|count| [count * 2; LATENESS_BUCKETS]),
        preemptions: gaps.map(|count| count * 3),
    }
}

#[test]
fn the_window_is_the_difference_of_its_two_scrapes() {
    let first = scrape([1000, 10, 0, 0, 0, 0, 0, 0, 0], 2, Some(10));
    let last = scrape([1997, 11, 1, 1, 0, 0, 0, 0, 0], 2, Some(15));
    let window = ProbeWindow::between(&first, &last).unwrap();
    assert_eq!(window.buckets, [997, 1, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!((window.firings(), window.skipped_periods), (1000, 0));
    assert_eq!(window.percent_below(2_000), Some(99.8));
    assert_eq!(window.percent_below(10_000), Some(100.0));
    assert_eq!(window.percent_below(1_000), Some(99.7));
    assert_eq!(worst_bucket(&window.buckets), Some(3));
    assert_eq!(count_at_least(&window.buckets, 2_000), 2);
    assert_eq!(count_at_least(&window.buckets, 1_000), 3);
    assert_eq!(bucket_label(3), "<10 ms");
    assert_eq!(window.on_cpu_gaps, Some([5; LATENESS_BUCKETS]));
    assert_eq!(window.off_cpu_gaps, Some([10; LATENESS_BUCKETS]));
    assert_eq!(window.preemptions, Some(15));

    // An engine without check gaps at either end: the probe's window, without them.
    let older_first = scrape(first.buckets, 2, None);
    let older_last = scrape(last.buckets, 2, None);
    for (first, last) in [(&first, &older_last), (&older_first, &last)] {
        let window = ProbeWindow::between(first, last).unwrap();
        assert_eq!(window.firings(), 1000);
        assert_eq!(
            (window.on_cpu_gaps, window.off_cpu_gaps, window.preemptions),
            (None, None, None)
        );
    }

    let restarted = scrape([5, 0, 0, 0, 0, 0, 0, 0, 0], 0, Some(0));
    assert!(matches!(
        ProbeWindow::between(&last, &restarted),
        Err(MetricsError::WentBackwards)
    ));
    // Any one of the check gaps' counts falling is a restart too.
    let mut fewer_on_cpu = last;
    fewer_on_cpu.on_cpu_gaps = first.on_cpu_gaps;
    let mut fewer_off_cpu = last;
    fewer_off_cpu.off_cpu_gaps = Some([29; LATENESS_BUCKETS]);
    let mut fewer_preemptions = last;
    fewer_preemptions.preemptions = Some(44);
    for end in [fewer_on_cpu, fewer_off_cpu, fewer_preemptions] {
        assert!(
            matches!(
                ProbeWindow::between(&last, &end),
                Err(MetricsError::WentBackwards)
            ),
            "{end:?}"
        );
    }
    let empty = ProbeWindow::between(&last, &last).unwrap();
    assert_eq!(
        (empty.percent_below(2_000), worst_bucket(&empty.buckets)),
        (None, None)
    );
    assert_eq!(bucket_label(0), "<1 ms");
    assert_eq!(bucket_label(8), ">=160 ms");
}

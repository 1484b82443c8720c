//! Parsing pages shaped like shardcast-signaling's, and the window's arithmetic.

use super::*;

/// A page with two shards; `probe` holds each shard's cumulative probe counts per `le`.
fn page(probe: [[u64; LATENESS_BUCKETS]; 2], skipped: [u64; 2]) -> String {
    let les = [
        "0.001", "0.002", "0.005", "0.01", "0.02", "0.04", "0.08", "0.16", "+Inf",
    ];
    let mut text = String::from(
        "# HELP shardcast_timer_lateness_seconds How late.\n\
         # TYPE shardcast_timer_lateness_seconds histogram\n",
    );
    for (shard, counts) in probe.iter().enumerate() {
        for timer in ["session", "probe"] {
            for (le, count) in les.iter().zip(counts) {
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

    let sample = Sample::parse("m{a=\"x\\\"y\\\\z\\n\"} 1").unwrap();
    assert_eq!(sample.label("a"), Some("x\"y\\z\n"));
}

#[test]
fn pages_without_a_whole_probe_histogram_or_with_garbage_are_errors() {
    let complete = page([[1; LATENESS_BUCKETS], [1; LATENESS_BUCKETS]], [0, 0]);
    let no_inf: String = complete
        .lines()
        .filter(|line| !(line.contains("probe") && line.contains("+Inf")))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(matches!(parse_probe(&no_inf), Err(MetricsError::NoProbe)));
    assert!(matches!(
        parse_probe("# nothing here\n"),
        Err(MetricsError::NoProbe)
    ));
    // Cumulative counts that fall: not a histogram.
    let falling = complete.replace(
        "timer=\"probe\",le=\"+Inf\"} 1",
        "timer=\"probe\",le=\"+Inf\"} 0",
    );
    assert!(matches!(parse_probe(&falling), Err(MetricsError::NoProbe)));

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
}

#[test]
fn the_window_is_the_difference_of_its_two_scrapes() {
    let first = ProbeScrape {
        buckets: [1000, 10, 0, 0, 0, 0, 0, 0, 0],
        skipped_periods: 2,
    };
    let last = ProbeScrape {
        buckets: [1997, 11, 1, 1, 0, 0, 0, 0, 0],
        skipped_periods: 2,
    };
    let window = ProbeWindow::between(&first, &last).unwrap();
    assert_eq!(window.buckets, [997, 1, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!((window.firings(), window.skipped_periods), (1000, 0));
    assert_eq!(window.percent_below(2_000), Some(99.8));
    assert_eq!(window.percent_below(10_000), Some(100.0));
    assert_eq!(window.percent_below(1_000), Some(99.7));
    assert_eq!(window.worst_bucket(), Some(3));
    assert_eq!(bucket_label(3), "<10 ms");

    let restarted = ProbeScrape {
        buckets: [5, 0, 0, 0, 0, 0, 0, 0, 0],
        skipped_periods: 0,
    };
    assert!(matches!(
        ProbeWindow::between(&last, &restarted),
        Err(MetricsError::WentBackwards)
    ));
    let empty = ProbeWindow::between(&last, &last).unwrap();
    assert_eq!(
        (empty.percent_below(2_000), empty.worst_bucket()),
        (None, None)
    );
    assert_eq!(bucket_label(0), "<1 ms");
    assert_eq!(bucket_label(8), ">=160 ms");
}

//! The progress bar on stderr: during the ramp, offers posted out of all viewers with the
//! posting rate, viewers connected and failed; during the steady window, the time elapsed
//! with the viewer-packets received per second and the viewers connected.
//!
//! The main thread draws it from its wait loop with the [`LiveTotals`] of the moment. The
//! bar hides itself when stderr is not a terminal (indicatif's own check), or when the run
//! asked for no progress; it is cleared when dropped, so the final table stands alone.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use super::live::LiveTotals;

/// Rates are averaged over this much of the recent past.
const RATE_SPAN: Duration = Duration::from_secs(1);
const TEMPLATE: &str = "{prefix:6} [{wide_bar}] {msg}";
const BAR_CHARS: &str = "=> ";

/// A rate per second from samples of a running count, over the last [`RATE_SPAN`].
#[derive(Debug, Default)]
pub struct RateMeter {
    samples: VecDeque<(Instant, u64)>,
}

impl RateMeter {
    /// Adds the count at `now`; the rate since the oldest sample kept, `None` until time
    /// has passed.
    pub fn update(&mut self, now: Instant, count: u64) -> Option<f64> {
        self.samples.push_back((now, count));
        // Keep one sample at least a span old, so the rate always covers a full span.
        while self
            .samples
            .get(1)
            .is_some_and(|&(at, _)| now.saturating_duration_since(at) >= RATE_SPAN)
        {
            self.samples.pop_front();
        }
        let &(since, first) = self.samples.front()?;
        let elapsed = now.saturating_duration_since(since).as_secs_f64();
        (elapsed > 0.0).then(|| count.saturating_sub(first) as f64 / elapsed)
    }
}

/// The ramp's line: `48/100 posted (49.8/s), 45 connected, 1 failed`.
pub fn ramp_message(viewers: usize, totals: &LiveTotals, posts_per_second: Option<f64>) -> String {
    let rate = posts_per_second.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.1}"));
    format!(
        "{}/{viewers} posted ({rate}/s), {} connected, {} failed",
        totals.posted, totals.connected, totals.failed
    )
}

/// The steady window's line: `12.3/30.0 s, 98 connected, 4711 viewer-packets/s`.
pub fn steady_message(
    elapsed: Duration,
    duration: Duration,
    totals: &LiveTotals,
    packets_per_second: Option<f64>,
) -> String {
    let rate = packets_per_second.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.0}"));
    format!(
        "{:.1}/{:.1} s, {} connected, {rate} viewer-packets/s",
        elapsed.min(duration).as_secs_f64(),
        duration.as_secs_f64(),
        totals.connected,
    )
}

/// The bar of a run, the ramp's until the steady window starts, then the window's.
pub struct Progress {
    visible: bool,
    viewers: usize,
    steady_start: Instant,
    steady_end: Instant,
    bar: ProgressBar,
    in_steady: bool,
    posts: RateMeter,
    packets: RateMeter,
}

impl Progress {
    /// `visible: false` hides the bar even on a terminal.
    pub fn new(visible: bool, viewers: usize, steady_start: Instant, steady_end: Instant) -> Self {
        Self {
            visible,
            viewers,
            steady_start,
            steady_end,
            bar: bar(visible, "ramp", viewers as u64),
            in_steady: false,
            posts: RateMeter::default(),
            packets: RateMeter::default(),
        }
    }

    /// Redraws with the figures at `now`.
    pub fn show(&mut self, now: Instant, totals: &LiveTotals) {
        if now < self.steady_start {
            let posts_per_second = self.posts.update(now, totals.posted);
            self.bar
                .set_message(ramp_message(self.viewers, totals, posts_per_second));
            self.bar.set_position(totals.posted);
            return;
        }
        let duration = self.steady_end - self.steady_start;
        if !self.in_steady {
            self.in_steady = true;
            self.bar.finish_and_clear();
            self.bar = bar(self.visible, "steady", millis(duration));
        }
        let elapsed = now.saturating_duration_since(self.steady_start);
        let packets_per_second = self.packets.update(now, totals.received);
        self.bar.set_message(steady_message(
            elapsed,
            duration,
            totals,
            packets_per_second,
        ));
        self.bar.set_position(millis(elapsed.min(duration)));
    }
}

/// A bar of `length` steps that clears its line when dropped.
fn bar(visible: bool, name: &'static str, length: u64) -> ProgressBar {
    let target = if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    ProgressBar::with_draw_target(Some(length), target)
        .with_style(style())
        .with_prefix(name)
        .with_finish(ProgressFinish::AndClear)
}

/// The template is a constant that the tests parse, so the fallback is never taken.
fn style() -> ProgressStyle {
    ProgressStyle::with_template(TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars(BAR_CHARS)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_rate_covers_the_last_second() {
        let start = Instant::now();
        let mut meter = RateMeter::default();
        assert_eq!(meter.update(start, 0), None, "no time has passed");
        assert_eq!(meter.update(start + MS * 500, 50), Some(100.0));
        assert_eq!(meter.update(start + MS * 1000, 100), Some(100.0));
        // The count stops growing: the rate falls as the old samples leave the span.
        assert_eq!(meter.update(start + MS * 1500, 100), Some(50.0));
        assert_eq!(meter.update(start + MS * 2500, 100), Some(0.0));
    }

    #[test]
    fn the_rate_survives_a_count_that_goes_back() {
        let start = Instant::now();
        let mut meter = RateMeter::default();
        meter.update(start, 10);
        assert_eq!(meter.update(start + MS * 100, 5), Some(0.0));
    }

    #[test]
    fn the_ramp_line_shows_posted_connected_and_failed() {
        let totals = LiveTotals {
            posted: 48,
            connected: 45,
            failed: 1,
            received: 9,
        };
        assert_eq!(
            ramp_message(100, &totals, Some(49.84)),
            "48/100 posted (49.8/s), 45 connected, 1 failed"
        );
        assert_eq!(
            ramp_message(100, &totals, None),
            "48/100 posted (-/s), 45 connected, 1 failed"
        );
    }

    #[test]
    fn the_steady_line_shows_time_viewers_and_packet_rate() {
        let totals = LiveTotals {
            connected: 98,
            ..LiveTotals::default()
        };
        let duration = Duration::from_secs(30);
        assert_eq!(
            steady_message(MS * 12_340, duration, &totals, Some(4711.4)),
            "12.3/30.0 s, 98 connected, 4711 viewer-packets/s"
        );
        assert_eq!(
            steady_message(MS * 31_000, duration, &totals, None),
            "30.0/30.0 s, 98 connected, - viewer-packets/s",
            "a late last draw never shows more than the window"
        );
    }

    #[test]
    fn the_template_parses() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
    }

    #[test]
    fn a_hidden_bar_follows_the_ramp_then_the_steady_window() {
        let start = Instant::now();
        let mut progress = Progress::new(false, 10, start + MS * 1000, start + MS * 3000);
        let mut totals = LiveTotals {
            posted: 4,
            ..LiveTotals::default()
        };
        progress.show(start, &totals);
        assert!(progress.bar.is_hidden());
        assert_eq!(progress.bar.prefix(), "ramp");
        assert_eq!(
            (progress.bar.position(), progress.bar.length()),
            (4, Some(10))
        );

        totals.received = 500;
        progress.show(start + MS * 2000, &totals);
        assert_eq!(progress.bar.prefix(), "steady");
        assert_eq!(
            (progress.bar.position(), progress.bar.length()),
            (1000, Some(2000))
        );
        assert!(progress.bar.message().starts_with("1.0/2.0 s"));
    }
}

//! The delay-based half of the estimate (after GCC, draft-ietf-rmcat-gcc-02 5): packets sent
//! within 5 ms of each other form a group; the change in one-way delay from group to group
//! is accumulated, smoothed, and the trend of the last groups (a least-squares slope against
//! arrival time) is compared with an adaptive threshold. A queue building up on the path
//! shows as a rising trend: overuse.

/// Packets sent within this long of a group's first packet belong to the group.
const GROUP_SPAN_US: i64 = 5_000;
/// Groups the trend is fitted over.
const WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
/// Scales the slope to milliseconds of queueing, as GCC's trendline estimator does.
const TREND_GAIN: f64 = 4.0;
const MAX_DELTAS: f64 = 60.0;
/// The threshold adapts between these, in ms, faster down than up (GCC's k_d and k_u).
const THRESHOLD_RANGE_MS: (f64, f64) = (6.0, 600.0);
const INITIAL_THRESHOLD_MS: f64 = 12.5;
const THRESHOLD_UP: f64 = 0.0087;
const THRESHOLD_DOWN: f64 = 0.039;
/// Overuse must last this long (of send time) before it is declared.
const OVERUSE_TIME_MS: f64 = 10.0;

/// What the path's delay trend says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usage {
    #[default]
    Normal,
    Overuse,
    Underuse,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_sent_us: u32,
    last_sent_us: u32,
    last_arrival_us: i64,
}

#[derive(Debug)]
pub struct DelayDetector {
    current: Option<Group>,
    previous: Option<Group>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// (arrival ms since the first group, smoothed delay ms), a ring of `WINDOW`.
    points: [(f64, f64); WINDOW],
    points_len: usize,
    first_arrival_us: Option<i64>,
    deltas: f64,
    threshold_ms: f64,
    previous_trend: f64,
    overusing_ms: f64,
    overuse_count: u32,
    usage: Usage,
}

impl Default for DelayDetector {
    fn default() -> Self {
        Self {
            current: None,
            previous: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            points: [(0.0, 0.0); WINDOW],
            points_len: 0,
            first_arrival_us: None,
            deltas: 0.0,
            threshold_ms: INITIAL_THRESHOLD_MS,
            previous_trend: 0.0,
            overusing_ms: 0.0,
            overuse_count: 0,
            usage: Usage::Normal,
        }
    }
}

impl DelayDetector {
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// A packet sent at `sent_us` (history clock) arrived at `arrival_us` (feedback clock).
    /// Packets come in sequence order; one sent before its group began is ignored.
    pub fn on_packet(&mut self, sent_us: u32, arrival_us: i64) {
        let Some(group) = self.current.as_mut() else {
            self.current = Some(Group {
                first_sent_us: sent_us,
                last_sent_us: sent_us,
                last_arrival_us: arrival_us,
            });
            return;
        };
        let since_first = i64::from(sent_us.wrapping_sub(group.first_sent_us) as i32);
        if since_first < 0 {
            return;
        }
        if since_first < GROUP_SPAN_US {
            if i64::from(sent_us.wrapping_sub(group.last_sent_us) as i32) > 0 {
                group.last_sent_us = sent_us;
            }
            group.last_arrival_us = group.last_arrival_us.max(arrival_us);
            return;
        }
        let finished = *group;
        if let Some(previous) = self.previous {
            let send_delta_us =
                i64::from(finished.last_sent_us.wrapping_sub(previous.last_sent_us) as i32);
            let arrival_delta_us = finished.last_arrival_us - previous.last_arrival_us;
            self.on_group_delta(
                send_delta_us as f64 / 1000.0,
                arrival_delta_us as f64 / 1000.0,
                finished.last_arrival_us,
            );
        }
        self.previous = Some(finished);
        self.current = Some(Group {
            first_sent_us: sent_us,
            last_sent_us: sent_us,
            last_arrival_us: arrival_us,
        });
    }

    fn on_group_delta(&mut self, send_delta_ms: f64, arrival_delta_ms: f64, arrival_us: i64) {
        self.deltas = (self.deltas + 1.0).min(MAX_DELTAS);
        self.accumulated_ms += arrival_delta_ms - send_delta_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        let first = *self.first_arrival_us.get_or_insert(arrival_us);
        let x = (arrival_us - first) as f64 / 1000.0;
        if self.points_len == WINDOW {
            self.points.copy_within(1.., 0);
            self.points_len -= 1;
        }
        self.points[self.points_len] = (x, self.smoothed_ms);
        self.points_len += 1;
        if self.points_len < WINDOW {
            return;
        }
        let trend = slope(&self.points).unwrap_or(self.previous_trend);
        self.detect(trend * self.deltas * TREND_GAIN, trend, send_delta_ms);
        self.previous_trend = trend;
    }

    fn detect(&mut self, modified_trend: f64, trend: f64, send_delta_ms: f64) {
        if modified_trend > self.threshold_ms {
            self.overusing_ms += send_delta_ms.max(0.0);
            self.overuse_count += 1;
            if self.overusing_ms > OVERUSE_TIME_MS
                && self.overuse_count > 1
                && trend >= self.previous_trend
            {
                self.overusing_ms = 0.0;
                self.overuse_count = 0;
                self.usage = Usage::Overuse;
            }
        } else {
            self.overusing_ms = 0.0;
            self.overuse_count = 0;
            self.usage = if modified_trend < -self.threshold_ms {
                Usage::Underuse
            } else {
                Usage::Normal
            };
        }
        self.adapt_threshold(modified_trend.abs(), send_delta_ms);
    }

    fn adapt_threshold(&mut self, magnitude: f64, send_delta_ms: f64) {
        // A spike far past the threshold is a glitch, not a reason to move it.
        if magnitude > self.threshold_ms + 15.0 {
            return;
        }
        let k = if magnitude < self.threshold_ms {
            THRESHOLD_DOWN
        } else {
            THRESHOLD_UP
        };
        let step_ms = send_delta_ms.clamp(0.0, 100.0);
        self.threshold_ms = (self.threshold_ms + k * (magnitude - self.threshold_ms) * step_ms)
            .clamp(THRESHOLD_RANGE_MS.0, THRESHOLD_RANGE_MS.1);
    }
}

/// Least-squares slope of y against x; None when every x is the same.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut numerator, mut denominator) = (0.0, 0.0);
    for &(x, y) in points {
        numerator += (x - mean_x) * (y - mean_y);
        denominator += (x - mean_x) * (x - mean_x);
    }
    (denominator != 0.0).then(|| numerator / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds groups 10 ms apart whose arrival spacing is `arrival_spacing_us`.
    fn run(detector: &mut DelayDetector, groups: u32, arrival_spacing_us: i64) -> Vec<Usage> {
        let mut seen = Vec::new();
        for i in 0..groups {
            let sent = i * 10_000;
            detector.on_packet(sent, i64::from(i) * arrival_spacing_us);
            seen.push(detector.usage());
        }
        seen
    }

    #[test]
    fn steady_delay_is_normal() {
        let mut detector = DelayDetector::default();
        assert!(
            run(&mut detector, 200, 10_000)
                .iter()
                .all(|&u| u == Usage::Normal)
        );
    }

    #[test]
    fn growing_delay_is_overuse_and_shrinking_is_underuse() {
        let mut detector = DelayDetector::default();
        assert!(run(&mut detector, 100, 12_000).contains(&Usage::Overuse));
        let mut detector = DelayDetector::default();
        assert!(run(&mut detector, 100, 8_000).contains(&Usage::Underuse));
    }

    #[test]
    fn packets_of_one_burst_form_one_group() {
        let mut detector = DelayDetector::default();
        // Each burst: 5 packets 1 ms apart arriving spread out, as over a slow link; the
        // bursts' last arrivals are 10 ms apart like their sends, so no trend.
        for burst in 0..100u32 {
            for packet in 0..5u32 {
                let sent = burst * 10_000 + packet * 1_000;
                let arrival = i64::from(burst) * 10_000 + i64::from(packet) * 1_900;
                detector.on_packet(sent, arrival);
            }
            assert_eq!(detector.usage(), Usage::Normal);
        }
    }
}

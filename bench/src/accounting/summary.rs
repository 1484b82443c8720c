//! Many viewers' snapshots of one track kind folded into one result: exact percentiles for
//! the per-viewer samples (join, first keyframe, bitrate), a merged histogram for latency,
//! and summed counters.
//!
//! The steady-state window is applied by each [`ReceiveLog`](super::ReceiveLog) as it takes
//! samples (see [`MeasurementWindow`](super::MeasurementWindow)); a summary of logs that share
//! a window covers exactly that window.

use std::time::Duration;

use super::histogram::{LatencyHistogram, LatencyPercentiles};
use super::percentile::{Spread, percentile};
use super::stats::{Counters, ViewerStats};

#[derive(Debug, Clone, Default)]
pub struct Summary {
    viewers: usize,
    join_times: Vec<Duration>,
    first_keyframe_times: Vec<Duration>,
    bitrates: Vec<u64>,
    latency: LatencyHistogram,
    totals: Counters,
    longest_freeze: Duration,
    frozen_at_end: usize,
}

/// How the viewers' receive bitrates are spread: the lowest shows a starved viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitrateSpread {
    pub min: u64,
    pub p50: u64,
}

impl Summary {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, viewer: &ViewerStats) {
        self.viewers += 1;
        self.join_times.extend(viewer.join_time);
        self.first_keyframe_times.extend(viewer.first_keyframe_time);
        self.bitrates.push(viewer.bitrate_bps);
        self.latency.merge(&viewer.latency);
        self.totals.add(&viewer.counters);
        self.longest_freeze = self.longest_freeze.max(viewer.longest_freeze);
        self.frozen_at_end += usize::from(viewer.frozen_for.is_some());
    }

    pub fn viewers(&self) -> usize {
        self.viewers
    }

    /// Over the viewers that received media and posted inside the window.
    pub fn join_time(&self) -> Option<Spread<Duration>> {
        Spread::of(&self.join_times)
    }

    /// How many viewers got media at all (whose post was inside the window).
    pub fn viewers_joined(&self) -> usize {
        self.join_times.len()
    }

    pub fn first_keyframe_time(&self) -> Option<Spread<Duration>> {
        Spread::of(&self.first_keyframe_times)
    }

    pub fn viewers_with_keyframe(&self) -> usize {
        self.first_keyframe_times.len()
    }

    /// Within the histogram's error (see [`LatencyHistogram`]).
    pub fn latency(&self) -> Option<LatencyPercentiles> {
        self.latency.percentiles()
    }

    /// The latency distribution as (latency, fraction of packets at or below it) points,
    /// within the histogram's error (see [`LatencyHistogram::cdf`]).
    pub fn latency_cdf(&self) -> impl Iterator<Item = (Duration, f64)> + '_ {
        self.latency.cdf()
    }

    pub fn bitrate(&self) -> Option<BitrateSpread> {
        let mut sorted = self.bitrates.clone();
        sorted.sort_unstable();
        Some(BitrateSpread {
            min: *sorted.first()?,
            p50: percentile(&sorted, 50.0)?,
        })
    }

    pub fn totals(&self) -> &Counters {
        &self.totals
    }

    pub fn longest_freeze(&self) -> Duration {
        self.longest_freeze
    }

    /// Viewers waiting for a frame longer than the freeze threshold when snapshotted.
    pub fn frozen_at_end(&self) -> usize {
        self.frozen_at_end
    }
}

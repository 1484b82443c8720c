//! How one viewer track is accounted: the timings a browser's receiver would use, and the
//! steady-state window outside which nothing is counted.

use std::time::{Duration, Instant};

/// Audio and video differ in what a frame is and in what a receiver asks the sender for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// Frames span packets from a start to the marker packet; losses are NACKed and a
    /// broken picture asks for a keyframe.
    Video,
    /// Every packet is a frame of its own (the RTP marker means "talkspurt", not "end of
    /// frame"), and nothing is requested: browsers neither NACK Opus nor need keyframes.
    Audio,
}

/// The half-open interval `[start, end)` of the run that is measured.
///
/// The window is applied where a sample is taken (in [`ReceiveLog`](super::ReceiveLog)),
/// not in the [`Summary`](super::Summary): a latency is folded into a histogram the moment
/// it is seen, so it cannot be excluded afterwards. Each event is counted by the time it
/// became known: a freeze when it ended, a join when it was posted, a missing packet by when
/// its gap was found, with everything that follows from it (lost, recovered, given up,
/// late), even after the window's end, so that those counts stay consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeasurementWindow {
    pub start: Option<Instant>,
    pub end: Option<Instant>,
}

impl MeasurementWindow {
    /// Everything is measured.
    pub fn always() -> Self {
        Self::default()
    }

    /// Only `[start, end)`, e.g. after the viewers' ramp-up and before the teardown.
    pub fn between(start: Instant, end: Instant) -> Self {
        Self {
            start: Some(start),
            end: Some(end),
        }
    }

    pub fn contains(&self, at: Instant) -> bool {
        self.start.is_none_or(|start| at >= start) && self.end.is_none_or(|end| at < end)
    }
}

/// The knobs of one track's accounting; [`ReceiveConfig::video`] and
/// [`ReceiveConfig::audio`] give browser-like values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveConfig {
    pub kind: TrackKind,
    /// How long a gap may stay open before it is a loss and NACKed; shorter gaps are
    /// reordering.
    pub reorder_window: Duration,
    /// The spacing of repeated NACKs for one sequence number, about one round trip.
    pub nack_interval: Duration,
    /// How often one sequence number is NACKed at most.
    pub max_nacks: u8,
    /// A loss that is not repaired this long after the gap was first seen is unrecovered.
    pub recovery_window: Duration,
    /// No new complete frame for longer than this is a freeze.
    pub freeze_threshold: Duration,
    /// The least time between two keyframe requests.
    pub keyframe_request_interval: Duration,
    /// The span the receive bitrate is averaged over.
    pub bitrate_window: Duration,
    /// How many recent packets are remembered to spot duplicates and find frame edges; it
    /// should hold at least a recovery window's worth of packets.
    pub history_len: usize,
    pub window: MeasurementWindow,
}

impl ReceiveConfig {
    /// Values close to Chrome's receiver: NACK after 20 ms of misorder, up to 10 times
    /// 100 ms apart, give a loss one second, keyframe requests at most every 300 ms.
    pub fn video() -> Self {
        Self {
            kind: TrackKind::Video,
            reorder_window: Duration::from_millis(20),
            nack_interval: Duration::from_millis(100),
            max_nacks: 10,
            recovery_window: Duration::from_secs(1),
            freeze_threshold: Duration::from_millis(200),
            keyframe_request_interval: Duration::from_millis(300),
            bitrate_window: Duration::from_secs(1),
            history_len: 1024,
            window: MeasurementWindow::always(),
        }
    }

    /// Opus at 50 packets a second: no NACKs, no keyframes, a small history.
    pub fn audio() -> Self {
        Self {
            kind: TrackKind::Audio,
            max_nacks: 0,
            history_len: 128,
            ..Self::video()
        }
    }

    pub fn with_window(self, window: MeasurementWindow) -> Self {
        Self { window, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_half_open() {
        let t0 = Instant::now();
        let window = MeasurementWindow::between(t0, t0 + Duration::from_secs(1));
        assert!(!window.contains(t0 - Duration::from_nanos(1)));
        assert!(window.contains(t0));
        assert!(window.contains(t0 + Duration::from_millis(999)));
        assert!(!window.contains(t0 + Duration::from_secs(1)));
        assert!(MeasurementWindow::always().contains(t0));
    }
}

//! Join time and time to first keyframe, measured for every viewer.
//!
//! The steady-state window starts when the ramp ends, after every viewer posted its offer,
//! so the steady [`ReceiveLog`] never counts a join. A second log with no window follows each
//! track only until its first complete keyframe (for audio, its first packet), then is
//! dropped; its two figures replace the steady log's in the viewer's final stats.

use std::time::{Duration, Instant};

use crate::accounting::{
    MeasurementWindow, ReceiveConfig, ReceiveLog, ReceivedPacket, ViewerStats,
};

#[derive(Debug)]
pub struct JoinProbe {
    log: Option<Box<ReceiveLog>>,
    join_time: Option<Duration>,
    first_keyframe_time: Option<Duration>,
}

impl JoinProbe {
    /// A probe for a track accounted with `config`, whose offer was posted at `posted`.
    pub fn new(config: ReceiveConfig, posted: Instant) -> Self {
        let mut log = ReceiveLog::new(config.with_window(MeasurementWindow::always()));
        log.on_join_posted(posted);
        Self {
            log: Some(Box::new(log)),
            join_time: None,
            first_keyframe_time: None,
        }
    }

    pub fn on_packet(&mut self, now: Instant, packet: ReceivedPacket) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        // Without a send time the probe keeps no latency histogram.
        log.on_packet(
            now,
            ReceivedPacket {
                send_time: None,
                ..packet
            },
        );
        let stats = log.stats(now);
        self.join_time = stats.join_time;
        if stats.first_keyframe_time.is_some() {
            self.first_keyframe_time = stats.first_keyframe_time;
            self.log = None;
        }
    }

    /// Puts the probe's figures into the steady log's `stats`.
    pub fn apply(&self, stats: &mut ViewerStats) {
        stats.join_time = self.join_time;
        stats.first_keyframe_time = self.first_keyframe_time;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(sequence_number: u16, keyframe_start: bool, marker: bool) -> ReceivedPacket {
        ReceivedPacket {
            sequence_number,
            timestamp: 3000,
            marker,
            keyframe_start,
            payload_len: 1000,
            send_time: None,
        }
    }

    #[test]
    fn measures_from_the_post_to_the_first_packet_and_the_first_keyframe() {
        let posted = Instant::now();
        let at = |ms| posted + Duration::from_millis(ms);
        let mut probe = JoinProbe::new(ReceiveConfig::video(), posted);
        probe.on_packet(at(40), packet(7, true, false));
        probe.on_packet(at(45), packet(8, false, true));
        // Gone once the keyframe completed: later packets change nothing.
        probe.on_packet(at(90), packet(9, true, true));
        let mut stats = ReceiveLog::new(ReceiveConfig::video()).stats(at(100));
        probe.apply(&mut stats);
        assert_eq!(stats.join_time, Some(Duration::from_millis(40)));
        assert_eq!(stats.first_keyframe_time, Some(Duration::from_millis(45)));
        assert!(probe.log.is_none());
    }
}

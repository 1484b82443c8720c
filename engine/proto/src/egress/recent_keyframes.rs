//! Where each simulcast layer's latest keyframe starts among a stream's recent packets, and
//! which packet of the layer is the newest. A viewer that joins soon after a keyframe can
//! start from it, out of the route's RTX cache, instead of asking the publisher for another
//! and waiting up to a keyframe interval for it.

use std::time::{Duration, Instant};

use shardcast_control::MediaKind;

use crate::layers::MAX_LAYERS;
use crate::media::MediaPacket;
use crate::rtp::{is_newer_seq, is_newer_ts};

/// The first packet of a layer's latest keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeStart {
    pub source: u64,
    pub seq: u16,
    pub arrival: Instant,
    timestamp: u32,
}

#[derive(Debug, Default, Clone, Copy)]
struct LayerMarks {
    keyframe: Option<KeyframeStart>,
    /// (source, sequence number) of the newest packet.
    newest: Option<(u64, u16)>,
}

#[derive(Debug, Default)]
pub struct RecentKeyframes {
    layers: [LayerMarks; MAX_LAYERS],
}

impl RecentKeyframes {
    /// Takes note of a packet the stream forwards.
    pub fn observe(&mut self, packet: &MediaPacket) {
        let origin = &packet.origin;
        if origin.kind != MediaKind::Video {
            return;
        }
        let Some(marks) = self.layers.get_mut(usize::from(origin.layer)) else {
            return;
        };
        let (source, seq) = (origin.source, packet.layout.sequence_number);
        let newer = match marks.newest {
            Some((newest_source, newest)) => {
                source > newest_source || (source == newest_source && is_newer_seq(seq, newest))
            }
            None => true,
        };
        if newer {
            marks.newest = Some((source, seq));
        }
        if !origin.keyframe {
            return;
        }
        let timestamp = packet.layout.timestamp;
        match &mut marks.keyframe {
            // Another packet of the same keyframe, arrived out of order.
            Some(start) if start.source == source && start.timestamp == timestamp => {
                if is_newer_seq(start.seq, seq) {
                    start.seq = seq;
                }
            }
            Some(start)
                if start.source > source
                    || (start.source == source && !is_newer_ts(timestamp, start.timestamp)) => {}
            _ => {
                marks.keyframe = Some(KeyframeStart {
                    source,
                    seq,
                    arrival: origin.arrival,
                    timestamp,
                });
            }
        }
    }

    /// The start of `layer`'s latest keyframe, if it arrived no more than `window` before
    /// `now`.
    pub fn start_within(&self, layer: u8, now: Instant, window: Duration) -> Option<KeyframeStart> {
        let start = self.layers.get(usize::from(layer))?.keyframe?;
        (now.saturating_duration_since(start.arrival) <= window).then_some(start)
    }

    /// The sequence number of the newest packet of `layer` from `source`.
    pub fn newest(&self, source: u64, layer: u8) -> Option<u16> {
        let (newest_source, seq) = self.layers.get(usize::from(layer))?.newest?;
        (newest_source == source).then_some(seq)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::egress::rtx_cache::tests::shared;

    fn video(seq: u16, timestamp: u32, keyframe: bool, at: Instant) -> Arc<MediaPacket> {
        let mut packet = shared(MediaKind::Video, 1, seq, at);
        let inner = Arc::get_mut(&mut packet).unwrap();
        inner.origin.keyframe = keyframe;
        inner.layout.timestamp = timestamp;
        packet
    }

    #[test]
    fn marks_the_first_packet_of_the_latest_keyframe_and_the_newest_packet() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let window = Duration::from_millis(100);
        let mut recent = RecentKeyframes::default();
        assert_eq!(recent.start_within(0, t0, window), None);

        recent.observe(&video(10, 3000, false, ms(0)));
        assert_eq!(recent.newest(1, 0), Some(10));
        assert_eq!(recent.start_within(0, ms(0), window), None);

        // The keyframe's second packet overtakes its first: the start moves back to it.
        recent.observe(&video(12, 6000, true, ms(10)));
        recent.observe(&video(11, 6000, true, ms(11)));
        recent.observe(&video(13, 9000, false, ms(40)));
        let start = recent.start_within(0, ms(50), window).unwrap();
        assert_eq!((start.seq, start.arrival), (11, ms(10)));
        assert_eq!(recent.newest(1, 0), Some(13));
        assert_eq!(recent.newest(2, 0), None);

        // Too old for the window; an older keyframe arriving late changes nothing.
        assert_eq!(recent.start_within(0, ms(111), window), None);
        recent.observe(&video(5, 0, true, ms(120)));
        assert_eq!(recent.start_within(0, ms(120), window), None);
        assert_eq!(recent.newest(1, 0), Some(13));

        // A newer keyframe takes over; other layers and audio are apart.
        recent.observe(&video(14, 12000, true, ms(130)));
        assert_eq!(recent.start_within(0, ms(130), window).unwrap().seq, 14);
        assert_eq!(recent.start_within(1, ms(130), window), None);
        recent.observe(&shared(MediaKind::Audio, 1, 99, ms(130)));
        assert_eq!(recent.newest(1, 0), Some(14));
    }
}

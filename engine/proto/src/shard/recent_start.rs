//! Viewers started from a keyframe the shard already has. A viewer that connects soon after
//! a keyframe of the layer it wants went by gets that keyframe and every packet of the layer
//! since, out of the route's RTX cache, and plays at once; asking the publisher instead would
//! leave it waiting until the stream's keyframe interval lets the next request through, up
//! to a whole interval. The cost is that its video starts up to the join window behind.
//!
//! The packets go out one per poll, before the fan-out's, from the keyframe's first packet up
//! to the layer's newest. Packets the fan-out offers the viewer meanwhile are numbered by the
//! same mapping, so the order on the wire does not matter, and any it offers again after
//! this has sent them are dropped by the viewer's egress.

use std::time::{Duration, Instant};

use shardcast_control::MediaKind;

use super::{ShardCore, TransmitMeta};
use crate::router::SessionKey;
use crate::rtp::is_newer_seq;
use crate::session::SessionEvent;

/// The window a viewer may connect in after a keyframe to start from it, unless configured:
/// a joiner's wait for its first frame is then at most the keyframe interval less this.
pub const DEFAULT_JOIN_WINDOW: Duration = Duration::from_millis(100);

/// Packets one start sends at most: more than a join window of any layer's video holds.
const MAX_PACKETS: u16 = 512;

/// A viewer being sent its stream's recent packets of one layer.
#[derive(Debug)]
pub(super) struct RecentStart {
    key: SessionKey,
    source: u64,
    layer: u8,
    next_seq: u16,
    left: u16,
}

impl ShardCore {
    /// Starts viewer `key`, just connected, from its stream's latest keyframe of the layer it
    /// wants, when that keyframe arrived within the join window. False when there is none:
    /// the caller asks the publisher for one.
    pub(super) fn start_from_recent_keyframe(&mut self, now: Instant, key: SessionKey) -> bool {
        let window = self.config.join_window;
        let Some(session) = self.sessions.get_mut(&key).filter(|_| !window.is_zero()) else {
            return false;
        };
        let layer = session.wanted_layer();
        let start = self
            .streams
            .get(session.stream())
            .and_then(|route| route.recent.start_within(layer, now, window));
        let Some(start) = start else {
            return false;
        };
        session.keyframe_coming(now);
        self.recent_starts.push_back(RecentStart {
            key,
            source: start.source,
            layer,
            next_seq: start.seq,
            left: MAX_PACKETS,
        });
        self.counters.recent_keyframe_starts += 1;
        true
    }

    /// Writes the next packet of the first viewer being started into `out`.
    pub(super) fn write_next_recent_start(&mut self, out: &mut Vec<u8>) -> Option<TransmitMeta> {
        let now = self.now;
        while let Some(start) = self.recent_starts.front_mut() {
            let session = self.sessions.get_mut(&start.key);
            let route = session
                .as_ref()
                .and_then(|session| self.streams.get(session.stream()));
            let newest = route.and_then(|route| route.recent.newest(start.source, start.layer));
            let (Some(session), Some(route), Some(newest)) = (session, route, newest) else {
                self.recent_starts.pop_front();
                continue;
            };
            if start.left == 0 || is_newer_seq(start.next_seq, newest) {
                self.recent_starts.pop_front();
                continue;
            }
            let seq = start.next_seq;
            start.next_seq = seq.wrapping_add(1);
            start.left -= 1;
            let Some(packet) = route
                .rtx
                .get(MediaKind::Video, start.source, start.layer, seq, now)
            else {
                continue;
            };
            let before = out.len();
            let written = session
                .write_media_onto(now, packet, 0, out)
                .then(|| session.media_destination())
                .flatten();
            if written.is_none() {
                out.truncate(before);
            }
            let mut keyframe_layers = 0u8;
            while let Some(event) = session.poll_event() {
                if let SessionEvent::KeyframeRequest { layer } = event {
                    keyframe_layers |= 1u8.checked_shl(layer.into()).unwrap_or(0);
                }
            }
            self.timers.set(start.key, session.poll_timeout());
            if keyframe_layers != 0 {
                let stream = session.stream().clone();
                self.request_keyframes(&stream, keyframe_layers);
            }
            if written.is_some() {
                self.counters.media_packets_out += 1;
                return written;
            }
        }
        None
    }
}

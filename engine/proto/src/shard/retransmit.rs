//! Viewers' retransmissions on the shard: every stream's packets are kept in the route's RTX
//! cache (the home shard's and each mirror's), with note of where each layer's latest
//! keyframe starts, and viewers whose paced queue may send are taken in turn, one packet
//! each, so one viewer's NACK flood cannot hold up another's.

use std::sync::Arc;

use super::{ShardCore, TransmitMeta};
use crate::media::MediaPacket;
use crate::repair::RepairCounters;

impl ShardCore {
    /// Keeps a packet this shard's publisher sent; the one it displaces goes back to the
    /// packet pool, whose allocation the next packet reuses.
    pub(super) fn cache_published(&mut self, stream: &str, packet: &Arc<MediaPacket>) {
        let evicted = self.streams.get_mut(stream).and_then(|route| {
            route.recent.observe(packet);
            route.rtx.insert(packet)
        });
        if let Some(evicted) = evicted {
            self.packets.recycle(evicted);
        }
    }

    /// Keeps a packet the stream's home shard sent; the one it displaces is let go (the
    /// home shard's pool may be waiting for it).
    pub(super) fn cache_mirrored(&mut self, stream: &str, packet: &Arc<MediaPacket>) {
        if let Some(route) = self.streams.get_mut(stream) {
            route.recent.observe(packet);
            drop(route.rtx.insert(packet));
        }
    }

    /// Writes the next retransmission into `out`: the first listed viewer with one to send
    /// goes, then to the back of the list if it has more.
    pub(super) fn write_next_retransmission(&mut self, out: &mut Vec<u8>) -> Option<TransmitMeta> {
        let now = self.now;
        while let Some(key) = self.retransmit_ready.pop_front() {
            let Some(session) = self.sessions.get_mut(&key) else {
                continue;
            };
            let cache = self.streams.get(session.stream()).map(|route| &route.rtx);
            let written = session.write_retransmission(now, cache, out);
            if session.stay_listed_for_retransmits(now) {
                self.retransmit_ready.push_back(key);
            }
            self.timers.set(key, session.poll_timeout());
            if written.is_some() {
                return written;
            }
        }
        None
    }

    /// Loss repair counted by the sessions here now and by those gone.
    pub(super) fn repair_counters(&self) -> RepairCounters {
        let mut counters = self.counters.repair;
        for session in self.sessions.values() {
            counters += session.repair_counters();
        }
        counters
    }
}

//! Fan-out jobs turned into datagrams: each call writes one packet for one viewer, straight
//! into the runtime's send buffer.

use std::sync::Arc;

use super::fanout_queue::FanoutJob;
use super::{ShardCore, TransmitMeta};
use crate::media::MediaPacket;
use crate::session::SessionEvent;

impl ShardCore {
    /// Queues `packet` for this shard's viewers of `stream`, if it has any.
    pub(super) fn enqueue_fanout(&mut self, stream: &str, packet: Arc<MediaPacket>) {
        let Some(route) = self.streams.get(stream) else {
            return;
        };
        if route.viewers.is_empty() {
            return;
        }
        let job = FanoutJob::new(route.name.clone(), packet);
        if let Some(dropped) = self.fanout.push(job) {
            self.counters.fanout_jobs_dropped += 1;
            self.finish_job(dropped);
        }
    }

    /// Writes the oldest pending packet for its next viewer into `out`. Viewers that take
    /// nothing (not connected, waiting for a keyframe) are passed over in the same call.
    pub(super) fn write_next_fanout(&mut self, out: &mut Vec<u8>) -> Option<TransmitMeta> {
        loop {
            let job = self.fanout.front_mut()?;
            let next = self
                .streams
                .get(&job.stream)
                .and_then(|route| route.viewers.get(job.next_viewer))
                .copied();
            let Some(key) = next else {
                // Every viewer has it, or the stream has no viewers left.
                if let Some(done) = self.fanout.pop_front() {
                    self.finish_job(done);
                }
                continue;
            };
            job.next_viewer += 1;
            let Some(viewer) = self.sessions.get_mut(&key) else {
                continue;
            };
            let written = viewer.write_media(self.now, &job.packet, out);
            while let Some(event) = viewer.poll_event() {
                job.wants_keyframe |= matches!(event, SessionEvent::KeyframeRequest);
            }
            self.timers.set(key, viewer.poll_timeout());
            if written.is_some() {
                self.counters.media_packets_out += 1;
                return written;
            }
        }
    }

    /// A job leaves the queue: viewers' keyframe requests gathered while writing it go out.
    fn finish_job(&mut self, job: FanoutJob) {
        if job.wants_keyframe {
            self.request_keyframe(self.now, &job.stream);
        }
    }
}

//! Fan-out jobs turned into datagrams, straight into the runtime's send buffer: one viewer per
//! call, with as many queued packets for that viewer as fit one run.
//!
//! A run takes consecutive jobs of one stream whose cursors stand at the same viewer (the
//! packets of a frame, queued together and walked together), writes each one's packet for
//! that viewer back to back and moves each cursor on. UDP GSO cuts a run into datagrams of
//! one size, the last one alone allowed to be shorter, so a run ends at the first packet that
//! is shorter than the first, and stops before a job whose packet arrived longer than the
//! first one's (it leads the next run instead). A viewer's copy can still come out longer
//! than its packet promised (it forwards other header extensions): it is already encrypted
//! by then, so it waits in the leftover buffer and goes out on its own at the next poll.

use std::sync::Arc;

use super::fanout_queue::FanoutJob;
use super::{RunLimits, ShardCore, TransmitMeta};
use crate::media::MediaPacket;
use crate::router::SessionKey;
use crate::session::SessionEvent;

/// A packet written for a run it did not fit. Its buffer is kept from one use to the next.
#[derive(Default)]
pub(super) struct Leftover {
    bytes: Vec<u8>,
    meta: Option<TransmitMeta>,
}

impl Leftover {
    pub(super) fn is_pending(&self) -> bool {
        self.meta.is_some()
    }

    /// Copies the waiting packet into `out` (empty) and says where it goes.
    pub(super) fn take_into(&mut self, out: &mut Vec<u8>) -> Option<TransmitMeta> {
        let meta = self.meta.take()?;
        out.extend_from_slice(&self.bytes);
        Some(meta)
    }
}

/// The run being written: where it goes, and the size its datagrams share.
struct Run {
    meta: TransmitMeta,
    segment_size: usize,
    segments: usize,
    /// The length of the first written job's packet as it arrived: the jobs after it in
    /// the run are expected to come out no longer when their packets are no longer.
    first_rtp_len: usize,
}

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

    /// Writes the packets queued for the front job's next viewer into `out` (empty), as one
    /// run within `limits`. Viewers that take nothing (not connected, waiting for a keyframe)
    /// are passed over in the same call.
    pub(super) fn write_fanout_run(
        &mut self,
        out: &mut Vec<u8>,
        limits: RunLimits,
    ) -> Option<TransmitMeta> {
        loop {
            let job = self.fanout.front()?;
            let position = job.next_viewer;
            let stream = job.stream.clone();
            let next = self
                .streams
                .get(&stream)
                .and_then(|route| route.viewers.get(position))
                .copied();
            let Some(key) = next else {
                // Every viewer has it, or the stream has no viewers left.
                if let Some(done) = self.fanout.pop_front() {
                    self.finish_job(done);
                }
                continue;
            };
            if let Some(run) = self.write_run_for(key, &stream, position, out, limits) {
                let segment_size = u16::try_from(run.segment_size)
                    .ok()
                    .filter(|_| run.segments > 1);
                return Some(TransmitMeta {
                    segment_size,
                    ..run.meta
                });
            }
        }
    }

    /// Writes into `out` the run for viewer `key`, at `position` in `stream`'s list, from the
    /// jobs at the front of the queue whose cursors stand there. `None` when the viewer took
    /// none of their packets (the cursors moved on all the same).
    fn write_run_for(
        &mut self,
        key: SessionKey,
        stream: &str,
        position: usize,
        out: &mut Vec<u8>,
        limits: RunLimits,
    ) -> Option<Run> {
        let mut run: Option<Run> = None;
        for index in 0.. {
            let Some(job) = self.fanout.get_mut(index) else {
                break;
            };
            if job.next_viewer != position || *job.stream != *stream {
                break;
            }
            let rtp_len = job.packet.rtp_len();
            if let Some(run) = &run {
                // A segment size UDP_SEGMENT cannot name keeps the run to one datagram.
                let full = run.segments >= limits.segments
                    || out.len() + run.segment_size > limits.bytes
                    || run.segment_size > usize::from(u16::MAX);
                if full || rtp_len > run.first_rtp_len {
                    break;
                }
            }
            job.next_viewer += 1;
            let Some(viewer) = self.sessions.get_mut(&key) else {
                continue;
            };
            if viewer.skips_media(self.now, &job.packet) {
                // Another simulcast layer's packet: nothing to rewrite, nothing changes.
                continue;
            }
            let prepared = viewer.prepare_media(self.now, &job.packet);
            while let Some(event) = viewer.poll_event() {
                if let SessionEvent::KeyframeRequest { layer } = event {
                    job.keyframe_layers |= 1u8.checked_shl(layer.into()).unwrap_or(0);
                }
            }
            self.timers.set(key, viewer.poll_timeout());
            let Some(prepared) = prepared else {
                continue;
            };
            let Some(current) = &mut run else {
                if viewer.protect_prepared_onto(&prepared, out) {
                    self.counters.media_packets_out += 1;
                    run = Some(Run {
                        meta: prepared.meta,
                        segment_size: prepared.len,
                        segments: 1,
                        first_rtp_len: rtp_len,
                    });
                }
                continue;
            };
            if prepared.len > current.segment_size {
                self.leftover.bytes.clear();
                if viewer.protect_prepared_onto(&prepared, &mut self.leftover.bytes) {
                    self.counters.media_packets_out += 1;
                    self.leftover.meta = Some(prepared.meta);
                }
                break;
            }
            if viewer.protect_prepared_onto(&prepared, out) {
                self.counters.media_packets_out += 1;
                current.segments += 1;
                if prepared.len < current.segment_size {
                    // Only the last datagram of a run may be shorter.
                    break;
                }
            }
        }
        run
    }

    /// A job leaves the queue: viewers' keyframe requests gathered while writing it go out.
    fn finish_job(&mut self, job: FanoutJob) {
        for layer in 0..u8::BITS as u8 {
            if job.keyframe_layers & (1 << layer) != 0 {
                self.request_keyframe(self.now, &job.stream, layer);
            }
        }
    }
}

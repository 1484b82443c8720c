//! Fan-out jobs turned into datagrams, straight into the runtime's send buffer: one viewer per
//! call, with as many queued packets for that viewer as fit one run.
//!
//! A run takes consecutive jobs of one stream whose cursors stand at the same viewer (the
//! packets of a frame, queued together and walked together), writes each one's packet for
//! that viewer back to back and moves each cursor on. UDP GSO cuts a run into datagrams of
//! one size, the last one alone allowed to be shorter. Packetizers split a frame into nearly
//! equal packets (libwebrtc's differ by a byte), so packets a few bytes short of the run's
//! longest get RTP padding up to it ([`RunShape`]): a byte or two on the wire instead of a
//! second send. A run ends at a packet shorter than that, and stops before a job whose packet
//! is longer (it leads the next run instead). Each viewer's copy is written and encrypted
//! straight onto the end of the run. It can still come out longer than its packet promised
//! (it forwards other header extensions): then it moves to the leftover buffer and goes out
//! on its own at the next poll.

use std::sync::Arc;

use shardcast_control::MediaKind;

use super::fanout_queue::{FanoutJob, RunPlace};
use super::{RunLimits, ShardCore, TransmitMeta};
use crate::counter_hash::CounterMap;
use crate::media::MediaPacket;
use crate::router::SessionKey;
use crate::session::{Session, SessionEvent};

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

/// The most RTP padding a packet gets to match the others of its run: enough for the byte
/// or two between a packetizer's nearly equal packets, little enough that a much shorter
/// packet (a frame's short tail, audio) ends the run rather than grows.
const MAX_RUN_PADDING: usize = 32;

/// The run being written: where it goes, and the size its datagrams share.
struct Run {
    meta: TransmitMeta,
    segment_size: usize,
    segments: usize,
}

/// The packets a run will take for one viewer, worked out from their lengths as they arrived
/// before any is written: how many, and the length all but the last are padded up to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct RunShape {
    pub(super) packets: usize,
    pub(super) padded_len: usize,
    shortest: usize,
}

impl RunShape {
    /// Takes the next packet of `len` bytes into the run. False when the run ends there:
    /// the packet is too long to join it (it is not taken), or so much shorter that it can
    /// only be the run's last datagram (it is taken).
    pub(super) fn admit(&mut self, len: usize) -> bool {
        if self.packets == 0 {
            self.shortest = len;
        } else if len > self.padded_len && len - self.shortest > MAX_RUN_PADDING {
            return false;
        }
        self.padded_len = self.padded_len.max(len);
        self.shortest = self.shortest.min(len);
        self.packets += 1;
        self.padded_len - len <= MAX_RUN_PADDING
    }

    /// The padding for the packet of `len` bytes that is `index`th in the run: none for the
    /// last, which GSO lets be shorter, nor for one the run does not pad.
    pub(super) fn padding(&self, index: usize, len: usize) -> u8 {
        let short = self.padded_len.saturating_sub(len);
        if index + 1 >= self.packets || short > MAX_RUN_PADDING {
            return 0;
        }
        u8::try_from(short).unwrap_or(0)
    }
}

/// Viewers one poll passes over, at most, when they take nothing (not connected, waiting for
/// a keyframe). A crowd joining waits for a keyframe, and walking all of them for every
/// packet queued, in one call, held the loop for 2-7 ms at 2000 viewers; bounded, the poll
/// returns and the runtime looks at its clock before it polls again.
pub(super) const PASSED_OVER_PER_POLL: usize = 64;

/// While the viewer at `position` is written: the session two viewers on has its own fields
/// loaded, and the next one (its fields loaded a step earlier) what they point to for a
/// packet of `kind`. Each viewer's state is then read from cache rather than waited for from
/// memory.
fn prefetch_viewers_after(
    sessions: &CounterMap<SessionKey, Box<Session>>,
    viewers: &[SessionKey],
    position: usize,
    kind: MediaKind,
) {
    if let Some(next) = viewers.get(position + 1).and_then(|key| sessions.get(key)) {
        next.prefetch_media_heap(kind);
    }
    if let Some(after) = viewers.get(position + 2).and_then(|key| sessions.get(key)) {
        after.prefetch_media_state();
    }
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
    /// are passed over in the same call, up to `PASSED_OVER_PER_POLL` of them: then it
    /// returns `None` with the queue not yet empty.
    pub(super) fn write_fanout_run(
        &mut self,
        out: &mut Vec<u8>,
        limits: RunLimits,
    ) -> Option<TransmitMeta> {
        for _ in 0..PASSED_OVER_PER_POLL {
            let job = self.fanout.front()?;
            let kind = job.packet.origin.kind;
            let viewers = self
                .streams
                .get(&job.stream)
                .map_or(&[][..], |route| route.viewers.as_slice());
            let next = self.fanout.front_position(viewers.len());
            let Some((position, &key)) = next.and_then(|at| Some((at, viewers.get(at)?))) else {
                // Every viewer has it, or the stream has no viewers left.
                if let Some(done) = self.fanout.pop_front() {
                    self.finish_job(done);
                }
                continue;
            };
            prefetch_viewers_after(&self.sessions, viewers, position, kind);
            if let Some(run) = self.write_run_for(key, position, out, limits) {
                let segment_size = u16::try_from(run.segment_size)
                    .ok()
                    .filter(|_| run.segments > 1);
                return Some(TransmitMeta {
                    segment_size,
                    ..run.meta
                });
            }
        }
        None
    }

    /// Writes into `out` the run for viewer `key`, at `position` in the front job's stream's
    /// list, from the jobs at the front of the queue whose cursors stand there. `None` when
    /// the viewer took none of their packets (the cursors moved on all the same).
    fn write_run_for(
        &mut self,
        key: SessionKey,
        position: usize,
        out: &mut Vec<u8>,
        limits: RunLimits,
    ) -> Option<Run> {
        let shape = self.run_shape(key, position, limits.segments);
        let mut run: Option<Run> = None;
        let mut taken = 0;
        let awaited_keyframe = self.sessions.get(&key).map(|v| v.awaits_keyframe());
        let mut asked_keyframe = false;
        for index in 0.. {
            match self.fanout.place_in_run(index, position) {
                RunPlace::PassedOver => continue,
                RunPlace::Ends => break,
                RunPlace::Joins => {}
            }
            let Some(job) = self.fanout.get_mut(index) else {
                break;
            };
            let rtp_len = job.packet.rtp_len();
            if let Some(run) = &run {
                // A segment size UDP_SEGMENT cannot name keeps the run to one datagram.
                let full = run.segments >= limits.segments
                    || out.len() + run.segment_size > limits.bytes
                    || run.segment_size > usize::from(u16::MAX);
                if full || rtp_len > shape.padded_len {
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
            let padding = shape.padding(taken, rtp_len);
            taken += 1;
            let start = out.len();
            let written = viewer.write_media_onto(self.now, &job.packet, padding, out);
            while let Some(event) = viewer.poll_event() {
                if let SessionEvent::KeyframeRequest { layer } = event {
                    job.keyframe_layers |= 1u8.checked_shl(layer.into()).unwrap_or(0);
                    asked_keyframe = true;
                }
            }
            if !written {
                continue;
            }
            self.counters.media_packets_out += 1;
            let len = out.len() - start;
            let Some(current) = &mut run else {
                // Every packet of the run goes where the first goes.
                let Some(meta) = viewer.media_destination() else {
                    out.truncate(start);
                    continue;
                };
                run = Some(Run {
                    meta,
                    segment_size: len,
                    segments: 1,
                });
                continue;
            };
            if len > current.segment_size {
                self.leftover.bytes.clear();
                self.leftover.bytes.extend_from_slice(&out[start..]);
                self.leftover.meta = Some(current.meta);
                out.truncate(start);
                break;
            }
            current.segments += 1;
            if len < current.segment_size {
                // Only the last datagram of a run may be shorter.
                break;
            }
        }
        // Writing media moves a viewer's deadline only through its keyframe request: when it
        // asked for one (the next retry), or began waiting for one (a layer switch). A
        // keyframe that ends the wait leaves an early deadline, which only wakes the session
        // once for nothing; asking the session (its ICE and DTLS timers, cold lines) after
        // every run cost more.
        if let Some(viewer) = self.sessions.get(&key)
            && (asked_keyframe || awaited_keyframe != Some(viewer.awaits_keyframe()))
        {
            self.timers.set(key, viewer.poll_timeout());
        }
        run
    }

    /// What the run for viewer `key` at `position` will take: the packets of the jobs standing
    /// there that the viewer has a use for, as far as they fit one run.
    fn run_shape(&self, key: SessionKey, position: usize, segments: usize) -> RunShape {
        let mut shape = RunShape::default();
        let Some(viewer) = self.sessions.get(&key) else {
            return shape;
        };
        for (index, job) in self.fanout.iter().enumerate() {
            match self.fanout.place_in_run(index, position) {
                RunPlace::PassedOver => continue,
                RunPlace::Ends => break,
                RunPlace::Joins if shape.packets == segments => break,
                RunPlace::Joins => {}
            }
            if !viewer.skips_media(self.now, &job.packet) && !shape.admit(job.packet.rtp_len()) {
                break;
            }
        }
        shape
    }

    /// A job leaves the queue: viewers' keyframe requests gathered while writing it go out.
    fn finish_job(&mut self, job: FanoutJob) {
        self.request_keyframes(&job.stream, job.keyframe_layers);
    }

    /// Asks for a keyframe of each simulcast layer in `layers` (bit i: layer i).
    pub(super) fn request_keyframes(&mut self, stream: &str, layers: u8) {
        for layer in 0..u8::BITS as u8 {
            if layers & (1 << layer) != 0 {
                self.request_keyframe(self.now, stream, layer);
            }
        }
    }
}

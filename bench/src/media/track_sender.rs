//! One track of the publisher: plays a file's frames in a loop on a continuous RTP
//! timeline, as a live encoder would.
//!
//! The output timeline and the file position are kept apart: the timeline only moves
//! forward by frame durations, so RTP timestamps stay continuous across the loop point and
//! across a keyframe jump, while the file position may wrap or skip ahead.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shardcast_control::MediaKind;
use shardcast_proto::rtp::RtpHeader;

use super::packetize::Packetizer;
use super::{RtxIdentity, RtxStream, SendCache, Track};

/// How many sent packets each track keeps for retransmission: about 0.8 s of 1.5 Mbps video.
pub const SEND_CACHE_PACKETS: usize = 1024;

/// The RTP identity of a track, chosen by the caller (random in a real sender, fixed in
/// tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpIdentity {
    pub payload_type: u8,
    pub ssrc: u32,
    pub first_sequence_number: u16,
    pub first_timestamp: u32,
    /// Where retransmissions go: an RTX stream when the server accepted one, else the
    /// original packet again.
    pub rtx: Option<RtxIdentity>,
}

/// One RTP packet to send: the caller writes `header` and `payload` with
/// `shardcast_proto::rtp::write_rtp`, adding its header extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPacket {
    pub kind: MediaKind,
    pub header: RtpHeader,
    /// Shared with the send cache, so a plain retransmission copies no payload.
    pub payload: Arc<[u8]>,
}

#[derive(Debug)]
pub struct TrackSender {
    track: Track,
    identity: RtpIdentity,
    packetizer: Packetizer,
    start: Instant,
    /// Index in the file of the next frame to packetize.
    next_frame: usize,
    /// Ticks of the RTP clock from `start` to the next frame on the output timeline.
    next_frame_ticks: u64,
    /// The packets of the current frame still to send, all due at `pending_ticks`.
    pending: VecDeque<OutgoingPacket>,
    pending_ticks: u64,
    next_sequence_number: u16,
    keyframe_requested: bool,
    cache: SendCache,
    rtx: Option<RtxStream>,
}

impl TrackSender {
    /// A sender whose first frame is due at `now`.
    pub fn new(track: Track, identity: RtpIdentity, max_payload: usize, now: Instant) -> Self {
        Self {
            packetizer: Packetizer::new(track.format(), max_payload),
            track,
            identity,
            start: now,
            next_frame: 0,
            next_frame_ticks: 0,
            pending: VecDeque::new(),
            pending_ticks: 0,
            next_sequence_number: identity.first_sequence_number,
            keyframe_requested: false,
            cache: SendCache::new(SEND_CACHE_PACKETS),
            rtx: identity.rtx.map(RtxStream::new),
        }
    }

    pub fn track(&self) -> &Track {
        &self.track
    }

    pub fn ssrc(&self) -> u32 {
        self.identity.ssrc
    }

    /// When the next packet is due: now or in the past while a frame is half sent.
    pub fn poll_timeout(&self) -> Instant {
        if self.pending.is_empty() {
            self.instant_of(self.next_frame_ticks)
        } else {
            self.instant_of(self.pending_ticks)
        }
    }

    /// The next packet due at `now`, if any. A frame's packets are all due at the frame's
    /// time and leave back to back, like an encoder's output.
    pub fn poll(&mut self, now: Instant) -> Option<OutgoingPacket> {
        while self.pending.is_empty() && self.instant_of(self.next_frame_ticks) <= now {
            self.packetize_next_frame();
        }
        let packet = self.pending.pop_front()?;
        self.cache.insert(packet.clone());
        Some(packet)
    }

    /// Makes the next frame to start a keyframe, skipping ahead in the file to it; the frame
    /// being sent is finished first, and the timeline does not jump.
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// The packet once sent with `sequence_number`, if it is still in the send cache: in
    /// the RTX stream when there is one, else as it was sent.
    pub fn retransmit(&mut self, sequence_number: u16) -> Option<OutgoingPacket> {
        let original = self.cache.get(sequence_number)?;
        Some(match self.rtx.as_mut() {
            Some(rtx) => rtx.wrap(original),
            None => original.clone(),
        })
    }

    fn packetize_next_frame(&mut self) {
        let frames = self.track.frames();
        if self.keyframe_requested {
            self.keyframe_requested = false;
            // The first frame is a keyframe (Track checks it), so the search always ends.
            let after = frames[self.next_frame..].iter().position(|f| f.keyframe);
            self.next_frame = after.map_or(0, |offset| self.next_frame + offset);
        }
        let frame = &frames[self.next_frame];
        // RTP timestamps wrap at 32 bits; the timeline itself does not.
        let timestamp = self
            .identity
            .first_timestamp
            .wrapping_add(self.next_frame_ticks as u32);
        let payloads = self.packetizer.packetize(&frame.data);
        let last = payloads.len().saturating_sub(1);
        for (index, payload) in payloads.into_iter().enumerate() {
            let header = RtpHeader {
                marker: index == last,
                payload_type: self.identity.payload_type,
                sequence_number: self.next_sequence_number,
                timestamp,
                ssrc: self.identity.ssrc,
            };
            self.next_sequence_number = self.next_sequence_number.wrapping_add(1);
            self.pending.push_back(OutgoingPacket {
                kind: self.track.kind(),
                header,
                payload: payload.into(),
            });
        }
        self.pending_ticks = self.next_frame_ticks;
        self.next_frame_ticks += u64::from(frame.duration);
        self.next_frame = (self.next_frame + 1) % frames.len();
    }

    fn instant_of(&self, ticks: u64) -> Instant {
        let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(self.track.clock_rate());
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        self.start + Duration::from_nanos(nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Frame;
    use crate::media::packetize::PayloadFormat;

    const IDENTITY: RtpIdentity = RtpIdentity {
        payload_type: 96,
        ssrc: 0x1234,
        first_sequence_number: 65534,
        first_timestamp: u32::MAX - 3000,
        rtx: None,
    };

    /// Four VP8-like frames 1/30 s apart, keyframes at 0 and 2; frame `i` is 2000 bytes of
    /// `i`, so two packets each.
    fn track() -> Track {
        let frames = (0..4u8)
            .map(|index| Frame {
                timestamp: u64::from(index) * 3000,
                duration: 3000,
                keyframe: index % 2 == 0,
                data: vec![index; 2000],
            })
            .collect();
        Track::new(PayloadFormat::Vp8, frames).unwrap()
    }

    /// Everything due at `now`, as (sequence number, timestamp, marker, frame index).
    fn drain(sender: &mut TrackSender, now: Instant) -> Vec<(u16, u32, bool, u8)> {
        std::iter::from_fn(|| sender.poll(now))
            .map(|packet| {
                let header = packet.header;
                let frame_index = packet.payload[4];
                (
                    header.sequence_number,
                    header.timestamp,
                    header.marker,
                    frame_index,
                )
            })
            .collect()
    }

    fn millis(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn paces_frames_by_timestamp() {
        let start = Instant::now();
        let mut sender = TrackSender::new(track(), IDENTITY, 1200, start);
        assert_eq!(sender.poll_timeout(), start);
        let first = drain(&mut sender, start);
        assert_eq!(
            first,
            [
                (65534, u32::MAX - 3000, false, 0),
                (65535, u32::MAX - 3000, true, 0)
            ]
        );
        // The second frame is due 1/30 s later, not before.
        let next = start + Duration::from_nanos(33_333_333);
        assert_eq!(sender.poll_timeout(), next);
        assert!(sender.poll(next - Duration::from_nanos(1)).is_none());
        let second = drain(&mut sender, next);
        assert_eq!(second, [(0, u32::MAX, false, 1), (1, u32::MAX, true, 1)]);
        // Late polling catches up with every frame due since.
        let late = drain(&mut sender, start + millis(100));
        let timestamps: Vec<_> = late.iter().map(|packet| packet.1).collect();
        assert_eq!(timestamps, [2999, 2999, 5999, 5999]);
    }

    #[test]
    fn timestamps_continue_across_the_loop_point() {
        let start = Instant::now();
        let mut sender = TrackSender::new(track(), IDENTITY, 1200, start);
        // Nine frames: two and a quarter loops of the four-frame file.
        let sent = drain(&mut sender, start + millis(267));
        let frames: Vec<_> = sent.iter().filter(|packet| packet.2).collect();
        let indices: Vec<_> = frames.iter().map(|packet| packet.3).collect();
        assert_eq!(indices, [0, 1, 2, 3, 0, 1, 2, 3, 0]);
        for pair in frames.windows(2) {
            assert_eq!(pair[1].1.wrapping_sub(pair[0].1), 3000);
        }
        for pair in sent.windows(2) {
            assert_eq!(pair[1].0, pair[0].0.wrapping_add(1));
        }
    }

    #[test]
    fn keyframe_request_skips_ahead_without_a_timestamp_jump() {
        let start = Instant::now();
        let mut sender = TrackSender::new(track(), IDENTITY, 1200, start);
        // Half of frame 0 is out when the request comes: frame 0 is finished first.
        assert!(sender.poll(start).is_some());
        sender.request_keyframe();
        let rest = drain(&mut sender, start);
        assert_eq!(rest.len(), 1);
        // Frame 1 is skipped: keyframe 2 follows, one frame duration later.
        let after = drain(&mut sender, start + millis(34));
        assert_eq!(after, [(0, u32::MAX, false, 2), (1, u32::MAX, true, 2)]);
        // From the last keyframe of the file the search wraps to the first frame.
        sender.request_keyframe();
        let wrapped = drain(&mut sender, start + millis(67));
        assert_eq!(wrapped[0].3, 0);
        assert_eq!(wrapped[0].1, 2999);
    }

    #[test]
    fn retransmits_from_the_cache_only() {
        let start = Instant::now();
        let mut sender = TrackSender::new(track(), IDENTITY, 1200, start);
        let first = sender.poll(start).unwrap();
        assert_eq!(sender.retransmit(65534), Some(first));
        // Not sent yet, or never.
        assert_eq!(sender.retransmit(65535), None);
        assert_eq!(sender.retransmit(100), None);
        // After more than a cache's worth of packets the first one is gone.
        let much_later = start + Duration::from_secs(20);
        let sent = drain(&mut sender, much_later).len();
        assert!(sent > SEND_CACHE_PACKETS);
        assert_eq!(sender.retransmit(65534), None);
        let last = 65534u16.wrapping_add(sent as u16);
        assert!(sender.retransmit(last).is_some());
    }

    #[test]
    fn retransmits_in_the_rtx_stream_when_there_is_one() {
        let start = Instant::now();
        let rtx = RtxIdentity {
            payload_type: 97,
            ssrc: 0x5678,
            first_sequence_number: 10,
        };
        let identity = RtpIdentity {
            rtx: Some(rtx),
            ..IDENTITY
        };
        let mut sender = TrackSender::new(track(), identity, 1200, start);
        let first = sender.poll(start).unwrap();
        let second = sender.poll(start).unwrap();
        let resent = [65535, 65534].map(|seq| sender.retransmit(seq).unwrap());
        for (packet, original) in resent.iter().zip([&second, &first]) {
            assert_eq!(
                (packet.header.payload_type, packet.header.ssrc),
                (97, 0x5678)
            );
            assert_eq!(packet.header.timestamp, original.header.timestamp);
            assert_eq!(
                packet.payload[..2],
                original.header.sequence_number.to_be_bytes()
            );
            assert_eq!(packet.payload[2..], original.payload[..]);
        }
        assert_eq!(resent.map(|packet| packet.header.sequence_number), [10, 11]);
        assert_eq!(sender.retransmit(100), None, "never sent");
        let again = sender.retransmit(65534).unwrap();
        assert_eq!(again.header.sequence_number, 12, "a miss takes no number");
        // The media stream goes on where it was: RTX takes none of its numbers.
        let next = drain(&mut sender, start + millis(34));
        assert_eq!(next[0].0, 0);
    }
}

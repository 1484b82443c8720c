//! The publisher's whole output: its tracks merged in time order, with the answers to
//! the receiver's feedback (NACK, PLI, FIR) and counters of how often it asked.

use std::time::Instant;

use super::{MediaError, OutgoingPacket, RtpIdentity, Track, TrackSender};

/// How often the server asked the publisher for something, and what it got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Sequence numbers asked for by NACK.
    pub nack_requests: u64,
    /// Of those, the ones found in the send cache and sent again, in an RTX stream or not.
    pub retransmissions: u64,
    /// PLI and FIR requests.
    pub keyframe_requests: u64,
}

/// A sans-IO publisher: plays each track's file in a loop, paced by media timestamps.
#[derive(Debug)]
pub struct MediaLoop {
    tracks: Vec<TrackSender>,
    stats: LoopStats,
}

impl MediaLoop {
    /// Starts every track at `now`; SSRCs, RTX ones included, must differ, since feedback
    /// names its track by SSRC and receivers tell streams apart by it.
    pub fn new(
        tracks: Vec<(Track, RtpIdentity)>,
        max_payload: usize,
        now: Instant,
    ) -> Result<Self, MediaError> {
        let ssrcs: Vec<u32> = tracks
            .iter()
            .flat_map(|(_, identity)| {
                std::iter::once(identity.ssrc).chain(identity.rtx.map(|rtx| rtx.ssrc))
            })
            .collect();
        for (index, ssrc) in ssrcs.iter().enumerate() {
            if ssrcs[..index].contains(ssrc) {
                return Err(MediaError::DuplicateSsrc(*ssrc));
            }
        }
        let tracks = tracks
            .into_iter()
            .map(|(track, identity)| TrackSender::new(track, identity, max_payload, now))
            .collect();
        Ok(Self {
            tracks,
            stats: LoopStats::default(),
        })
    }

    pub fn tracks(&self) -> &[TrackSender] {
        &self.tracks
    }

    /// The next packet due at `now`, earliest first across tracks; `None` when nothing is
    /// due until [`Self::poll_timeout`].
    pub fn poll(&mut self, now: Instant) -> Option<OutgoingPacket> {
        // A track that was due but had nothing to send has moved its timeout past `now`,
        // so each pass either returns a packet or leaves one track fewer due.
        loop {
            let earliest = self
                .tracks
                .iter_mut()
                .filter(|track| track.poll_timeout() <= now)
                .min_by_key(|track| track.poll_timeout())?;
            if let Some(packet) = earliest.poll(now) {
                return Some(packet);
            }
        }
    }

    /// When the next packet is due; `None` only without tracks.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.tracks.iter().map(TrackSender::poll_timeout).min()
    }

    /// A PLI or FIR for `ssrc`: its next frame will be the next keyframe in the file.
    /// Returns false for an SSRC this publisher does not send.
    pub fn request_keyframe(&mut self, ssrc: u32) -> bool {
        let Some(track) = self.track_mut(ssrc) else {
            return false;
        };
        track.request_keyframe();
        self.stats.keyframe_requests += 1;
        true
    }

    /// A NACK for one packet of the media stream `ssrc`: the packet again if it is still
    /// cached, in the track's RTX stream when it has one.
    pub fn retransmit(&mut self, ssrc: u32, sequence_number: u16) -> Option<OutgoingPacket> {
        let packet = self.track_mut(ssrc)?.retransmit(sequence_number);
        self.stats.nack_requests += 1;
        if packet.is_some() {
            self.stats.retransmissions += 1;
        }
        packet
    }

    pub fn stats(&self) -> LoopStats {
        self.stats
    }

    fn track_mut(&mut self, ssrc: u32) -> Option<&mut TrackSender> {
        self.tracks.iter_mut().find(|track| track.ssrc() == ssrc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{RtxIdentity, test_files};
    use shardcast_control::{CodecName, MediaKind};
    use shardcast_proto::codec::is_keyframe;
    use std::time::Duration;

    const VIDEO_SSRC: u32 = 0xaaaa;
    const AUDIO_SSRC: u32 = 0xbbbb;
    const RTX_SSRC: u32 = 0xcccc;

    fn identity(payload_type: u8, ssrc: u32) -> RtpIdentity {
        RtpIdentity {
            payload_type,
            ssrc,
            first_sequence_number: 1000,
            first_timestamp: 5000,
            rtx: None,
        }
    }

    fn real_loop(start: Instant) -> MediaLoop {
        let video = Track::h264_annexb(&test_files::read("video-h264.h264"), 30).unwrap();
        let audio = Track::opus_ogg(&test_files::read("audio-opus.ogg")).unwrap();
        MediaLoop::new(
            vec![
                (video, identity(102, VIDEO_SSRC)),
                (audio, identity(111, AUDIO_SSRC)),
            ],
            1200,
            start,
        )
        .unwrap()
    }

    /// Runs simulated time from `start` to `end` the way a runtime would: sleep until the
    /// timeout, then take every packet due.
    fn run(media: &mut MediaLoop, start: Instant, end: Instant) -> Vec<(Instant, OutgoingPacket)> {
        let mut now = start;
        let mut sent = Vec::new();
        while now <= end {
            while let Some(packet) = media.poll(now) {
                sent.push((now, packet));
            }
            let next = media.poll_timeout().unwrap();
            assert!(next > now, "poll left a packet due");
            now = next;
        }
        sent
    }

    #[test]
    fn plays_real_files_in_time_with_both_tracks() {
        let start = Instant::now();
        let mut media = real_loop(start);
        let sent = run(&mut media, start, start + Duration::from_millis(999));
        let audio: Vec<_> = sent
            .iter()
            .filter(|(_, p)| p.kind == MediaKind::Audio)
            .collect();
        let video_frames = sent
            .iter()
            .filter(|(_, p)| p.kind == MediaKind::Video && p.header.marker)
            .count();
        assert_eq!(audio.len(), 50);
        assert_eq!(video_frames, 30);
        // Each packet leaves when its media time comes, never earlier.
        for (at, packet) in &sent {
            let clock = if packet.kind == MediaKind::Audio {
                48
            } else {
                90
            };
            let media_ms = u64::from(packet.header.timestamp - 5000) / clock;
            assert_eq!(at.duration_since(start).as_millis() as u64, media_ms);
        }
        let (_, first_video) = sent
            .iter()
            .find(|(_, p)| p.kind == MediaKind::Video)
            .unwrap();
        assert!(is_keyframe(CodecName::H264, &first_video.payload));
        assert!(sent.iter().all(|(_, p)| p.payload.len() <= 1200));
    }

    #[test]
    fn loops_with_continuous_timestamps_and_sequence_numbers() {
        let start = Instant::now();
        let mut media = real_loop(start);
        // Past the end of both files (10 s of video, 10.02 s of audio).
        let sent = run(&mut media, start, start + Duration::from_millis(10_500));
        for ssrc in [VIDEO_SSRC, AUDIO_SSRC] {
            let headers: Vec<_> = sent
                .iter()
                .map(|(_, p)| p.header)
                .filter(|header| header.ssrc == ssrc)
                .collect();
            for pair in headers.windows(2) {
                assert_eq!(
                    pair[1].sequence_number,
                    pair[0].sequence_number.wrapping_add(1)
                );
                let step = pair[1].timestamp - pair[0].timestamp;
                // Same frame, or the next one: no jump at the loop point.
                assert!(step == 0 || step == 3000 || step == 960, "{ssrc:x}: {step}");
            }
        }
        let video_frames = sent
            .iter()
            .filter(|(_, p)| p.header.ssrc == VIDEO_SSRC && p.header.marker)
            .count();
        // 10.5 s at 30 fps, frame 0 included.
        assert_eq!(video_frames, 316);
    }

    #[test]
    fn keyframe_request_jumps_to_the_next_idr() {
        let start = Instant::now();
        let mut media = real_loop(start);
        run(&mut media, start, start + Duration::from_millis(500));
        assert!(media.request_keyframe(VIDEO_SSRC));
        assert!(!media.request_keyframe(0xdead));
        let sent = run(
            &mut media,
            start + Duration::from_millis(501),
            start + Duration::from_millis(540),
        );
        let (_, next_video) = sent
            .iter()
            .find(|(_, p)| p.kind == MediaKind::Video)
            .unwrap();
        assert!(is_keyframe(CodecName::H264, &next_video.payload));
        // Frame 16 of the timeline, at its usual time, though it is frame 60 of the file.
        assert_eq!(next_video.header.timestamp, 5000 + 16 * 3000);
        assert_eq!(media.stats().keyframe_requests, 1);
    }

    #[test]
    fn answers_nacks_and_counts_them() {
        let start = Instant::now();
        let mut media = real_loop(start);
        let sent = run(&mut media, start, start + Duration::from_millis(100));
        let (_, original) = sent
            .iter()
            .find(|(_, p)| p.header.ssrc == VIDEO_SSRC)
            .unwrap();
        assert_eq!(media.retransmit(VIDEO_SSRC, 1000).as_ref(), Some(original));
        assert_eq!(media.retransmit(VIDEO_SSRC, 999), None);
        assert_eq!(media.retransmit(0xdead, 1000), None);
        assert_eq!(
            media.stats(),
            LoopStats {
                nack_requests: 2,
                retransmissions: 1,
                keyframe_requests: 0
            }
        );
    }

    #[test]
    fn answers_nacks_in_the_rtx_stream_when_negotiated_and_counts_them_alike() {
        let start = Instant::now();
        let video = Track::vp8_ivf(&test_files::read("video-vp8.ivf")).unwrap();
        let mut with_rtx = identity(96, VIDEO_SSRC);
        with_rtx.rtx = Some(RtxIdentity {
            payload_type: 97,
            ssrc: RTX_SSRC,
            first_sequence_number: 7,
        });
        let mut media = MediaLoop::new(vec![(video, with_rtx)], 1200, start).unwrap();
        let sent = run(&mut media, start, start + Duration::from_millis(100));
        let (_, original) = &sent[1];
        let resent = media.retransmit(VIDEO_SSRC, 1001).unwrap();
        assert_eq!(resent.header.ssrc, RTX_SSRC);
        assert_eq!(resent.header.payload_type, 97);
        assert_eq!(resent.header.sequence_number, 7);
        assert_eq!(resent.payload[..2], 1001u16.to_be_bytes());
        assert_eq!(resent.payload[2..], original.payload[..]);
        // Feedback names the media SSRC, never the RTX one.
        assert_eq!(media.retransmit(RTX_SSRC, 7), None);
        assert_eq!(media.retransmit(VIDEO_SSRC, 999), None);
        assert_eq!(
            media.stats(),
            LoopStats {
                nack_requests: 2,
                retransmissions: 1,
                keyframe_requests: 0
            }
        );
    }

    #[test]
    fn rejects_duplicate_ssrcs() {
        let audio = Track::opus_ogg(&test_files::read("audio-opus.ogg")).unwrap();
        let tracks = vec![(audio.clone(), identity(111, 1)), (audio, identity(111, 1))];
        assert_eq!(
            MediaLoop::new(tracks, 1200, Instant::now()).err(),
            Some(MediaError::DuplicateSsrc(1))
        );
        let video = Track::vp8_ivf(&test_files::read("video-vp8.ivf")).unwrap();
        let mut clashing = identity(96, VIDEO_SSRC);
        clashing.rtx = Some(RtxIdentity {
            payload_type: 97,
            ssrc: AUDIO_SSRC,
            first_sequence_number: 0,
        });
        let audio = Track::opus_ogg(&test_files::read("audio-opus.ogg")).unwrap();
        let tracks = vec![(video, clashing), (audio, identity(111, AUDIO_SSRC))];
        assert_eq!(
            MediaLoop::new(tracks, 1200, Instant::now()).err(),
            Some(MediaError::DuplicateSsrc(AUDIO_SSRC))
        );
    }
}

//! The publisher's stream, as the engine's ingress would hand it to egress: the bench's real
//! VP8 and Opus files played in a loop at their own pace, each RTP packet turned into a
//! decrypted [`MediaPacket`]. The publisher's SRTP is left out: the engine decrypts once per
//! publisher packet, and the baseline is about the per-viewer work.

use std::time::{Duration, Instant};

use shardcast_control::{CodecName, Extension, MediaKind};
use shardcast_proto::codec::is_keyframe;
use shardcast_proto::media::{MediaOrigin, MediaPacket, PacketLayout};
use shardcast_proto::rtp::extension::{ABS_CAPTURE_TIME_URI, MID_URI};
use shardcast_proto::rtp::{ExtensionKind, ExtensionMap, RtpPacket, write_rtp};

use crate::media::packetize::DEFAULT_MAX_PAYLOAD;
use crate::media::{MediaError, MediaLoop, OutgoingPacket, RtpIdentity, Track};

const VP8_FILE: &[u8] = include_bytes!("../../media/video-vp8.ivf");
const OPUS_FILE: &[u8] = include_bytes!("../../media/audio-opus.ogg");

pub const VIDEO_PAYLOAD_TYPE: u8 = 96;
pub const AUDIO_PAYLOAD_TYPE: u8 = 111;

/// The publisher's extension IDs: mid and the capture time, as the bench's publisher sends.
const MID_ID: u8 = 1;
const ABS_CAPTURE_TIME_ID: u8 = 2;

/// What the pacer says to do next.
#[derive(Debug)]
pub enum Step {
    /// Fan this packet out now.
    Send(MediaPacket),
    /// Nothing is due for this long.
    Wait(Duration),
    /// The run is over.
    Done,
}

/// The publisher's packets, each at its time, until the end of the run.
pub struct Pacer {
    media: MediaLoop,
    extensions: ExtensionMap,
    end: Instant,
}

impl Pacer {
    /// A stream whose first packet is due at `start` and which ends `duration` later.
    pub fn new(start: Instant, duration: Duration) -> Result<Self, MediaError> {
        let tracks = vec![
            (
                Track::vp8_ivf(VP8_FILE)?,
                identity(VIDEO_PAYLOAD_TYPE, 0x1111),
            ),
            (
                Track::opus_ogg(OPUS_FILE)?,
                identity(AUDIO_PAYLOAD_TYPE, 0x2222),
            ),
        ];
        let extensions = ExtensionMap::new(&[
            Extension {
                id: MID_ID,
                uri: MID_URI.into(),
            },
            Extension {
                id: ABS_CAPTURE_TIME_ID,
                uri: ABS_CAPTURE_TIME_URI.into(),
            },
        ]);
        Ok(Self {
            media: MediaLoop::new(tracks, DEFAULT_MAX_PAYLOAD, start)?,
            extensions,
            end: start + duration,
        })
    }

    pub fn next(&mut self, now: Instant) -> Step {
        if now >= self.end {
            return Step::Done;
        }
        if let Some(packet) = self.media.poll(now) {
            return Step::Send(self.decrypted(&packet, now));
        }
        let next = self.media.poll_timeout().unwrap_or(self.end).min(self.end);
        Step::Wait(next.saturating_duration_since(now))
    }

    /// The packet as ingress makes it after SRTP: plain RTP bytes with their layout read.
    fn decrypted(&self, packet: &OutgoingPacket, now: Instant) -> MediaPacket {
        let (codec, clock_rate, mid) = match packet.kind {
            MediaKind::Video => (CodecName::Vp8, 90_000, "1"),
            MediaKind::Audio => (CodecName::Opus, 48_000, "0"),
        };
        let capture_time = [0, 0, 0, 1, 0, 0, 0, 0];
        let elements: [(u8, &[u8]); 2] = [
            (MID_ID, mid.as_bytes()),
            (ABS_CAPTURE_TIME_ID, &capture_time),
        ];
        let mut data = vec![0; packet.payload.len() + 64];
        let len = write_rtp(&mut data, &packet.header, &elements, &packet.payload)
            .expect("a header and two short extensions fit in 64 bytes");
        data.truncate(len);
        let rtp = RtpPacket::parse(&data).expect("what write_rtp writes parses");
        let extensions = &self.extensions;
        // Ingress forwards everything it knows but mid, which egress writes per viewer.
        let layout = PacketLayout::of(&rtp, |id| {
            extensions.kind_of(id).filter(|k| *k != ExtensionKind::Mid)
        });
        let origin = MediaOrigin {
            source: 1,
            kind: packet.kind,
            codec,
            clock_rate,
            keyframe: is_keyframe(codec, &packet.payload),
            arrival: now,
            layer: 0,
            layers: shardcast_proto::layers::LayerRates::default(),
        };
        MediaPacket::new(origin, layout, data)
    }
}

fn identity(payload_type: u8, ssrc: u32) -> RtpIdentity {
    RtpIdentity {
        payload_type,
        ssrc,
        first_sequence_number: 1000,
        first_timestamp: 5000,
        rtx: None,
    }
}

//! A viewer's outgoing tracks: from a shared [`MediaPacket`] to this viewer's RTP packet.
//!
//! Each viewer has its own SSRC, payload types and extension IDs (whatever its offer
//! chose), and its own continuous sequence numbers and timestamps across publisher
//! changes. Video is held back after a source change until a keyframe arrives, so the
//! decoder never sees a frame that references one it never got.

pub mod rewrite;
mod track;

pub use track::{EgressOutcome, EgressTrack};

use std::time::Instant;

use shardcast_control::{MediaKind, MediaSection};

use crate::media::MediaPacket;
use crate::router::SenderClock;

/// All tracks of one viewer.
pub struct ViewerEgress {
    tracks: Vec<EgressTrack>,
}

impl ViewerEgress {
    /// `ssrcs[i]` is the SSRC this viewer receives section `i` with.
    pub fn new(media: &[MediaSection], ssrcs: &[u32], first_seq: u16, first_ts: u32) -> Self {
        let tracks = media
            .iter()
            .zip(ssrcs)
            .map(|(section, &ssrc)| EgressTrack::new(section, ssrc, first_seq, first_ts))
            .collect();
        Self { tracks }
    }

    /// Rewrites `packet` for this viewer into `out`.
    pub fn write(&mut self, now: Instant, packet: &MediaPacket, out: &mut [u8]) -> EgressOutcome {
        match self.track_for(packet.origin.kind) {
            Some(track) => track.write(now, packet, out),
            None => EgressOutcome::NoTrack,
        }
    }

    /// True when a video track waits for a keyframe.
    pub fn needs_keyframe(&self) -> bool {
        self.tracks.iter().any(EgressTrack::waiting_for_keyframe)
    }

    pub fn set_clock(&mut self, clock: SenderClock) {
        if let Some(track) = self.track_for(clock.kind) {
            track.set_clock(clock);
        }
    }

    pub fn tracks(&self) -> &[EgressTrack] {
        &self.tracks
    }

    pub fn tracks_mut(&mut self) -> &mut [EgressTrack] {
        &mut self.tracks
    }

    /// Is this one of our SSRCs (the viewer's RTCP names them)?
    pub fn has_ssrc(&self, ssrc: u32) -> bool {
        self.tracks.iter().any(|t| t.ssrc() == ssrc)
    }

    fn track_for(&mut self, kind: MediaKind) -> Option<&mut EgressTrack> {
        self.tracks.iter_mut().find(|t| t.kind() == kind)
    }
}

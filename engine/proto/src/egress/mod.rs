//! A viewer's outgoing tracks: from a shared [`MediaPacket`] to this viewer's RTP packet.
//!
//! Each viewer has its own SSRC, payload types and extension IDs (whatever its offer
//! chose), and its own continuous sequence numbers and timestamps across publisher
//! changes. Video is held back after a source change until a keyframe arrives, so the
//! decoder never sees a frame that references one it never got.
//!
//! A viewer's NACKs are answered from the shard's [`RtxCache`] of the stream, through a
//! paced queue (see `retransmit`).
//!
//! When the viewer negotiated transport-wide congestion control, every packet it gets (media
//! and retransmissions, on any track) carries the next transport-wide sequence number, and
//! its [`BandwidthEstimator`] remembers when each went and how big it was.

mod retransmit;
pub mod retransmit_limit;
pub mod retransmit_queue;
pub mod rewrite;
pub mod rtx_cache;
pub mod rtx_packet;
mod sent_reports;
mod track;

pub use rtx_cache::RtxCache;
pub use track::{EgressOutcome, EgressTrack};

use std::time::Instant;

use shardcast_control::{MediaKind, MediaSection};

use crate::bwe::BandwidthEstimator;
use crate::media::MediaPacket;
use crate::repair::RepairCounters;
use crate::router::SenderClock;
use crate::rtt::RttEstimate;
use retransmit_queue::RetransmitQueue;
use sent_reports::SentReports;

/// All tracks of one viewer.
pub struct ViewerEgress {
    tracks: Vec<EgressTrack>,
    retransmits: RetransmitQueue,
    rtt: RttEstimate,
    sent_reports: SentReports,
    counters: RepairCounters,
    bandwidth: BandwidthEstimator,
}

impl ViewerEgress {
    /// `ssrcs[i]` is the SSRC this viewer receives section `i` with.
    pub fn new(media: &[MediaSection], ssrcs: &[u32], first_seq: u16, first_ts: u32) -> Self {
        let tracks = media
            .iter()
            .zip(ssrcs)
            .map(|(section, &ssrc)| EgressTrack::new(section, ssrc, first_seq, first_ts))
            .collect::<Vec<_>>();
        let transport_wide = tracks.iter().any(EgressTrack::carries_transport_seq);
        Self {
            tracks,
            retransmits: RetransmitQueue::default(),
            rtt: RttEstimate::default(),
            sent_reports: SentReports::default(),
            counters: RepairCounters::default(),
            bandwidth: BandwidthEstimator::new(transport_wide, first_seq),
        }
    }

    /// Gives track `i` the RTX SSRC `rtx_ssrcs[i]` (where it is `Some`); their sequence
    /// numbers start at `first_seq`.
    pub fn with_rtx(mut self, rtx_ssrcs: &[Option<u32>], first_seq: u16) -> Self {
        for (track, rtx_ssrc) in self.tracks.iter_mut().zip(rtx_ssrcs) {
            if let Some(ssrc) = *rtx_ssrc {
                track.set_rtx(ssrc, first_seq);
            }
        }
        self
    }

    /// Rewrites `packet` for this viewer into `out`.
    pub fn write(&mut self, now: Instant, packet: &MediaPacket, out: &mut [u8]) -> EgressOutcome {
        let transport_seq = self.bandwidth.next_transport_seq().unwrap_or(0);
        let Some(track) = self
            .tracks
            .iter_mut()
            .find(|t| t.kind() == packet.origin.kind)
        else {
            return EgressOutcome::NoTrack;
        };
        let outcome = track.write(now, packet, transport_seq, out);
        if let EgressOutcome::Written(len) = outcome
            && track.carries_transport_seq()
        {
            self.bandwidth.on_sent(now, len);
        }
        outcome
    }

    /// The viewer's bandwidth estimate and what feeds it.
    pub fn bandwidth(&self) -> &BandwidthEstimator {
        &self.bandwidth
    }

    pub fn bandwidth_mut(&mut self) -> &mut BandwidthEstimator {
        &mut self.bandwidth
    }

    /// The simulcast layer the video track forwards, or is about to switch to: the one its
    /// keyframe requests name. 0 without simulcast.
    pub fn wanted_layer(&self) -> u8 {
        0
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

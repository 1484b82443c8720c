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
//! A stream with simulcast sends every layer to every viewer's fan-out; each viewer's
//! [`LayerChoice`] picks the one its bandwidth estimate carries, and its video track forwards
//! that one alone (see `track`).
//!
//! When the viewer negotiated transport-wide congestion control, every packet it gets (media
//! and retransmissions, on any track) carries the next transport-wide sequence number, and
//! its [`BandwidthEstimator`] remembers when each went and how big it was.

pub mod layer_choice;
mod mid_value;
pub mod recent_keyframes;
mod retransmit;
pub mod retransmit_limit;
pub mod retransmit_queue;
pub mod rewrite;
pub mod rtx_cache;
pub mod rtx_packet;
mod sent_reports;
mod sent_seqs;
#[cfg(test)]
mod simulcast_tests;
mod track;
#[cfg(test)]
mod track_kind_tests;
pub mod vp8_rewrite;

pub use layer_choice::{LayerChoice, LayerSwitches};
pub use rtx_cache::RtxCache;
pub use track::{EgressOutcome, EgressTrack};

use std::time::{Duration, Instant};

use shardcast_control::{LayerPreference, MediaKind, MediaSection};

use crate::bwe::BandwidthEstimator;
use crate::layers::LayerRates;
use crate::media::MediaPacket;
use crate::prefetch::prefetch;
use crate::repair::RepairCounters;
use crate::router::SenderClock;
use crate::rtt::RttEstimate;
use retransmit_queue::RetransmitQueue;
use sent_reports::SentReports;

/// How often a viewer's layer choice looks at its estimate and the stream's layers.
pub const LAYER_CHOICE_INTERVAL: Duration = Duration::from_millis(100);

/// All tracks of one viewer.
pub struct ViewerEgress {
    tracks: Vec<EgressTrack>,
    /// Where the first audio and the first video track sit in `tracks`: a packet goes to the
    /// track of its kind, found without reading the others (hundreds of bytes each, and cold
    /// when the fan-out comes by).
    audio_track: Option<usize>,
    video_track: Option<usize>,
    /// Boxed: a packet written never reads it, and the fan-out prefetches this struct whole.
    repair: Box<RepairState>,
    bandwidth: BandwidthEstimator,
    choice: LayerChoice,
    /// When the layer choice looks again (on the next video packet from then).
    next_choice: Option<Instant>,
    /// The target layer changed and its keyframe is not asked for yet.
    keyframe_wanted: bool,
}

/// What NACKs, retransmissions and sender reports work with: touched when the viewer's RTCP
/// arrives or a retransmission goes.
#[derive(Default)]
struct RepairState {
    retransmits: RetransmitQueue,
    rtt: RttEstimate,
    sent_reports: SentReports,
    counters: RepairCounters,
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
        let first_of = |kind| tracks.iter().position(|t: &EgressTrack| t.kind() == kind);
        Self {
            audio_track: first_of(MediaKind::Audio),
            video_track: first_of(MediaKind::Video),
            tracks,
            repair: Box::default(),
            bandwidth: BandwidthEstimator::new(transport_wide, first_seq),
            choice: LayerChoice::new(LayerPreference::High),
            next_choice: None,
            keyframe_wanted: false,
        }
    }

    /// The simulcast layer the viewer asked for (the default is the highest): it gets a
    /// lower one when its bandwidth is short, never a higher one.
    pub fn with_preference(mut self, preference: LayerPreference) -> Self {
        self.choice = LayerChoice::new(preference);
        self
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

    /// True when this viewer has no use for `packet` at `now`: a packet of a simulcast layer
    /// it neither gets nor waits for, while its layer choice is not due. A cheap look, for
    /// the fan-out to pass the viewer over before any rewriting.
    pub fn skips(&self, now: Instant, packet: &MediaPacket) -> bool {
        let origin = &packet.origin;
        origin.kind == MediaKind::Video
            && self.next_choice.is_some_and(|at| now < at)
            && self
                .track(MediaKind::Video)
                .is_some_and(|track| track.skips_layer(origin.layer))
    }

    /// Starts loading what writing a packet of `kind` reads behind pointers: the track of
    /// that kind, and where the send history records it.
    pub fn prefetch_heap(&self, kind: MediaKind) {
        if let Some(track) = self.track(kind) {
            prefetch(track);
        }
        self.bandwidth.prefetch_next_sent();
    }

    /// Rewrites `packet` for this viewer onto the end of `out`.
    pub fn write(
        &mut self,
        now: Instant,
        packet: &MediaPacket,
        out: &mut Vec<u8>,
    ) -> EgressOutcome {
        let origin = &packet.origin;
        if origin.kind == MediaKind::Video && self.next_choice.is_none_or(|at| now >= at) {
            self.choose_layer(now, &origin.layers);
        }
        let transport_seq = self.bandwidth.next_transport_seq().unwrap_or(0);
        let Some(track) = self.track_for(origin.kind) else {
            return EgressOutcome::NoTrack;
        };
        if track.skips_layer(origin.layer) {
            return EgressOutcome::OtherLayer;
        }
        let outcome = track.write(now, packet, transport_seq, out);
        if let EgressOutcome::Written(len) = outcome {
            if track.carries_transport_seq() {
                self.bandwidth.on_sent(now, len);
            } else {
                self.bandwidth.on_sent_unnumbered(now, len);
            }
        }
        outcome
    }

    /// Moves the video track's target layer where the choice says, and tells the
    /// estimator what an upgrade would need.
    fn choose_layer(&mut self, now: Instant, rates: &LayerRates) {
        self.next_choice = Some(now + LAYER_CHOICE_INTERVAL);
        let target = if rates.is_simulcast() {
            self.choice
                .update(now, rates, self.bandwidth.bps())
                .map(|change| change.layer())
        } else {
            // A stream without simulcast (perhaps a publisher back without it) has layer 0.
            self.choice.reset();
            Some(0)
        };
        if let Some(layer) = target
            && let Some(track) = self.track_for(MediaKind::Video)
            && track.target_layer() != layer
        {
            track.set_target_layer(layer);
            self.keyframe_wanted = track.waiting_for_keyframe();
        }
        self.bandwidth
            .set_probe_floor(self.choice.probe_floor(rates));
    }

    /// True once after the target layer changed to one the video track waits for: its
    /// keyframe should be asked for now, not at the next retry.
    pub fn take_keyframe_wanted(&mut self) -> bool {
        std::mem::take(&mut self.keyframe_wanted)
    }

    /// The layer the video track forwards (None while it waits for its first keyframe).
    pub fn forwarded_layer(&self) -> Option<u8> {
        self.track(MediaKind::Video).and_then(EgressTrack::layer)
    }

    /// The layer switches the viewer's tracks made.
    pub fn layer_switches(&self) -> LayerSwitches {
        let mut switches = LayerSwitches::default();
        for track in &self.tracks {
            switches += track.switches();
        }
        switches
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
        self.tracks
            .iter()
            .find(|t| t.kind() == MediaKind::Video)
            .map_or(0, EgressTrack::target_layer)
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

    fn position(&self, kind: MediaKind) -> Option<usize> {
        match kind {
            MediaKind::Audio => self.audio_track,
            MediaKind::Video => self.video_track,
        }
    }

    fn track(&self, kind: MediaKind) -> Option<&EgressTrack> {
        self.tracks.get(self.position(kind)?)
    }

    fn track_for(&mut self, kind: MediaKind) -> Option<&mut EgressTrack> {
        let position = self.position(kind)?;
        self.tracks.get_mut(position)
    }
}

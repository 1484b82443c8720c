//! A publisher's incoming media: which track a packet belongs to, what codec it carries,
//! whether it starts a keyframe, which packets are missing, and what we tell the publisher
//! about its reception.

pub mod arrival_feedback;
mod keyframe_requests;
mod keyframe_throttle;
mod layer_rate;
mod layers;
pub mod nack_register;
mod receiver_stats;
mod repair;
#[cfg(test)]
mod simulcast_tests;
#[cfg(test)]
mod tests;
mod track;

use std::collections::HashMap;
use std::time::Instant;

use shardcast_control::{MediaKind, MediaSection};

pub use keyframe_requests::KeyframeRequests;
pub use keyframe_throttle::KeyframeThrottle;
pub use nack_register::{Arrival, NackRegister};
pub use receiver_stats::ReceiverStats;

use crate::codec::is_keyframe;
use crate::layers::LayerRates;
use crate::media::{MediaOrigin, MediaPacket, PacketLayout};
use crate::router::SenderClock;
use crate::rtcp::ReportBlock;
use crate::rtp::{ExtensionKind, ExtensionMap, RtpPacket};
use crate::rtt::RttEstimate;
use repair::IncomingStream;
use track::{Binding, IngressTrack};

/// SSRCs a publisher may use (media, RTX, simulcast layers); a publisher cycling through
/// more cannot make us remember them all.
const MAX_SSRCS: usize = 32;

/// Why an incoming packet was not forwarded (each is counted by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IngressDrop {
    #[error("not an RTP packet")]
    Malformed,
    #[error("no negotiated track matches this packet")]
    UnknownTrack,
    #[error("payload type {0} was not negotiated")]
    UnknownPayloadType(u8),
    #[error("RTX packet without an original packet in it (padding)")]
    RepairPadding,
    #[error("RTX packet whose media SSRC is unknown")]
    UnpairedRepair,
    #[error("a packet already received, or an RTX packet nobody asked for")]
    Duplicate,
    #[error("simulcast packet on an SSRC not seen yet whose rid is missing or unknown")]
    UnknownLayer,
}

/// All tracks of one publisher session.
pub struct PublisherIngress {
    source: u64,
    tracks: Vec<IngressTrack>,
    extensions: ExtensionMap,
    /// The stream's first video track: its layers are the ones every packet reports.
    video: Option<usize>,
    bound: HashMap<u32, Binding>,
    /// One per media SSRC heard from (RTX SSRCs have none: their packets count for the
    /// media SSRC they repair).
    streams: Vec<IncomingStream>,
    rtt: RttEstimate,
    /// Sequence numbers to NACK, reused from one NACK to the next.
    lost: Vec<u16>,
}

/// Header extensions viewers get from the publisher's packets (the rest are hop-by-hop).
fn forwarded(kind: ExtensionKind) -> bool {
    matches!(
        kind,
        ExtensionKind::AudioLevel
            | ExtensionKind::VideoOrientation
            | ExtensionKind::TransmissionOffset
            | ExtensionKind::PlayoutDelay
            | ExtensionKind::AbsCaptureTime
    )
}

impl PublisherIngress {
    pub fn new(media: &[MediaSection], source: u64) -> Self {
        // Under BUNDLE one extension ID means the same thing in every section.
        let all_extensions: Vec<_> = media.iter().flat_map(|m| m.extensions.clone()).collect();
        let tracks: Vec<_> = media.iter().map(IngressTrack::new).collect();
        Self {
            source,
            video: tracks.iter().position(|t| t.kind == MediaKind::Video),
            tracks,
            extensions: ExtensionMap::new(&all_extensions),
            bound: HashMap::new(),
            streams: Vec::new(),
            rtt: RttEstimate::default(),
            lost: Vec::with_capacity(nack_register::MAX_MISSING),
        }
    }

    pub fn source(&self) -> u64 {
        self.source
    }

    /// Turns a decrypted packet (an RTX packet: the original inside it) into a routable one,
    /// taking `data` for it; a dropped packet leaves `data` with the caller, to decrypt the
    /// next one into.
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        data: &mut Vec<u8>,
    ) -> Result<MediaPacket, IngressDrop> {
        let rtp = RtpPacket::parse(data).map_err(|_| IngressDrop::Malformed)?;
        let Binding {
            track: track_index,
            layer,
        } = self.binding_of(&rtp)?;
        let track = &mut self.tracks[track_index];
        let pt = rtp.payload_type();
        let (codec, clock_rate) = track.codec(pt).ok_or(IngressDrop::UnknownPayloadType(pt))?;
        let (kind, nack, repair) = (track.kind, track.nack, track.is_rtx(pt));
        if !repair {
            track.layers.learn_media_ssrc(layer, rtp.ssrc());
        }

        let extensions = &self.extensions;
        let kind_of = |id| extensions.kind_of(id).filter(|k| forwarded(*k));
        let (layout, ssrc, payload) = if repair {
            let layout = PacketLayout::of_rtx(&rtp, kind_of).ok_or(IngressDrop::RepairPadding)?;
            let media_ssrc = self
                .media_ssrc_of_rtx(track_index, layer, rtp.ssrc())
                .ok_or(IngressDrop::UnpairedRepair)?;
            (
                layout,
                media_ssrc,
                rtp.payload().get(2..).unwrap_or_default(),
            )
        } else {
            (PacketLayout::of(&rtp, kind_of), rtp.ssrc(), rtp.payload())
        };
        self.take_in(now, ssrc, clock_rate, &layout, repair, nack)?;

        let layers = &mut self.tracks[track_index].layers;
        layers.on_forwarded(now, layer, data.len());
        let keyframe = kind == MediaKind::Video
            && is_keyframe(codec, payload)
            && layers.starts_keyframe(layer, layout.timestamp);
        let origin = MediaOrigin {
            source: self.source,
            kind,
            codec,
            clock_rate,
            keyframe,
            arrival: now,
            layer,
            layers: self.layer_rates(now),
        };
        Ok(MediaPacket::new(origin, layout, std::mem::take(data)))
    }

    /// The rates of the stream's video layers, which every packet carries (audio ones too,
    /// so that any packet brings viewers current figures); the default without video.
    fn layer_rates(&self, now: Instant) -> LayerRates {
        self.video
            .and_then(|index| self.tracks.get(index))
            .map(|video| video.layers.rates(now))
            .unwrap_or_default()
    }

    /// A sender report from the publisher: remembered for our receiver reports, and turned
    /// into the clock mapping viewers' sender reports reuse.
    pub fn on_sender_report(
        &mut self,
        now: Instant,
        ssrc: u32,
        ntp: u64,
        rtp_timestamp: u32,
    ) -> Option<SenderClock> {
        let stream = self.streams.iter_mut().find(|s| s.ssrc() == ssrc)?;
        stream.stats.on_sender_report(now, (ntp >> 16) as u32);
        let kind = self.tracks.get(self.bound.get(&ssrc)?.track)?.kind;
        Some(SenderClock {
            source: self.source,
            kind,
            ntp,
            rtp_timestamp,
        })
    }

    /// One report block per SSRC heard from.
    pub fn report_blocks(&mut self, now: Instant) -> impl Iterator<Item = ReportBlock> + '_ {
        self.streams
            .iter_mut()
            .filter_map(move |s| s.stats.report_block(now))
    }

    /// The media SSRC of the publisher's video layer `layer`, where its keyframe requests go.
    /// RTX SSRCs are never it: Chrome probes bandwidth with RTX padding before any loss, and
    /// a PLI naming an RTX SSRC is ignored by the encoder.
    pub fn video_ssrc(&self, layer: u8) -> Option<u32> {
        let video = self.tracks.get(self.video?)?;
        video.layers.media_ssrc(layer).or_else(|| {
            (layer == 0 && !video.layers.is_simulcast())
                .then(|| video.declared_media_ssrc())
                .flatten()
        })
    }

    /// How many simulcast layers the publisher's video has (1 without simulcast or video).
    pub fn video_layer_count(&self) -> usize {
        self.video
            .and_then(|index| self.tracks.get(index))
            .map_or(1, |video| video.layers.count())
    }
}

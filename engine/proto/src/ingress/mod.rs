//! A publisher's incoming media: which track a packet belongs to, what codec it carries,
//! whether it starts a keyframe, which packets are missing, and what we tell the publisher
//! about its reception.

pub mod arrival_feedback;
mod keyframe_throttle;
pub mod nack_register;
mod receiver_stats;
mod repair;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Instant;

use shardcast_control::{CodecName, MediaKind, MediaSection};

pub use keyframe_throttle::KeyframeThrottle;
pub use nack_register::{Arrival, NackRegister};
pub use receiver_stats::ReceiverStats;

use crate::codec::is_keyframe;
use crate::media::{MediaOrigin, MediaPacket, PacketLayout};
use crate::router::SenderClock;
use crate::rtcp::ReportBlock;
use crate::rtp::{ExtensionKind, ExtensionMap, RtpPacket};
use crate::rtt::RttEstimate;
use repair::IncomingStream;

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
}

struct IngressTrack {
    mid: String,
    kind: MediaKind,
    /// (payload type, codec, clock rate, its RTX payload type).
    codecs: Vec<(u8, CodecName, u32, Option<u8>)>,
    declared_ssrcs: Vec<u32>,
    /// (media SSRC, RTX SSRC) the publisher declared.
    rtx_pairs: Vec<(u32, u32)>,
    /// The publisher negotiated generic NACK: we ask it for what is missing.
    nack: bool,
}

impl IngressTrack {
    fn is_rtx(&self, payload_type: u8) -> bool {
        self.codecs.iter().any(|c| c.3 == Some(payload_type))
    }

    /// The codec behind `payload_type`, or behind the RTX payload type it is (`apt`).
    fn codec(&self, payload_type: u8) -> Option<(CodecName, u32)> {
        self.codecs
            .iter()
            .find(|c| c.0 == payload_type || c.3 == Some(payload_type))
            .map(|c| (c.1, c.2))
    }
}

/// All tracks of one publisher session.
pub struct PublisherIngress {
    source: u64,
    tracks: Vec<IngressTrack>,
    extensions: ExtensionMap,
    bound: HashMap<u32, usize>,
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
        let tracks = media
            .iter()
            .map(|section| IngressTrack {
                mid: section.mid.clone(),
                kind: section.kind,
                codecs: section
                    .codecs
                    .iter()
                    .map(|c| (c.payload_type, c.name, c.clock_rate, c.rtx_payload_type))
                    .collect(),
                declared_ssrcs: section.ssrcs.clone(),
                rtx_pairs: section.rtx_pairs.clone(),
                nack: section
                    .codecs
                    .iter()
                    .any(|c| c.feedback.iter().any(|f| f == "nack")),
            })
            .collect();
        Self {
            source,
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
        let track_index = self.track_of(&rtp)?;
        let track = &self.tracks[track_index];
        let pt = rtp.payload_type();
        let (codec, clock_rate) = track.codec(pt).ok_or(IngressDrop::UnknownPayloadType(pt))?;
        let (kind, nack, repair) = (track.kind, track.nack, track.is_rtx(pt));

        let extensions = &self.extensions;
        let kind_of = |id| extensions.kind_of(id).filter(|k| forwarded(*k));
        let (layout, ssrc, payload) = if repair {
            let layout = PacketLayout::of_rtx(&rtp, kind_of).ok_or(IngressDrop::RepairPadding)?;
            let media_ssrc = self
                .media_ssrc_of_rtx(track_index, rtp.ssrc())
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

        let origin = MediaOrigin {
            source: self.source,
            kind,
            codec,
            clock_rate,
            keyframe: kind == MediaKind::Video && is_keyframe(codec, payload),
            arrival: now,
            layer: 0,
            layers: crate::layers::LayerRates::default(),
        };
        Ok(MediaPacket::new(origin, layout, std::mem::take(data)))
    }

    /// Finds the track: by SSRC once known, else by MID, declared SSRC, or a payload type only
    /// one track uses (stacks differ in which of these they provide).
    fn track_of(&mut self, rtp: &RtpPacket<'_>) -> Result<usize, IngressDrop> {
        let ssrc = rtp.ssrc();
        if let Some(&index) = self.bound.get(&ssrc) {
            return Ok(index);
        }
        let by_mid = self
            .extensions
            .id_of(ExtensionKind::Mid)
            .and_then(|id| rtp.extension(id))
            .and_then(|mid| self.tracks.iter().position(|t| t.mid.as_bytes() == mid));
        let by_ssrc = || {
            self.tracks.iter().position(|t| {
                t.declared_ssrcs.contains(&ssrc) || t.rtx_pairs.iter().any(|p| p.1 == ssrc)
            })
        };
        let by_payload_type = || {
            let pt = rtp.payload_type();
            let mut matching = self
                .tracks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.codec(pt).is_some());
            match (matching.next(), matching.next()) {
                (Some((index, _)), None) => Some(index),
                _ => None,
            }
        };
        let index = by_mid
            .or_else(by_ssrc)
            .or_else(by_payload_type)
            .ok_or(IngressDrop::UnknownTrack)?;
        if self.bound.len() < MAX_SSRCS {
            self.bound.insert(ssrc, index);
        }
        Ok(index)
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
        let kind = self.tracks.get(*self.bound.get(&ssrc)?)?.kind;
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

    /// The SSRC of the publisher's video, where keyframe requests go.
    pub fn video_ssrc(&self) -> Option<u32> {
        // Only media SSRCs have receiver stats: an RTX SSRC (Chrome probes bandwidth with RTX
        // padding before any loss) is bound to the video track too, but a PLI naming it is
        // ignored by the encoder.
        self.streams
            .iter()
            .map(IncomingStream::ssrc)
            .find(|&ssrc| self.track_kind(ssrc) == Some(MediaKind::Video))
            .or_else(|| {
                self.tracks
                    .iter()
                    .find(|t| t.kind == MediaKind::Video)
                    .and_then(|t| t.declared_ssrcs.first().copied())
            })
    }

    fn track_kind(&self, ssrc: u32) -> Option<MediaKind> {
        let &index = self.bound.get(&ssrc)?;
        self.tracks.get(index).map(|t| t.kind)
    }
}

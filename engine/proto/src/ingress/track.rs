//! Which negotiated track, and which of its simulcast layers, an incoming packet belongs to.

use shardcast_control::{CodecName, MediaKind, MediaSection};

use super::layers::TrackLayers;
use super::{IngressDrop, MAX_SSRCS, PublisherIngress};
use crate::rtp::{ExtensionKind, RtpPacket};

pub(super) struct IngressTrack {
    pub(super) mid: String,
    pub(super) kind: MediaKind,
    /// (payload type, codec, clock rate, its RTX payload type).
    codecs: Vec<(u8, CodecName, u32, Option<u8>)>,
    declared_ssrcs: Vec<u32>,
    /// (media SSRC, RTX SSRC) the publisher declared.
    pub(super) rtx_pairs: Vec<(u32, u32)>,
    /// The publisher negotiated generic NACK: we ask it for what is missing.
    pub(super) nack: bool,
    pub(super) layers: TrackLayers,
}

/// What an SSRC was found to carry; remembered, because browsers stop sending the MID and
/// rid extensions once our receiver reports show the SSRC arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Binding {
    pub(super) track: usize,
    pub(super) layer: u8,
}

impl IngressTrack {
    pub(super) fn new(section: &MediaSection) -> Self {
        Self {
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
            layers: TrackLayers::new(&section.simulcast),
        }
    }

    pub(super) fn is_rtx(&self, payload_type: u8) -> bool {
        self.codecs.iter().any(|c| c.3 == Some(payload_type))
    }

    /// The codec behind `payload_type`, or behind the RTX payload type it is (`apt`).
    pub(super) fn codec(&self, payload_type: u8) -> Option<(CodecName, u32)> {
        self.codecs
            .iter()
            .find(|c| c.0 == payload_type || c.3 == Some(payload_type))
            .map(|c| (c.1, c.2))
    }

    /// The SSRC a keyframe request for a track without simulcast names before any media
    /// came: the first one the publisher declared.
    pub(super) fn declared_media_ssrc(&self) -> Option<u32> {
        self.declared_ssrcs
            .iter()
            .copied()
            .find(|ssrc| !self.rtx_pairs.iter().any(|p| p.1 == *ssrc))
    }
}

impl PublisherIngress {
    /// Finds the track and layer: by SSRC once known, else the track by MID, declared SSRC,
    /// or a payload type only one track uses (stacks differ in which of these they
    /// provide), and the layer by rid (RTX packets: the rid of the layer they repair).
    pub(super) fn binding_of(&mut self, rtp: &RtpPacket<'_>) -> Result<Binding, IngressDrop> {
        let ssrc = rtp.ssrc();
        if let Some(&binding) = self.bound.get(&ssrc) {
            return Ok(binding);
        }
        let track = self.track_of(rtp)?;
        let layer = self.layer_of(rtp, track)?;
        let binding = Binding { track, layer };
        if self.bound.len() < MAX_SSRCS {
            self.bound.insert(ssrc, binding);
        }
        Ok(binding)
    }

    fn track_of(&self, rtp: &RtpPacket<'_>) -> Result<usize, IngressDrop> {
        let ssrc = rtp.ssrc();
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
        by_mid
            .or_else(by_ssrc)
            .or_else(by_payload_type)
            .ok_or(IngressDrop::UnknownTrack)
    }

    fn layer_of(&self, rtp: &RtpPacket<'_>, track: usize) -> Result<u8, IngressDrop> {
        let track = &self.tracks[track];
        if !track.layers.is_simulcast() {
            return Ok(0);
        }
        let kind = if track.is_rtx(rtp.payload_type()) {
            ExtensionKind::RepairedRtpStreamId
        } else {
            ExtensionKind::RtpStreamId
        };
        self.extensions
            .id_of(kind)
            .and_then(|id| rtp.extension(id))
            .and_then(|rid| track.layers.layer_of_rid(rid))
            .ok_or(IngressDrop::UnknownLayer)
    }
}

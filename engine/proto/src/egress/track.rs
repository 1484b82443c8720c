//! One outgoing track of one viewer: payload type and extension remapping, the keyframe
//! gate after source changes and at simulcast layer switches, VP8 picture renumbering, and
//! what its sender reports say.
//!
//! A video track forwards one layer of its source. When the viewer's target layer changes,
//! the track keeps forwarding the old layer until the first packet of a keyframe of the new
//! one arrives, and switches there; from then on packets of the old layer are skipped.

use std::time::Instant;

use shardcast_control::{CodecName, MediaKind, MediaSection};

use super::layer_choice::LayerSwitches;
use super::mid_value::MidValue;
use super::retransmit_limit::RetransmitLimit;
use super::rewrite::{Mapping, SourcePacket, TrackRewriter};
use super::rtx_cache::{AUDIO_SLOTS, VIDEO_SLOTS};
use super::rtx_packet::{RtxStream, write_rtx};
use super::sent_seqs::SentSeqs;
use super::vp8_rewrite::PictureRewriter;
use crate::clock::{WallClock, ntp_add_ticks};
use crate::media::{MAX_FORWARDED_EXTENSIONS, MediaPacket};
use crate::router::SenderClock;
use crate::rtp::{ExtensionIds, ExtensionKind, ExtensionMap, RtpHeader, write_rtp, write_rtp_onto};

/// The `a=rtcp-fb` value that asks for transport-wide congestion control feedback.
const TRANSPORT_CC_FEEDBACK: &str = "transport-cc";

/// The header extensions of one outgoing packet: (id, value), and how many are set. Room
/// for the MID, the transport-wide sequence number and the forwarded ones.
type Extensions<'a> = ([(u8, &'a [u8]); MAX_FORWARDED_EXTENSIONS + 2], usize);

/// What happened to a packet offered to a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgressOutcome {
    /// `len` bytes of plaintext RTP were written.
    Written(usize),
    /// Video after a source change, before its first keyframe, or a packet of the layer a
    /// switch waits for, before its keyframe: not sent, and a keyframe is needed.
    AwaitingKeyframe,
    /// A packet of a simulcast layer this viewer does not get: skipped, not a drop.
    OtherLayer,
    /// The viewer negotiated no payload type for this codec.
    CodecNotNegotiated,
    /// Late packet from before the current source's start, or from an old source.
    Stale,
    /// The viewer has no track of this kind.
    NoTrack,
    /// The output buffer cannot hold the packet.
    TooLarge,
    /// The viewer got this packet already (a joiner started from the route's recent packets
    /// is offered some of them again by the fan-out): not sent twice, not a drop.
    AlreadySent,
}

pub struct EgressTrack {
    mid: MidValue,
    kind: MediaKind,
    ssrc: u32,
    payload_types: Vec<(CodecName, u8)>,
    /// The codec last written and its payload type: what nearly every packet needs, found in
    /// the track itself rather than behind `payload_types`' pointer.
    current_payload_type: Option<(CodecName, u8)>,
    /// The RTX payload type the viewer paired with each codec that has one.
    rtx_payload_types: Vec<(CodecName, u8)>,
    /// Present when the viewer negotiated RTX and we gave the track an RTX SSRC.
    rtx: Option<RtxStream>,
    limit: RetransmitLimit,
    extensions: ExtensionIds,
    /// The extension id of the transport-wide sequence number, when the viewer negotiated
    /// both the extension and `transport-cc` feedback.
    transport_cc_id: Option<u8>,
    rewriter: TrackRewriter,
    sent: SentSeqs,
    pictures: PictureRewriter,
    source: Option<u64>,
    /// The simulcast layer of `source` this video track forwards; None until a keyframe.
    layer: Option<u8>,
    /// The layer the viewer should get; the track switches at its next keyframe.
    target_layer: u8,
    switches: LayerSwitches,
    packets_sent: u32,
    octets_sent: u32,
    /// The last forwarded packet's timestamp, before and after the rewrite.
    last_timestamps: Option<(u32, u32)>,
    clock_rate: u32,
    clock: Option<SenderClock>,
}

impl EgressTrack {
    pub fn new(section: &MediaSection, ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        let extensions = ExtensionMap::new(&section.extensions);
        Self {
            mid: MidValue::new(&section.mid),
            kind: section.kind,
            ssrc,
            payload_types: section
                .codecs
                .iter()
                .map(|c| (c.name, c.payload_type))
                .collect(),
            current_payload_type: None,
            rtx_payload_types: section
                .codecs
                .iter()
                .filter_map(|c| Some((c.name, c.rtx_payload_type?)))
                .collect(),
            rtx: None,
            limit: RetransmitLimit::new(match section.kind {
                MediaKind::Video => VIDEO_SLOTS,
                MediaKind::Audio => AUDIO_SLOTS,
            }),
            transport_cc_id: transport_cc_id(section, &extensions),
            extensions: extensions.ids(),
            rewriter: TrackRewriter::new(first_seq, first_ts),
            sent: SentSeqs::default(),
            pictures: PictureRewriter::default(),
            source: None,
            layer: None,
            target_layer: 0,
            switches: LayerSwitches::default(),
            packets_sent: 0,
            octets_sent: 0,
            last_timestamps: None,
            clock_rate: section.codecs.first().map_or(90_000, |c| c.clock_rate),
            clock: None,
        }
    }

    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Resends go in an RTX stream of SSRC `ssrc`, numbered from `first_seq`.
    pub fn set_rtx(&mut self, ssrc: u32, first_seq: u16) {
        self.rtx = Some(RtxStream::new(ssrc, first_seq));
    }

    /// The source packet behind a sequence number this viewer got (or should have).
    pub fn source_sequence(&self, out_seq: u16) -> Option<SourcePacket> {
        self.rewriter.source_sequence(out_seq)
    }

    /// The simulcast layer a video track forwards (None while it waits for a keyframe).
    pub fn layer(&self) -> Option<u8> {
        self.layer
    }

    pub fn target_layer(&self) -> u8 {
        self.target_layer
    }

    /// From now on the track wants `layer`, and switches at its next keyframe.
    pub fn set_target_layer(&mut self, layer: u8) {
        self.target_layer = layer;
    }

    /// The layer switches this track made.
    pub fn switches(&self) -> LayerSwitches {
        self.switches
    }

    /// True for a packet of `layer` this track has no use for: a cheap look before any
    /// rewriting.
    pub fn skips_layer(&self, layer: u8) -> bool {
        self.kind == MediaKind::Video && self.layer != Some(layer) && self.target_layer != layer
    }

    pub fn limit(&self) -> &RetransmitLimit {
        &self.limit
    }

    pub fn limit_mut(&mut self) -> &mut RetransmitLimit {
        &mut self.limit
    }

    /// True when this track's packets carry a transport-wide sequence number.
    pub fn carries_transport_seq(&self) -> bool {
        self.transport_cc_id.is_some()
    }

    /// True when a video track waits for a keyframe: after a source change, or for a
    /// switch to its target layer.
    pub fn waiting_for_keyframe(&self) -> bool {
        self.kind == MediaKind::Video && self.layer != Some(self.target_layer)
    }

    pub fn packets_sent(&self) -> u32 {
        self.packets_sent
    }

    pub fn set_clock(&mut self, clock: SenderClock) {
        self.clock = Some(clock);
    }

    fn payload_type_for(&mut self, codec: CodecName) -> Option<u8> {
        if let Some((current, payload_type)) = self.current_payload_type
            && current == codec
        {
            return Some(payload_type);
        }
        let &(_, payload_type) = self.payload_types.iter().find(|(c, _)| *c == codec)?;
        self.current_payload_type = Some((codec, payload_type));
        Some(payload_type)
    }

    /// Writes `packet` for this viewer onto the end of `out`, with `transport_seq` when the
    /// track [`Self::carries_transport_seq`]. `out` is as it was unless the packet is written.
    pub fn write(
        &mut self,
        now: Instant,
        packet: &MediaPacket,
        transport_seq: u16,
        out: &mut Vec<u8>,
    ) -> EgressOutcome {
        let origin = &packet.origin;
        let Some(payload_type) = self.payload_type_for(origin.codec) else {
            return EgressOutcome::CodecNotNegotiated;
        };
        match self.source {
            Some(source) if origin.source < source => return EgressOutcome::Stale,
            Some(source) if origin.source == source => {}
            _ => {
                self.source = Some(origin.source);
                self.clock = self.clock.filter(|c| c.source == origin.source);
                self.layer = None;
            }
        }
        if self.kind == MediaKind::Video && self.layer != Some(origin.layer) {
            if origin.layer != self.target_layer {
                return EgressOutcome::OtherLayer;
            }
            if !origin.keyframe {
                return EgressOutcome::AwaitingKeyframe;
            }
            self.switches.count(self.layer, origin.layer);
            self.layer = Some(origin.layer);
        }
        let layout = &packet.layout;
        let Some(rewritten) = self.rewriter.rewrite(
            origin.source,
            origin.layer,
            layout.sequence_number,
            layout.timestamp,
            origin.clock_rate,
            now,
        ) else {
            return EgressOutcome::Stale;
        };
        let (sequence_number, timestamp) = (rewritten.seq, rewritten.ts);
        if !rewritten.newest && self.sent.contains(sequence_number) {
            return EgressOutcome::AlreadySent;
        }

        let transport_seq = transport_seq.to_be_bytes();
        let (extensions, count) = self.extensions_of(packet, &transport_seq);
        let header = RtpHeader {
            marker: layout.marker,
            payload_type,
            sequence_number,
            timestamp,
            ssrc: self.ssrc,
        };
        match write_rtp_onto(out, &header, &extensions[..count], packet.payload()) {
            Ok(len) => {
                if origin.codec == CodecName::Vp8 {
                    if rewritten.started {
                        self.pictures.start_mapping(packet.payload());
                    }
                    let payload_start = out.len() - packet.payload().len();
                    let payload = &mut out[payload_start..];
                    self.pictures
                        .rewrite(payload, Mapping::Current, rewritten.newest);
                }
                self.sent.insert(sequence_number);
                self.packets_sent = self.packets_sent.wrapping_add(1);
                self.octets_sent = self.octets_sent.wrapping_add(packet.payload().len() as u32);
                self.last_timestamps = Some((layout.timestamp, timestamp));
                self.clock_rate = origin.clock_rate;
                EgressOutcome::Written(len)
            }
            Err(_) => EgressOutcome::TooLarge,
        }
    }

    /// Writes `packet`, which this track forwarded before, into `out` again: in the RTX
    /// stream when the viewer negotiated one for its codec, else as it went the first time.
    /// It carries `transport_seq` like any packet (see [`Self::write`]).
    pub fn write_retransmission(
        &mut self,
        packet: &MediaPacket,
        transport_seq: u16,
        out: &mut [u8],
    ) -> EgressOutcome {
        let (origin, layout) = (&packet.origin, &packet.layout);
        let Some(&(_, payload_type)) = self.payload_types.iter().find(|(c, _)| *c == origin.codec)
        else {
            return EgressOutcome::CodecNotNegotiated;
        };
        let Some((sequence_number, timestamp, mapping)) = self.rewriter.map(
            origin.source,
            origin.layer,
            layout.sequence_number,
            layout.timestamp,
        ) else {
            return EgressOutcome::Stale;
        };
        let rtx_payload_type = self
            .rtx_payload_types
            .iter()
            .find(|(c, _)| *c == origin.codec)
            .map(|&(_, pt)| pt);
        let mut rtx = self.rtx;
        let transport_seq = transport_seq.to_be_bytes();
        let (extensions, count) = self.extensions_of(packet, &transport_seq);
        let extensions = &extensions[..count];
        let written = match (rtx.as_mut(), rtx_payload_type) {
            (Some(stream), Some(payload_type)) => {
                let header = RtpHeader {
                    marker: layout.marker,
                    payload_type,
                    sequence_number: stream.take_seq(),
                    timestamp,
                    ssrc: stream.ssrc,
                };
                write_rtx(out, &header, extensions, sequence_number, packet.payload())
            }
            _ => {
                let header = RtpHeader {
                    marker: layout.marker,
                    payload_type,
                    sequence_number,
                    timestamp,
                    ssrc: self.ssrc,
                };
                write_rtp(out, &header, extensions, packet.payload())
            }
        };
        match written {
            Ok(len) => {
                if origin.codec == CodecName::Vp8 {
                    let payload = &mut out[len - packet.payload().len()..len];
                    self.pictures.rewrite(payload, mapping, false);
                }
                self.rtx = rtx;
                EgressOutcome::Written(len)
            }
            Err(_) => EgressOutcome::TooLarge,
        }
    }

    /// The MID, the transport-wide sequence number, then the packet's forwarded extensions
    /// this viewer negotiated, by its IDs.
    fn extensions_of<'a>(
        &'a self,
        packet: &'a MediaPacket,
        transport_seq: &'a [u8; 2],
    ) -> Extensions<'a> {
        let mut extensions: [(u8, &[u8]); MAX_FORWARDED_EXTENSIONS + 2] =
            [(0, &[]); MAX_FORWARDED_EXTENSIONS + 2];
        let mut count = 0;
        if let Some(id) = self.extensions.id_of(ExtensionKind::Mid) {
            extensions[count] = (id, self.mid.as_bytes());
            count += 1;
        }
        if let Some(id) = self.transport_cc_id {
            extensions[count] = (id, transport_seq);
            count += 1;
        }
        for (kind, value) in packet.extensions() {
            if let Some(id) = self.extensions.id_of(kind)
                && count < extensions.len()
            {
                extensions[count] = (id, value);
                count += 1;
            }
        }
        (extensions, count)
    }

    /// The sender report fields at `now`: (NTP, RTP timestamp, packets, octets), or None
    /// before the first packet. The NTP time comes from the publisher's own clock mapping
    /// when we have one, so audio and video keep the publisher's relative timing; otherwise
    /// from our wall clock.
    pub fn sender_report(&self, now: Instant, wall: &WallClock) -> Option<(u64, u32, u32, u32)> {
        let (last_in, last_out) = self.last_timestamps?;
        let rtp_now = self.rewriter.rtp_time_at(now, self.clock_rate)?;
        let ntp = match self.clock {
            Some(clock) => {
                // Back to the publisher's timeline, then along its NTP mapping.
                let in_now = rtp_now.wrapping_sub(last_out).wrapping_add(last_in);
                let ticks = i64::from(in_now.wrapping_sub(clock.rtp_timestamp) as i32);
                ntp_add_ticks(clock.ntp, ticks, self.clock_rate)
            }
            None => wall.ntp(now),
        };
        Some((ntp, rtp_now, self.packets_sent, self.octets_sent))
    }
}

/// The transport-wide sequence number's extension id, when `section` also negotiated
/// `transport-cc` feedback: without the feedback the numbers would be bytes for nothing.
fn transport_cc_id(section: &MediaSection, extensions: &ExtensionMap) -> Option<u8> {
    let feedback = section
        .codecs
        .iter()
        .any(|c| c.feedback.iter().any(|f| f == TRANSPORT_CC_FEEDBACK));
    feedback
        .then(|| extensions.id_of(ExtensionKind::TransportCc))
        .flatten()
}

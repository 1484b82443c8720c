//! A publisher's incoming media: which track a packet belongs to, what codec it carries,
//! whether it starts a keyframe, and what we tell the publisher about its reception.

mod keyframe_throttle;
mod receiver_stats;

use std::collections::HashMap;
use std::time::Instant;

use shardcast_control::{CodecName, MediaKind, MediaSection};

pub use keyframe_throttle::KeyframeThrottle;
pub use receiver_stats::ReceiverStats;

use crate::codec::is_keyframe;
use crate::media::{MediaOrigin, MediaPacket, PacketLayout};
use crate::router::SenderClock;
use crate::rtcp::ReportBlock;
use crate::rtp::{ExtensionKind, ExtensionMap, RtpPacket};

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
    #[error("retransmission stream (RTX is not requested from publishers yet)")]
    Repair,
}

struct IngressTrack {
    mid: String,
    kind: MediaKind,
    /// (payload type, codec, clock rate).
    codecs: Vec<(u8, CodecName, u32)>,
    rtx_payload_types: Vec<u8>,
    declared_ssrcs: Vec<u32>,
}

/// All tracks of one publisher session.
pub struct PublisherIngress {
    source: u64,
    tracks: Vec<IngressTrack>,
    extensions: ExtensionMap,
    bound: HashMap<u32, usize>,
    stats: Vec<ReceiverStats>,
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
                    .map(|c| (c.payload_type, c.name, c.clock_rate))
                    .collect(),
                rtx_payload_types: section
                    .codecs
                    .iter()
                    .filter_map(|c| c.rtx_payload_type)
                    .collect(),
                declared_ssrcs: section.ssrcs.clone(),
            })
            .collect();
        Self {
            source,
            tracks,
            extensions: ExtensionMap::new(&all_extensions),
            bound: HashMap::new(),
            stats: Vec::new(),
        }
    }

    pub fn source(&self) -> u64 {
        self.source
    }

    /// Turns a decrypted packet into a routable one, taking `data` for it; a dropped packet
    /// leaves `data` with the caller, to decrypt the next one into.
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        data: &mut Vec<u8>,
    ) -> Result<MediaPacket, IngressDrop> {
        let rtp = RtpPacket::parse(data).map_err(|_| IngressDrop::Malformed)?;
        let track_index = self.track_of(&rtp)?;
        let track = &self.tracks[track_index];
        let pt = rtp.payload_type();
        if track.rtx_payload_types.contains(&pt) {
            return Err(IngressDrop::Repair);
        }
        let &(_, codec, clock_rate) = track
            .codecs
            .iter()
            .find(|(p, _, _)| *p == pt)
            .ok_or(IngressDrop::UnknownPayloadType(pt))?;
        let kind = track.kind;

        let ssrc = rtp.ssrc();
        let (seq, timestamp) = (rtp.sequence_number(), rtp.timestamp());
        if let Some(stats) = self.stats.iter_mut().find(|s| s.ssrc() == ssrc) {
            stats.on_packet(now, seq, timestamp);
        } else if self.stats.len() < MAX_SSRCS {
            let mut stats = ReceiverStats::new(ssrc, clock_rate, now);
            stats.on_packet(now, seq, timestamp);
            self.stats.push(stats);
        }

        let origin = MediaOrigin {
            source: self.source,
            kind,
            codec,
            clock_rate,
            keyframe: kind == MediaKind::Video && is_keyframe(codec, rtp.payload()),
            arrival: now,
        };
        let extensions = &self.extensions;
        let layout = PacketLayout::of(&rtp, |id| extensions.kind_of(id).filter(|k| forwarded(*k)));
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
            self.tracks
                .iter()
                .position(|t| t.declared_ssrcs.contains(&ssrc))
        };
        let by_payload_type = || {
            let pt = rtp.payload_type();
            let mut matching = self.tracks.iter().enumerate().filter(|(_, t)| {
                t.codecs.iter().any(|c| c.0 == pt) || t.rtx_payload_types.contains(&pt)
            });
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
        let stats = self.stats.iter_mut().find(|s| s.ssrc() == ssrc)?;
        stats.on_sender_report(now, (ntp >> 16) as u32);
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
        self.stats
            .iter_mut()
            .filter_map(move |s| s.report_block(now))
    }

    /// The SSRC of the publisher's video, where keyframe requests go.
    pub fn video_ssrc(&self) -> Option<u32> {
        // Only media SSRCs have receiver stats: an RTX SSRC (Chrome probes bandwidth with RTX
        // padding before any loss) is bound to the video track too, but a PLI naming it is
        // ignored by the encoder.
        self.stats
            .iter()
            .map(ReceiverStats::ssrc)
            .find(|ssrc| {
                self.bound
                    .get(ssrc)
                    .and_then(|&index| self.tracks.get(index))
                    .is_some_and(|t| t.kind == MediaKind::Video)
            })
            .or_else(|| {
                self.tracks
                    .iter()
                    .find(|t| t.kind == MediaKind::Video)
                    .and_then(|t| t.declared_ssrcs.first().copied())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{RtpHeader, write_rtp};
    use shardcast_control::Codec;

    fn video_section() -> MediaSection {
        MediaSection {
            mid: "1".into(),
            kind: MediaKind::Video,
            codecs: vec![Codec {
                payload_type: 96,
                name: CodecName::Vp8,
                clock_rate: 90_000,
                channels: None,
                fmtp: String::new(),
                rtx_payload_type: Some(97),
                feedback: vec![],
            }],
            extensions: vec![],
            ssrcs: vec![],
            rtx_pairs: vec![],
        }
    }

    fn packet(payload_type: u8, ssrc: u32, seq: u16) -> Vec<u8> {
        let header = RtpHeader {
            marker: false,
            payload_type,
            sequence_number: seq,
            timestamp: 0,
            ssrc,
        };
        let mut buf = [0u8; 64];
        let len = write_rtp(&mut buf, &header, &[], &[0x10, 0x01]).unwrap();
        buf[..len].to_vec()
    }

    #[test]
    fn keyframe_requests_name_the_media_ssrc_even_when_rtx_probing_came_first() {
        let now = Instant::now();
        let mut ingress = PublisherIngress::new(&[video_section()], 1);
        for seq in 0..20 {
            let rtx = ingress.handle_rtp(now, &mut packet(97, 0xAAAA_0000 + u32::from(seq), seq));
            assert_eq!(rtx.err(), Some(IngressDrop::Repair));
        }
        assert_eq!(ingress.video_ssrc(), None, "no media SSRC known yet");
        ingress.handle_rtp(now, &mut packet(96, 0x1234, 1)).unwrap();
        assert_eq!(ingress.video_ssrc(), Some(0x1234));
        assert_eq!(
            ingress.report_blocks(now).count(),
            1,
            "RTX is not reported on"
        );
    }
}

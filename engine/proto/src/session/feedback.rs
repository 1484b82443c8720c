//! A session's RTCP: reports we send every interval, feedback we receive, and keyframe
//! requests in both directions.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, trace};

use super::{Session, SessionEvent, SessionMedia};
use crate::bwe::BandwidthEstimator;
use crate::layers::MAX_LAYERS;
use crate::rtcp::{
    RtcpPacket, SenderInfo, TransportCcFeedback, compact_ntp, iter_compound, write_pli,
    write_receiver_report, write_sdes_cname, write_sender_report,
};
use crate::shard::Transmit;
use crate::srtp::SrtpSession;

/// The CNAME in our reports to publishers (viewers get the one in their SDP answer).
const RECEIVER_CNAME: &str = "shardcast";

impl Session {
    pub(super) fn handle_srtcp(&mut self, now: Instant, datagram: &[u8]) {
        let Some(srtp) = self.srtp.as_mut() else {
            self.drops.srtp += 1;
            return;
        };
        let mut plain = Vec::with_capacity(datagram.len());
        if srtp.unprotect_rtcp(datagram, &mut plain).is_err() {
            self.drops.srtp += 1;
            return;
        }
        for packet in iter_compound(&plain) {
            let packet = match packet {
                Ok(packet) => packet,
                Err(error) => {
                    self.drops.rtcp += 1;
                    debug!(session = %self.id, %error, "bad RTCP");
                    break;
                }
            };
            match (&mut self.media, packet) {
                (
                    SessionMedia::Publisher(publisher),
                    RtcpPacket::SenderReport {
                        ssrc,
                        ntp,
                        rtp_timestamp,
                        ..
                    },
                ) => {
                    if let Some(clock) =
                        publisher
                            .ingress
                            .on_sender_report(now, ssrc, ntp, rtp_timestamp)
                    {
                        self.events.push_back(SessionEvent::SenderClock(clock));
                    }
                }
                // One request per viewer per interval crosses shards; the publisher's shard
                // folds them all together.
                (SessionMedia::Viewer(viewer), RtcpPacket::Pli { .. } | RtcpPacket::Fir { .. }) => {
                    let due = viewer.keyframe_due(now);
                    let layer = viewer.egress.wanted_layer();
                    self.events
                        .extend(due.then_some(SessionEvent::KeyframeRequest { layer }));
                }
                (
                    SessionMedia::Viewer(viewer),
                    RtcpPacket::Nack {
                        media_ssrc, items, ..
                    },
                ) => {
                    viewer.egress.handle_nack(now, media_ssrc, items.lost());
                    if viewer.egress.announce_retransmits(now) {
                        self.events.push_back(SessionEvent::RetransmitReady);
                    }
                }
                (SessionMedia::Viewer(viewer), RtcpPacket::TransportCc { fci, .. }) => {
                    match TransportCcFeedback::parse(fci) {
                        Ok(feedback) => viewer
                            .egress
                            .bandwidth_mut()
                            .on_transport_feedback(now, &feedback),
                        Err(error) => {
                            self.drops.rtcp += 1;
                            debug!(session = %self.id, %error, "bad transport-cc feedback");
                        }
                    }
                }
                (SessionMedia::Viewer(viewer), RtcpPacket::Remb { bitrate_bps, .. }) => {
                    viewer.egress.bandwidth_mut().on_remb(bitrate_bps);
                }
                (
                    SessionMedia::Viewer(viewer),
                    RtcpPacket::ReceiverReport { reports, .. }
                    | RtcpPacket::SenderReport { reports, .. },
                ) => {
                    for block in reports {
                        viewer.egress.on_report_block(now, &block);
                    }
                }
                _ => {}
            }
        }
    }

    /// A viewer's bandwidth estimator, which its feedback feeds (viewer sessions only).
    pub fn bandwidth(&self) -> Option<&BandwidthEstimator> {
        match &self.media {
            SessionMedia::Viewer(viewer) => Some(viewer.egress.bandwidth()),
            SessionMedia::Publisher(_) => None,
        }
    }

    /// A viewer of the stream wants a keyframe of simulcast layer `layer` (publisher sessions
    /// only); a layer past the publisher's last means its last.
    pub fn request_keyframe(&mut self, now: Instant, layer: u8) {
        trace!(session = %self.id, layer, "keyframe wanted");
        let SessionMedia::Publisher(publisher) = &mut self.media else {
            return;
        };
        let top = publisher.ingress.video_layer_count().saturating_sub(1);
        let layer = layer.min(u8::try_from(top).unwrap_or(u8::MAX));
        if publisher.keyframes.request(now, layer) {
            self.send_keyframe_request(layer);
        }
    }

    /// Sends the keyframe requests that waited for their layer's SSRC, now that a packet
    /// may have named it.
    pub(super) fn send_awaited_keyframe_requests(&mut self) {
        let SessionMedia::Publisher(publisher) = &mut self.media else {
            return;
        };
        if !publisher.keyframes.awaits_ssrc() {
            return;
        }
        let ingress = &publisher.ingress;
        let ready = publisher
            .keyframes
            .take_awaiting(|layer| ingress.video_ssrc(layer).is_some());
        self.send_keyframe_requests(ready);
    }

    fn send_keyframe_requests(&mut self, layers: [bool; MAX_LAYERS]) {
        for (layer, _) in (0u8..).zip(layers).filter(|(_, due)| *due) {
            self.send_keyframe_request(layer);
        }
    }

    /// Forwards the publisher's clock mapping to a viewer's track.
    pub fn set_clock(&mut self, clock: crate::router::SenderClock) {
        if let SessionMedia::Viewer(viewer) = &mut self.media {
            viewer.egress.set_clock(clock);
        }
    }

    /// A PLI naming the media SSRC of `layer`, or, while that is not known, a note to send
    /// it once it is.
    fn send_keyframe_request(&mut self, layer: u8) {
        let SessionMedia::Publisher(publisher) = &mut self.media else {
            return;
        };
        let Some(media_ssrc) = publisher.ingress.video_ssrc(layer) else {
            publisher.keyframes.await_ssrc(layer);
            return;
        };
        publisher.keyframes_requested += 1;
        let mut plain = Vec::with_capacity(64);
        write_pli(&mut plain, publisher.local_ssrc, media_ssrc);
        debug!(session = %self.id, stream = %self.stream, layer, "PLI to publisher");
        self.send_rtcp(&plain);
    }

    pub(super) fn send_reports(&mut self, now: Instant) {
        let mut plain = Vec::with_capacity(256);
        match &mut self.media {
            SessionMedia::Publisher(publisher) => {
                let blocks: Vec<_> = publisher.ingress.report_blocks(now).take(31).collect();
                let ssrc = publisher.local_ssrc;
                if write_receiver_report(&mut plain, ssrc, &blocks).is_err()
                    || write_sdes_cname(&mut plain, ssrc, RECEIVER_CNAME).is_err()
                {
                    return;
                }
            }
            SessionMedia::Viewer(viewer) => {
                let mut first_ssrc = None;
                for index in 0..viewer.egress.tracks().len() {
                    let track = &viewer.egress.tracks()[index];
                    let Some((ntp, rtp_timestamp, packet_count, octet_count)) =
                        track.sender_report(now, &self.wall_clock)
                    else {
                        continue;
                    };
                    let sender = SenderInfo {
                        ssrc: track.ssrc(),
                        ntp,
                        rtp_timestamp,
                        packet_count,
                        octet_count,
                    };
                    if write_sender_report(&mut plain, &sender, &[]).is_err() {
                        return;
                    }
                    first_ssrc.get_or_insert(track.ssrc());
                    // The viewer's reports name this one when they give its round trip.
                    viewer.egress.sender_report_sent(now, compact_ntp(ntp));
                }
                let Some(ssrc) = first_ssrc else {
                    return;
                };
                if write_sdes_cname(&mut plain, ssrc, &viewer.cname).is_err() {
                    return;
                }
            }
        }
        self.send_rtcp(&plain);
    }

    fn send_rtcp(&mut self, plain: &[u8]) {
        queue_rtcp(
            self.ice.selected(),
            self.srtp.as_mut(),
            &mut self.transmits,
            plain,
        );
    }

    /// Media timers: a publisher's folded keyframe request, NACKs and transport-wide
    /// congestion control feedback, a viewer's keyframe retry and paced retransmissions.
    pub(super) fn media_timeout(&mut self, now: Instant) {
        let due = match &mut self.media {
            SessionMedia::Publisher(publisher) => publisher.keyframes.handle_timeout(now),
            SessionMedia::Viewer(viewer) => {
                if viewer.keyframe_deadline().is_some_and(|at| at <= now)
                    && viewer.keyframe_due(now)
                {
                    let layer = viewer.egress.wanted_layer();
                    self.events
                        .push_back(SessionEvent::KeyframeRequest { layer });
                }
                if viewer.egress.announce_retransmits(now) {
                    self.events.push_back(SessionEvent::RetransmitReady);
                }
                [false; MAX_LAYERS]
            }
        };
        self.send_keyframe_requests(due);
        self.send_nacks(now);
        self.send_transport_feedback(now);
    }

    /// Asks the publisher for the packets that are missing (and due for a NACK) at `now`.
    fn send_nacks(&mut self, now: Instant) {
        let SessionMedia::Publisher(publisher) = &mut self.media else {
            return;
        };
        if publisher.ingress.nack_deadline().is_none_or(|at| at > now) {
            return;
        }
        let mut plain = Vec::new();
        publisher
            .ingress
            .write_nacks(now, publisher.local_ssrc, &mut plain);
        if !plain.is_empty() {
            debug!(session = %self.id, stream = %self.stream, "NACK to publisher");
            self.send_rtcp(&plain);
        }
    }

    pub(super) fn media_deadline(&self) -> Option<Instant> {
        self.srtp.as_ref()?;
        match &self.media {
            SessionMedia::Publisher(publisher) => [
                publisher.keyframes.poll_timeout(),
                publisher.ingress.nack_deadline(),
                self.transport_feedback_deadline(),
            ]
            .into_iter()
            .flatten()
            .min(),
            SessionMedia::Viewer(viewer) => [
                viewer.keyframe_deadline(),
                viewer.egress.retransmit_deadline(),
            ]
            .into_iter()
            .flatten()
            .min(),
        }
    }
}

/// Encrypts the RTCP packet `plain` and queues it for `destination`; nothing goes out before
/// ICE has selected an address and SRTP is keyed. Takes the session's parts rather than the
/// session, so a caller may hold a borrow of its media meanwhile.
pub(super) fn queue_rtcp(
    destination: Option<SocketAddr>,
    srtp: Option<&mut SrtpSession>,
    transmits: &mut VecDeque<Transmit>,
    plain: &[u8],
) {
    let (Some(destination), Some(srtp)) = (destination, srtp) else {
        return;
    };
    let mut contents = Vec::with_capacity(plain.len() + 32);
    if srtp.protect_rtcp(plain, &mut contents).is_ok() {
        transmits.push_back(Transmit {
            destination,
            source: None,
            contents,
        });
    }
}

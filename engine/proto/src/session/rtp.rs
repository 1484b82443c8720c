//! A session's RTP: a publisher's packets in, a viewer's packets out.

use std::time::Instant;

use tracing::debug;

use super::{Session, SessionEvent, SessionMedia};
use shardcast_control::MediaKind;

use crate::egress::EgressOutcome;
use crate::media::MediaPacket;
use crate::prefetch::prefetch;
use crate::rtp::pad_rtp_onto;
use crate::shard::TransmitMeta;

impl Session {
    pub(super) fn handle_srtp(&mut self, now: Instant, datagram: &[u8], plain: &mut Vec<u8>) {
        let Some(srtp) = self.srtp.as_mut() else {
            self.drops.srtp += 1;
            return;
        };
        if srtp.unprotect_rtp(datagram, plain).is_err() {
            self.drops.srtp += 1;
            return;
        }
        self.note_arrival(now, plain);
        match &mut self.media {
            SessionMedia::Publisher(publisher) => match publisher.ingress.handle_rtp(now, plain) {
                Ok(packet) => {
                    self.events.push_back(SessionEvent::Media(packet));
                    self.send_awaited_keyframe_requests();
                }
                Err(reason) => {
                    self.drops.media += 1;
                    debug!(session = %self.id, %reason, "publisher packet dropped");
                }
            },
            // Viewers send no media we want.
            SessionMedia::Viewer(_) => self.drops.media += 1,
        }
        self.send_transport_feedback(now);
    }

    /// Rewrites `packet` for this viewer, with `padding` bytes of RTP padding, and encrypts
    /// it onto the end of `out`, after what it holds; [`Self::media_destination`] says where
    /// it goes. False, with `out` as it was, when the viewer takes nothing this time: not
    /// connected yet, waiting for a keyframe, or a packet it has no use for.
    pub fn write_media_onto(
        &mut self,
        now: Instant,
        packet: &MediaPacket,
        padding: u8,
        out: &mut Vec<u8>,
    ) -> bool {
        let written = self.write_viewer_media(now, packet, padding, out);
        if let SessionMedia::Viewer(viewer) = &mut self.media
            && viewer.egress.take_keyframe_wanted()
            && viewer.keyframe_due(now)
        {
            let layer = viewer.egress.wanted_layer();
            self.events
                .push_back(SessionEvent::KeyframeRequest { layer });
        }
        written
    }

    /// Where this viewer's media goes, and from which local address, once ICE has chosen.
    pub fn media_destination(&self) -> Option<TransmitMeta> {
        let destination = self.ice.selected()?;
        Some(TransmitMeta {
            destination,
            source: self.local_for(destination),
            segment_size: None,
        })
    }

    /// The viewer's video is about to start from a keyframe the shard already has: its own
    /// keyframe request is held back for an interval.
    pub fn keyframe_coming(&mut self, now: Instant) {
        if let SessionMedia::Viewer(viewer) = &mut self.media {
            viewer.keyframe_coming(now);
        }
    }

    /// Starts loading the parts of this session that writing its media reads, those held in
    /// the session itself. Reads nothing of the session, so it costs no wait however cold.
    pub fn prefetch_media_state(&self) {
        prefetch(&self.media);
        prefetch(&self.srtp);
        self.ice.prefetch_selected();
        prefetch(&self.locals);
        prefetch(&self.closed);
        // The fan-out drains the viewer's events after each packet written.
        prefetch(&self.events);
    }

    /// Starts loading what writing this session's media of `kind` reads through its pointers. Reads
    /// the session, so best called once [`Self::prefetch_media_state`] had time to work.
    pub fn prefetch_media_heap(&self, kind: MediaKind) {
        if let SessionMedia::Viewer(viewer) = &self.media {
            viewer.egress.prefetch_heap(kind);
        }
        if let Some(srtp) = &self.srtp {
            srtp.prefetch_rtp_keys();
        }
        prefetch(self.locals.as_slice());
    }

    /// True when this viewer's video waits for a keyframe: then, and only then, it has a
    /// keyframe request deadline.
    pub fn awaits_keyframe(&self) -> bool {
        matches!(&self.media, SessionMedia::Viewer(viewer) if viewer.egress.needs_keyframe())
    }

    /// True when this viewer has no use for `packet` (a simulcast layer it does not get): the
    /// fan-out's quick look before [`Self::write_media_onto`].
    pub fn skips_media(&self, now: Instant, packet: &MediaPacket) -> bool {
        matches!(&self.media, SessionMedia::Viewer(viewer) if viewer.egress.skips(now, packet))
    }

    fn write_viewer_media(
        &mut self,
        now: Instant,
        packet: &MediaPacket,
        padding: u8,
        out: &mut Vec<u8>,
    ) -> bool {
        let (Some(_), Some(srtp), SessionMedia::Viewer(viewer)) =
            (self.ice.selected(), self.srtp.as_mut(), &mut self.media)
        else {
            return false;
        };
        if self.closed {
            return false;
        }
        let start = out.len();
        match viewer.egress.write(now, packet, out) {
            EgressOutcome::Written(_) => {
                pad_rtp_onto(out, start, padding);
                if srtp.protect_rtp_tail(out, start).is_err() {
                    self.drops.srtp += 1;
                    return false;
                }
                true
            }
            EgressOutcome::AwaitingKeyframe => {
                if viewer.keyframe_due(now) {
                    let layer = viewer.egress.wanted_layer();
                    self.events
                        .push_back(SessionEvent::KeyframeRequest { layer });
                }
                false
            }
            EgressOutcome::OtherLayer | EgressOutcome::AlreadySent => false,
            _ => {
                self.drops.media += 1;
                false
            }
        }
    }
}

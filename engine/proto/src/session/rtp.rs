//! A session's RTP: a publisher's packets in, a viewer's packets out.

use std::time::Instant;

use tracing::debug;

use super::{Session, SessionEvent, SessionMedia};
use crate::egress::EgressOutcome;
use crate::media::MediaPacket;
use crate::shard::TransmitMeta;

/// A viewer's copy of a media packet, rewritten and waiting in its session to be encrypted.
#[derive(Debug, Clone, Copy)]
pub struct PreparedMedia {
    pub meta: TransmitMeta,
    /// Its length once encrypted.
    pub len: usize,
    plain_len: usize,
}

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

    /// Rewrites `packet` for this viewer, into the session's own buffer, and says where it
    /// goes and how long it will be once encrypted, so the caller can choose where to put it
    /// before [`Self::protect_prepared_onto`] encrypts it. `None` when the viewer takes
    /// nothing this time: not connected yet, waiting for a keyframe, or a packet it has no
    /// use for.
    pub fn prepare_media(&mut self, now: Instant, packet: &MediaPacket) -> Option<PreparedMedia> {
        let prepared = self.prepare_viewer_media(now, packet);
        if let SessionMedia::Viewer(viewer) = &mut self.media
            && viewer.egress.take_keyframe_wanted()
            && viewer.keyframe_due(now)
        {
            let layer = viewer.egress.wanted_layer();
            self.events
                .push_back(SessionEvent::KeyframeRequest { layer });
        }
        prepared
    }

    /// True when this viewer has no use for `packet` (a simulcast layer it does not get): the
    /// fan-out's quick look before [`Self::prepare_media`].
    pub fn skips_media(&self, now: Instant, packet: &MediaPacket) -> bool {
        matches!(&self.media, SessionMedia::Viewer(viewer) if viewer.egress.skips(now, packet))
    }

    fn prepare_viewer_media(
        &mut self,
        now: Instant,
        packet: &MediaPacket,
    ) -> Option<PreparedMedia> {
        let (Some(destination), Some(srtp), SessionMedia::Viewer(viewer)) =
            (self.ice.selected(), self.srtp.as_ref(), &mut self.media)
        else {
            return None;
        };
        if self.closed {
            return None;
        }
        match viewer.egress.write(now, packet, &mut self.plaintext) {
            EgressOutcome::Written(plain_len) => Some(PreparedMedia {
                meta: TransmitMeta {
                    destination,
                    source: self.local_for(destination),
                    segment_size: None,
                },
                len: plain_len + srtp.profile().rtp_overhead(),
                plain_len,
            }),
            EgressOutcome::AwaitingKeyframe => {
                if viewer.keyframe_due(now) {
                    let layer = viewer.egress.wanted_layer();
                    self.events
                        .push_back(SessionEvent::KeyframeRequest { layer });
                }
                None
            }
            EgressOutcome::OtherLayer => None,
            _ => {
                self.drops.media += 1;
                None
            }
        }
    }

    /// Encrypts the packet `prepared` by the latest [`Self::prepare_media`] onto the end of
    /// `out`, after what it holds. False, and `out` as it was, when SRTP refuses it.
    pub fn protect_prepared_onto(&mut self, prepared: &PreparedMedia, out: &mut Vec<u8>) -> bool {
        let (Some(srtp), Some(plain)) =
            (self.srtp.as_mut(), self.plaintext.get(..prepared.plain_len))
        else {
            return false;
        };
        if srtp.protect_rtp_onto(plain, out).is_err() {
            self.drops.srtp += 1;
            return false;
        }
        true
    }
}

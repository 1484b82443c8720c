//! A session's RTP: a publisher's packets in, a viewer's packets out.

use std::time::Instant;

use tracing::debug;

use super::{Session, SessionEvent, SessionMedia};
use crate::egress::EgressOutcome;
use crate::media::MediaPacket;
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
        match &mut self.media {
            SessionMedia::Publisher(publisher) => match publisher.ingress.handle_rtp(now, plain) {
                Ok(packet) => self.events.push_back(SessionEvent::Media(packet)),
                Err(reason) => {
                    self.drops.media += 1;
                    debug!(session = %self.id, %reason, "publisher packet dropped");
                }
            },
            // Viewers send no media we want.
            SessionMedia::Viewer(_) => self.drops.media += 1,
        }
    }

    /// Writes this viewer's copy of `packet` into `out` as one SRTP datagram and says where it
    /// goes; `None` (and `out` meaningless) when the viewer takes nothing this time: not
    /// connected yet, waiting for a keyframe, or a packet it has no use for.
    pub fn write_media(
        &mut self,
        now: Instant,
        packet: &MediaPacket,
        out: &mut Vec<u8>,
    ) -> Option<TransmitMeta> {
        let (Some(destination), Some(srtp), SessionMedia::Viewer(viewer)) =
            (self.ice.selected(), self.srtp.as_mut(), &mut self.media)
        else {
            return None;
        };
        if self.closed {
            return None;
        }
        match viewer.egress.write(now, packet, &mut self.plaintext) {
            EgressOutcome::Written(len) => {
                if srtp.protect_rtp(&self.plaintext[..len], out).is_err() {
                    self.drops.srtp += 1;
                    return None;
                }
                Some(TransmitMeta {
                    destination,
                    source: self.local_for(destination),
                })
            }
            EgressOutcome::AwaitingKeyframe => {
                if viewer.keyframe_due(now) {
                    self.events.push_back(SessionEvent::KeyframeRequest);
                }
                None
            }
            _ => {
                self.drops.media += 1;
                None
            }
        }
    }
}

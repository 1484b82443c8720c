//! A viewer's retransmissions leave the session here: the shard hands in its RTX cache of
//! the viewer's stream, the viewer's egress picks what its pace allows, and SRTP protects it
//! straight into the runtime's buffer.

use std::time::Instant;

use super::{Session, SessionMedia};
use crate::egress::RtxCache;
use crate::repair::RepairCounters;
use crate::shard::TransmitMeta;

impl Session {
    /// Writes this viewer's next retransmission into `out` as one SRTP datagram and says
    /// where it goes; `None` when there is nothing the pace allows at `now` that `cache` can
    /// answer.
    pub fn write_retransmission(
        &mut self,
        now: Instant,
        cache: Option<&RtxCache>,
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
        let len = viewer
            .egress
            .write_retransmission(now, cache, &mut self.plaintext)?;
        if srtp.protect_rtp(&self.plaintext[..len], out).is_err() {
            self.drops.srtp += 1;
            return None;
        }
        Some(TransmitMeta {
            destination,
            source: self.local_for(destination),
            segment_size: None,
        })
    }

    /// After the shard polled [`Self::write_retransmission`]: true when more may go at
    /// `now`, so the shard keeps this session on its list; otherwise the session's timer
    /// (or its next NACK) brings it back.
    pub fn stay_listed_for_retransmits(&mut self, now: Instant) -> bool {
        match &mut self.media {
            SessionMedia::Viewer(viewer) if !self.closed => viewer.egress.stay_listed(now),
            _ => false,
        }
    }

    /// What this session counted of loss repair, either side.
    pub fn repair_counters(&self) -> RepairCounters {
        match &self.media {
            SessionMedia::Publisher(publisher) => publisher.ingress.repair_counters(),
            SessionMedia::Viewer(viewer) => viewer.egress.repair_counters(),
        }
    }
}

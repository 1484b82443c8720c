//! Loss repair on the publisher's side: per media SSRC, which packets came (receiver stats
//! and a NACK register), the NACKs that ask for the rest, and RTX packets mapped back to
//! the media SSRC they repair.

use std::time::Instant;

use super::{IngressDrop, MAX_SSRCS, NackRegister, PublisherIngress, ReceiverStats};
use crate::ingress::Arrival;
use crate::media::PacketLayout;
use crate::repair::RepairCounters;
use crate::rtcp::write_nack;

/// One media SSRC of the publisher.
pub(super) struct IncomingStream {
    pub(super) stats: ReceiverStats,
    /// Present when the publisher negotiated NACK for this SSRC's track.
    register: Option<NackRegister>,
}

impl IncomingStream {
    pub(super) fn ssrc(&self) -> u32 {
        self.stats.ssrc()
    }
}

impl PublisherIngress {
    /// Accounts a packet of media SSRC `ssrc` (`repair`: it came inside an RTX packet).
    /// Fails for a packet already received, and for a repair nobody asked for.
    pub(super) fn take_in(
        &mut self,
        now: Instant,
        ssrc: u32,
        clock_rate: u32,
        layout: &PacketLayout,
        repair: bool,
        nack: bool,
    ) -> Result<(), IngressDrop> {
        let index = match self.streams.iter().position(|s| s.ssrc() == ssrc) {
            Some(index) => index,
            None if self.streams.len() < MAX_SSRCS => {
                self.streams.push(IncomingStream {
                    stats: ReceiverStats::new(ssrc, clock_rate, now),
                    register: nack.then(NackRegister::new),
                });
                self.streams.len() - 1
            }
            // Past the limit the packet still goes out, unaccounted.
            None => return Ok(()),
        };
        let stream = &mut self.streams[index];
        let seq = layout.sequence_number;
        match stream.register.as_mut() {
            Some(register) => match register.on_packet(now, seq) {
                Arrival::Duplicate => return Err(IngressDrop::Duplicate),
                // Only an RTX packet is surely the answer: a plain one may be the original,
                // late, whose arrival says nothing of the round trip.
                Arrival::Recovered { rtt: Some(rtt) } if repair => self.rtt.sample(rtt),
                _ => {}
            },
            // Without NACKs we asked for nothing: an RTX packet is a probe resending what came.
            None if repair => return Err(IngressDrop::Duplicate),
            None => {}
        }
        if repair {
            stream.stats.on_repair(seq);
        } else {
            stream.stats.on_packet(now, seq, layout.timestamp);
        }
        Ok(())
    }

    /// The media SSRC an RTX SSRC of track `track` and layer `layer` repairs: the declared
    /// pair (`a=ssrc-group:FID`), else the latest media SSRC of that layer (rid simulcast
    /// declares no SSRCs: the RTX packets name their layer with RepairedRtpStreamId).
    pub(super) fn media_ssrc_of_rtx(&self, track: usize, layer: u8, rtx_ssrc: u32) -> Option<u32> {
        let track = self.tracks.get(track)?;
        let declared = track.rtx_pairs.iter().find(|p| p.1 == rtx_ssrc);
        match declared {
            Some(&(media, _)) => Some(media),
            None => track.layers.media_ssrc(layer),
        }
    }

    /// Appends to `out` one NACK per media SSRC with packets to ask for at `now`.
    pub fn write_nacks(&mut self, now: Instant, sender_ssrc: u32, out: &mut Vec<u8>) {
        let retry_interval = self.rtt.retry_interval();
        for stream in &mut self.streams {
            let Some(register) = stream.register.as_mut() else {
                continue;
            };
            if register
                .poll_timeout(retry_interval)
                .is_none_or(|at| at > now)
            {
                continue;
            }
            self.lost.clear();
            register.poll_nacks(now, retry_interval, &mut self.lost);
            // At most MAX_MISSING items: far below the length field's limit.
            if !self.lost.is_empty() {
                let _ = write_nack(out, sender_ssrc, stream.ssrc(), &self.lost);
            }
        }
    }

    /// When [`Self::write_nacks`] next has something to do.
    pub fn nack_deadline(&self) -> Option<Instant> {
        let retry_interval = self.rtt.retry_interval();
        self.streams
            .iter()
            .filter_map(|s| s.register.as_ref()?.poll_timeout(retry_interval))
            .min()
    }

    /// What the NACK registers did.
    pub fn repair_counters(&self) -> RepairCounters {
        let mut counters = RepairCounters::default();
        for register in self.streams.iter().filter_map(|s| s.register.as_ref()) {
            let counts = register.counts();
            counters.publisher_nacks_sent += counts.requested;
            counters.packets_recovered += counts.recovered;
            counters.packets_given_up += counts.given_up;
        }
        counters
    }
}

//! Answering a viewer's NACKs. Each lost sequence number is mapped back to the source packet
//! it stands for and checked against the packet's retransmission limit, then queued; the
//! shard later takes queued packets out of the stream's RTX cache as fast as the viewer's
//! pace allows. The limit is checked again when a packet goes, since the viewer may have
//! asked twice before the first answer left.

use std::time::{Duration, Instant};

use super::retransmit_queue::Retransmit;
use super::{EgressOutcome, RtxCache, ViewerEgress};
use crate::repair::RepairCounters;
use crate::rtcp::ReportBlock;

impl ViewerEgress {
    /// A NACK from the viewer for our SSRC `media_ssrc`, listing `lost` sequence numbers.
    pub fn handle_nack(&mut self, now: Instant, media_ssrc: u32, lost: impl Iterator<Item = u16>) {
        let track = self.tracks.iter().position(|t| t.ssrc() == media_ssrc);
        let rtt = self.repair.rtt.rtt();
        for out_seq in lost {
            self.repair.counters.nacks_received += 1;
            let source = track.and_then(|index| {
                let packet = self.tracks.get(index)?.source_sequence(out_seq)?;
                Some((index, packet))
            });
            let Some((index, packet)) = source else {
                self.repair.counters.retransmissions_missed += 1;
                continue;
            };
            if !self.tracks[index].limit().allows(now, out_seq, rtt) {
                self.repair.counters.retransmissions_suppressed += 1;
                continue;
            }
            let entry = Retransmit {
                track: index,
                source: packet.source,
                layer: packet.layer,
                source_seq: packet.seq,
                out_seq,
            };
            if self.repair.retransmits.push(entry) {
                self.repair.counters.retransmissions_dropped += 1;
            }
        }
    }

    /// True when retransmissions just became ready to go: the shard must list this viewer.
    pub fn announce_retransmits(&mut self, now: Instant) -> bool {
        self.repair.retransmits.announce(now)
    }

    /// Writes the next retransmission the pace allows at `now` into `out`, from `cache` (the
    /// stream's on this shard); returns its length. Requests that cannot be answered are
    /// counted and passed over.
    pub fn write_retransmission(
        &mut self,
        now: Instant,
        cache: Option<&RtxCache>,
        out: &mut [u8],
    ) -> Option<usize> {
        let rtt = self.repair.rtt.rtt();
        while self.repair.retransmits.may_send(now) {
            let entry = self.repair.retransmits.pop()?;
            let Some(track) = self.tracks.get_mut(entry.track) else {
                continue;
            };
            if !track.limit().allows(now, entry.out_seq, rtt) {
                self.repair.counters.retransmissions_suppressed += 1;
                continue;
            }
            let kind = track.kind();
            let packet =
                cache.and_then(|c| c.get(kind, entry.source, entry.layer, entry.source_seq, now));
            let transport_seq = self.bandwidth.next_transport_seq().unwrap_or(0);
            let written =
                packet.map(|packet| track.write_retransmission(packet, transport_seq, out));
            let Some(EgressOutcome::Written(len)) = written else {
                self.repair.counters.retransmissions_missed += 1;
                continue;
            };
            if track.carries_transport_seq() {
                self.bandwidth.on_sent(now, len);
            } else {
                self.bandwidth.on_sent_unnumbered(now, len);
            }
            track.limit_mut().record(now, entry.out_seq);
            self.repair.retransmits.spend(now);
            self.repair.counters.retransmissions_sent += 1;
            return Some(len);
        }
        None
    }

    /// After the shard took a retransmission: true to keep this viewer on its list.
    pub fn stay_listed(&mut self, now: Instant) -> bool {
        self.repair.retransmits.stay_listed(now)
    }

    /// When queued retransmissions may go again, while the pace holds them back.
    pub fn retransmit_deadline(&self) -> Option<Instant> {
        self.repair.retransmits.deadline()
    }

    /// A sender report with NTP time `compact` (middle 32 bits) went out at `now`.
    pub fn sender_report_sent(&mut self, now: Instant, compact: u32) {
        self.repair.sent_reports.record(now, compact);
    }

    /// A report block from the viewer: a round-trip sample when it is about one of our
    /// tracks and names a sender report of ours.
    pub fn on_report_block(&mut self, now: Instant, block: &ReportBlock) {
        if !self.has_ssrc(block.ssrc) {
            return;
        }
        self.bandwidth.on_receiver_report(now, block.fraction_lost);
        if let Some(rtt) =
            self.repair
                .sent_reports
                .round_trip(now, block.last_sr, block.delay_since_last_sr)
        {
            self.repair.rtt.sample(rtt);
        }
    }

    /// The viewer's round trip, as its reports show it.
    pub fn rtt(&self) -> Duration {
        self.repair.rtt.rtt()
    }

    pub fn repair_counters(&self) -> RepairCounters {
        self.repair.counters
    }
}

#[cfg(test)]
mod tests;

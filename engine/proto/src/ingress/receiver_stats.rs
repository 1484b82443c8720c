//! What we received from one publisher SSRC, for the receiver reports we send it
//! (RFC 3550 6.4.2 and appendix A.3, A.8). Browsers base their loss-based bandwidth
//! estimate and RTT on these.

use std::time::{Duration, Instant};

use crate::rtcp::ReportBlock;
use crate::rtp::sequence::SequenceUnwrapper;

#[derive(Debug)]
pub struct ReceiverStats {
    ssrc: u32,
    clock_rate: u32,
    unwrapper: SequenceUnwrapper,
    base: Option<u64>,
    highest: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter in timestamp units, scaled by 16 as in RFC 3550 A.8.
    jitter_q4: u64,
    last_transit: Option<i64>,
    epoch: Instant,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    pub fn new(ssrc: u32, clock_rate: u32, now: Instant) -> Self {
        Self {
            ssrc,
            clock_rate: clock_rate.max(1),
            unwrapper: SequenceUnwrapper::default(),
            base: None,
            highest: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter_q4: 0,
            last_transit: None,
            epoch: now,
            last_sr: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn on_packet(&mut self, now: Instant, sequence_number: u16, timestamp: u32) {
        if !self.count(sequence_number) {
            return;
        }
        let arrival = ticks(now.saturating_duration_since(self.epoch), self.clock_rate);
        let transit = arrival - i64::from(timestamp);
        if let Some(last) = self.last_transit.replace(transit) {
            let d = (transit - last).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16 to stay in integers.
            self.jitter_q4 = self.jitter_q4 + d - (self.jitter_q4 >> 4);
        }
    }

    /// A retransmitted packet: received after all, but its arrival time says nothing about
    /// the path's jitter.
    pub fn on_repair(&mut self, sequence_number: u16) {
        self.count(sequence_number);
    }

    /// Counts a packet; false for one from before the first.
    fn count(&mut self, sequence_number: u16) -> bool {
        let extended = self.unwrapper.unwrap(sequence_number);
        let base = *self.base.get_or_insert(extended);
        if extended < base {
            return false;
        }
        self.received += 1;
        self.highest = self.highest.max(extended);
        true
    }

    /// Remembers the publisher's last sender report (its NTP time, middle 32 bits).
    pub fn on_sender_report(&mut self, now: Instant, compact_ntp: u32) {
        self.last_sr = Some((compact_ntp, now));
    }

    /// The report block for this SSRC, and the start of a new reporting interval.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let base = self.base?;
        let expected = self.highest - base + 1;
        let lost = expected as i64 - self.received as i64;
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let delay = now.saturating_duration_since(at);
                // DLSR is in units of 1/65536 s.
                let dlsr = (delay.as_micros() * 65_536 / 1_000_000).min(u128::from(u32::MAX));
                (lsr, dlsr as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff) as i32,
            // Cycles count from the first packet's cycle (the unwrapper may start above 0).
            highest_seq: (self.highest - (base & !0xffff)) as u32,
            jitter: (self.jitter_q4 >> 4) as u32,
            last_sr,
            delay_since_last_sr,
        })
    }
}

fn ticks(elapsed: Duration, clock_rate: u32) -> i64 {
    (elapsed.as_micros() * u128::from(clock_rate) / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_fraction_per_interval() {
        let t0 = Instant::now();
        let mut stats = ReceiverStats::new(7, 90_000, t0);
        assert!(stats.report_block(t0).is_none(), "nothing received yet");
        for seq in (65_530u16..=65_535).chain(0..10) {
            if seq % 4 != 0 {
                stats.on_packet(t0, seq, 0);
            }
        }
        let block = stats.report_block(t0).unwrap();
        let lost = (65_530u32..=65_535)
            .chain(0..10)
            .filter(|s| s % 4 == 0)
            .count();
        assert_eq!(block.cumulative_lost, lost as i32);
        assert_eq!(
            block.highest_seq,
            (1 << 16) + 9,
            "cycle count in the high bits"
        );
        assert_eq!(block.fraction_lost, ((lost as u64 * 256) / 16) as u8);
        for seq in 10..20 {
            stats.on_packet(t0, seq, 0);
        }
        let block = stats.report_block(t0).unwrap();
        assert_eq!(block.fraction_lost, 0, "no loss in the second interval");
        assert_eq!(block.cumulative_lost, lost as i32);
    }

    #[test]
    fn jitter_is_zero_for_perfectly_paced_packets_and_grows_with_variation() {
        let t0 = Instant::now();
        let mut steady = ReceiverStats::new(1, 90_000, t0);
        let mut shaky = ReceiverStats::new(2, 90_000, t0);
        for i in 0..100u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 10);
            steady.on_packet(at, i as u16, i * 900);
            let wobble = Duration::from_millis(u64::from(i % 3) * 7);
            shaky.on_packet(at + wobble, i as u16, i * 900);
        }
        assert_eq!(steady.report_block(t0).unwrap().jitter, 0);
        assert!(shaky.report_block(t0).unwrap().jitter > 100);
    }

    #[test]
    fn a_repair_counts_as_received_without_a_jitter_sample() {
        let t0 = Instant::now();
        let mut stats = ReceiverStats::new(1, 90_000, t0);
        for seq in [1, 3] {
            stats.on_packet(
                t0 + Duration::from_millis(u64::from(seq) * 10),
                seq,
                u32::from(seq) * 900,
            );
        }
        // Two RTTs late: as a jitter sample it would be huge.
        stats.on_repair(2);
        let block = stats.report_block(t0).unwrap();
        assert_eq!(block.cumulative_lost, 0);
        assert_eq!(block.jitter, 0);
    }

    #[test]
    fn delay_since_last_sender_report() {
        let t0 = Instant::now();
        let mut stats = ReceiverStats::new(1, 48_000, t0);
        stats.on_packet(t0, 1, 0);
        stats.on_sender_report(t0, 0x1234_5678);
        let block = stats.report_block(t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(block.last_sr, 0x1234_5678);
        assert_eq!(block.delay_since_last_sr, 32_768);
    }
}

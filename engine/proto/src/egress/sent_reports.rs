//! A viewer's round trip, from its receiver reports (RFC 3550 6.4.1): a report block names
//! our last sender report it saw (LSR, the middle of its NTP time) and how long the viewer
//! held it (DLSR). We remember when each of our recent reports went out, so the round trip
//! is `now - sent - DLSR`, whatever clock the NTP time came from (ours follow the
//! publisher's, for lip sync).

use std::time::{Duration, Instant};

use crate::rtcp::duration_from_compact;

/// Sender reports remembered: a few seconds' worth, for every track.
const REMEMBERED: usize = 8;

#[derive(Debug, Default)]
pub struct SentReports {
    /// (compact NTP time, when it went out), overwritten in turn.
    sent: [Option<(u32, Instant)>; REMEMBERED],
    next: usize,
}

impl SentReports {
    /// A sender report with NTP time `compact` (middle 32 bits) went out at `now`.
    pub fn record(&mut self, now: Instant, compact: u32) {
        self.sent[self.next] = Some((compact, now));
        self.next = (self.next + 1) % REMEMBERED;
    }

    /// The round trip a report block with `last_sr` and `delay_since_last_sr` shows at
    /// `now`; None when it names no report of ours (or one forgotten).
    pub fn round_trip(
        &self,
        now: Instant,
        last_sr: u32,
        delay_since_last_sr: u32,
    ) -> Option<Duration> {
        if last_sr == 0 {
            return None;
        }
        let &(_, sent) = self
            .sent
            .iter()
            .flatten()
            .find(|(ntp, _)| *ntp == last_sr)?;
        let elapsed = now.checked_duration_since(sent)?;
        elapsed.checked_sub(duration_from_compact(delay_since_last_sr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::compact_from_duration;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn the_round_trip_leaves_out_the_viewers_hold() {
        let t0 = Instant::now();
        let mut reports = SentReports::default();
        reports.record(t0, 0x1111_0000);
        reports.record(t0 + ms(10), 0x2222_0000);
        let held = compact_from_duration(ms(300));
        let rtt = reports.round_trip(t0 + ms(390), 0x2222_0000, held).unwrap();
        assert!(rtt.abs_diff(ms(80)) < ms(1), "{rtt:?}");
        assert_eq!(reports.round_trip(t0 + ms(390), 0x3333_0000, held), None);
        assert_eq!(
            reports.round_trip(t0 + ms(390), 0, 0),
            None,
            "no report seen yet"
        );
        assert_eq!(
            reports.round_trip(t0 + ms(100), 0x2222_0000, held),
            None,
            "held longer than the round trip: a bogus block"
        );
    }

    #[test]
    fn old_reports_are_forgotten() {
        let t0 = Instant::now();
        let mut reports = SentReports::default();
        for i in 0..=REMEMBERED as u32 {
            reports.record(t0, i + 1);
        }
        assert_eq!(reports.round_trip(t0, 1, 0), None);
        assert_eq!(reports.round_trip(t0, 2, 0), Some(Duration::ZERO));
    }
}

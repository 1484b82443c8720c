//! Wall-clock time for RTCP, derived from the monotonic `now` the core is given.
//!
//! The runtime reads the system clock once at start and hands the pair over; from then on
//! NTP timestamps follow the monotonic clock, so a wall-clock step (NTP daemon, manual
//! change) cannot make sender reports jump.

use std::time::{Duration, Instant};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    origin: Instant,
    origin_unix: Duration,
}

impl WallClock {
    /// `origin` and `origin_unix` name the same moment: a monotonic reading and the time
    /// since the Unix epoch.
    pub fn new(origin: Instant, origin_unix: Duration) -> Self {
        Self {
            origin,
            origin_unix,
        }
    }

    /// The 64-bit NTP timestamp (32.32 fixed point seconds since 1900) at `now`.
    pub fn ntp(&self, now: Instant) -> u64 {
        let unix = self.origin_unix + now.saturating_duration_since(self.origin);
        let secs = unix.as_secs() + NTP_UNIX_OFFSET_SECS;
        let frac = (u64::from(unix.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }
}

/// Adds `ticks` of a `clock_rate` clock to an NTP timestamp (ticks may be negative).
pub fn ntp_add_ticks(ntp: u64, ticks: i64, clock_rate: u32) -> u64 {
    let delta = (i128::from(ticks) << 32) / i128::from(clock_rate.max(1));
    (i128::from(ntp) + delta) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_follows_the_monotonic_clock() {
        let t0 = Instant::now();
        let clock = WallClock::new(t0, Duration::from_secs(1_700_000_000));
        let ntp0 = clock.ntp(t0);
        assert_eq!(ntp0 >> 32, 1_700_000_000 + NTP_UNIX_OFFSET_SECS);
        assert_eq!(ntp0 & 0xffff_ffff, 0);
        let half = clock.ntp(t0 + Duration::from_millis(1500));
        assert_eq!(half >> 32, (ntp0 >> 32) + 1);
        assert_eq!(half & 0xffff_ffff, 1 << 31);
    }

    #[test]
    fn ticks_move_ntp_both_ways() {
        let ntp = 100u64 << 32;
        assert_eq!(ntp_add_ticks(ntp, 90_000, 90_000), 101 << 32);
        assert_eq!(ntp_add_ticks(ntp, -24_000, 48_000), (100 << 32) - (1 << 31));
    }
}

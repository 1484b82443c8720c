//! The one clock the publisher and every viewer share, so latency needs no clock offset.
//!
//! The publisher writes the send time of each packet as abs-capture-time (a 64-bit NTP
//! timestamp); a viewer turns the timestamp back into an [`Instant`] of the same monotonic
//! clock and hands it to its [`ReceiveLog`](crate::accounting::ReceiveLog).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shardcast_proto::clock::WallClock;

/// Nanoseconds in one second, the denominator of the NTP fraction conversion.
const NANOS_PER_SECOND: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy)]
pub struct CaptureClock {
    origin: Instant,
    origin_ntp: u64,
    wall: WallClock,
}

impl CaptureClock {
    /// A clock whose NTP time at `origin` is `origin_unix` after the Unix epoch.
    pub fn new(origin: Instant, origin_unix: Duration) -> Self {
        let wall = WallClock::new(origin, origin_unix);
        Self {
            origin,
            origin_ntp: wall.ntp(origin),
            wall,
        }
    }

    /// A clock that starts now and reads the system's wall clock once.
    pub fn start() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::new(Instant::now(), unix)
    }

    /// The abs-capture-time to write for a packet sent at `now`.
    pub fn ntp(&self, now: Instant) -> u64 {
        self.wall.ntp(now)
    }

    /// The moment an abs-capture-time names, or `None` for one from before this clock
    /// started or too far ahead to be ours (another sender, or a server rewriting it).
    pub fn instant(&self, ntp: u64) -> Option<Instant> {
        let since_origin = ntp.checked_sub(self.origin_ntp)?;
        let seconds = since_origin >> 32;
        let fraction = u128::from(since_origin & 0xffff_ffff);
        let nanos = (fraction * NANOS_PER_SECOND) >> 32;
        // Below one second by construction, so it fits.
        let offset = Duration::new(seconds, u32::try_from(nanos).ok()?);
        self.origin.checked_add(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_round_trips_to_the_same_instant_within_a_nanosecond() {
        let origin = Instant::now();
        let clock = CaptureClock::new(origin, Duration::from_secs(1_700_000_000));
        for offset in [0, 1, 999_999_999, 1_500_000_000, 3_600_000_000_123] {
            let at = origin + Duration::from_nanos(offset);
            let back = clock.instant(clock.ntp(at)).unwrap();
            let error = if back > at { back - at } else { at - back };
            assert!(error <= Duration::from_nanos(1), "{offset}: {error:?}");
        }
    }

    #[test]
    fn times_before_the_origin_are_not_ours() {
        let origin = Instant::now();
        let clock = CaptureClock::new(origin, Duration::from_secs(1_700_000_000));
        assert_eq!(clock.instant(clock.ntp(origin) - 1), None);
        assert_eq!(clock.instant(0), None);
    }
}

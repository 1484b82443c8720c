//! A peer's round-trip time, smoothed over samples as TCP does (RFC 6298 2): how long to
//! wait before asking again for a packet that did not come, and how soon a viewer may
//! get the same packet twice.

use std::time::Duration;

/// What we assume before the first sample: a continental path.
pub const DEFAULT_RTT: Duration = Duration::from_millis(100);

/// Retries never come closer than this, however short the path (a LAN, loopback): the
/// other side needs a moment to answer.
const MIN_RETRY_INTERVAL: Duration = Duration::from_millis(10);

/// Nor further apart than this: after that long the packet is of no use to a viewer.
const MAX_RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// Samples above this are taken for a mistake (a repair of an earlier request, a stalled
/// peer) rather than the path.
const MAX_SAMPLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, Default)]
pub struct RttEstimate {
    /// Smoothed RTT and its mean deviation, once there is a sample.
    smoothed: Option<(Duration, Duration)>,
}

impl RttEstimate {
    pub fn sample(&mut self, rtt: Duration) {
        if rtt > MAX_SAMPLE {
            return;
        }
        self.smoothed = Some(match self.smoothed {
            None => (rtt, rtt / 2),
            Some((srtt, rttvar)) => {
                // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT + 1/8 R.
                let rttvar = rttvar * 3 / 4 + srtt.abs_diff(rtt) / 4;
                (srtt * 7 / 8 + rtt / 8, rttvar)
            }
        });
    }

    /// The smoothed RTT, or [`DEFAULT_RTT`] before any sample.
    pub fn rtt(&self) -> Duration {
        self.smoothed.map_or(DEFAULT_RTT, |(srtt, _)| srtt)
    }

    /// How long to wait for an answer before asking again: the RTT plus twice its
    /// deviation, so a jittery path is not asked twice for what is already on its way.
    pub fn retry_interval(&self) -> Duration {
        let interval = match self.smoothed {
            Some((srtt, rttvar)) => srtt + 2 * rttvar,
            None => DEFAULT_RTT * 2,
        };
        interval.clamp(MIN_RETRY_INTERVAL, MAX_RETRY_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn starts_from_the_default_and_follows_samples() {
        let mut rtt = RttEstimate::default();
        assert_eq!(rtt.rtt(), DEFAULT_RTT);
        assert_eq!(rtt.retry_interval(), ms(200));
        rtt.sample(ms(40));
        assert_eq!(rtt.rtt(), ms(40));
        // 40 + 2 * 20.
        assert_eq!(rtt.retry_interval(), ms(80));
        for _ in 0..50 {
            rtt.sample(ms(60));
        }
        assert!(rtt.rtt().abs_diff(ms(60)) < ms(1), "{:?}", rtt.rtt());
        assert!(rtt.retry_interval() < ms(62), "{:?}", rtt.retry_interval());
    }

    #[test]
    fn retry_interval_stays_within_bounds_and_absurd_samples_are_ignored() {
        let mut rtt = RttEstimate::default();
        rtt.sample(Duration::ZERO);
        assert_eq!(rtt.retry_interval(), MIN_RETRY_INTERVAL);
        rtt.sample(ms(60_000));
        assert_eq!(rtt.rtt(), Duration::ZERO);
        let mut slow = RttEstimate::default();
        slow.sample(ms(900));
        assert_eq!(slow.retry_interval(), MAX_RETRY_INTERVAL);
    }
}

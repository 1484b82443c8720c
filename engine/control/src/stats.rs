//! What a shard reports about itself when asked ([`crate::Request::Stats`]): its sessions,
//! how late its timers fire, and what its protocol core counted. Signaling turns this into
//! `/metrics`.

use serde::{Deserialize, Serialize};

/// The upper bounds of the timer lateness buckets, in microseconds: bucket `i` counts
/// firings with lateness below `LATENESS_BOUNDS_US[i]` (and at or above the bound before
/// it); the last bucket, one past these, counts firings at 160 ms or later.
pub const LATENESS_BOUNDS_US: [u64; 8] =
    [1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000];

/// The number of lateness buckets: one per bound, plus one for everything past the last.
pub const LATENESS_BUCKETS: usize = LATENESS_BOUNDS_US.len() + 1;

/// One shard's figures since it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardStats {
    pub shard: usize,
    pub sessions: usize,
    /// Every session timer firing (ICE consent, DTLS retransmits, RTCP reports, NACKs...).
    pub session_timers: LatenessHistogram,
    /// The shard's periodic probe timer: how long its loop went without looking at the clock.
    pub probe: LatenessHistogram,
    /// The probe's period, in microseconds.
    pub probe_period_us: u64,
    /// Probe deadlines passed over because the shard fell more than a period behind; each
    /// is a firing that never happened, so they are not in `probe`.
    pub probe_skipped_periods: u64,
    pub counters: CoreCounters,
}

/// How late a timer fired after its deadline, over every firing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatenessHistogram {
    /// Firings per bucket: lateness < 1, < 2, < 5, < 10, < 20, < 40, < 80, < 160 ms, then
    /// >= 160 ms (see [`LATENESS_BOUNDS_US`]).
    pub buckets: [u64; LATENESS_BUCKETS],
    /// Every firing: the sum of `buckets`.
    pub firings: u64,
    /// The lateness of all firings added up, in microseconds.
    pub sum_us: u64,
    /// The latest any firing was, in microseconds.
    pub max_us: u64,
}

/// The protocol core's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreCounters {
    /// Datagrams from an address no session knows (and, for STUN, no known ufrag).
    pub datagrams_unknown_source: u64,
    pub sessions_created: u64,
    pub sessions_closed: u64,
    /// RTP packets received from this shard's publishers.
    pub media_packets_in: u64,
    /// Media packets that arrived from another shard.
    pub remote_packets_in: u64,
    /// Viewers' keyframe requests sent on to the stream's home shard.
    pub keyframe_requests_forwarded: u64,
    /// Media datagrams written for local viewers.
    pub media_packets_out: u64,
    /// Packets some local viewers never got because the shard's fan-out queue was full.
    pub fanout_jobs_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MAX_LINE, Request, Response, decode, encode};

    #[test]
    fn stats_round_trip_as_one_short_line() {
        assert_eq!(encode(&Request::Stats), b"{\"type\":\"stats\"}\n");
        assert_eq!(
            decode::<Request>(b"{\"type\":\"stats\"}").unwrap(),
            Request::Stats
        );
        // The widest numbers there are, so the line length is an upper bound.
        let widest = LatenessHistogram {
            buckets: [u64::MAX; LATENESS_BUCKETS],
            firings: u64::MAX,
            sum_us: u64::MAX,
            max_us: u64::MAX,
        };
        let response = Response::Stats(ShardStats {
            shard: usize::MAX,
            sessions: usize::MAX,
            session_timers: widest,
            probe: LatenessHistogram {
                buckets: [1, 2, 3, 4, 5, 6, 7, 8, 9],
                firings: 45,
                sum_us: 1234,
                max_us: 160_000,
            },
            probe_period_us: 20_000,
            probe_skipped_periods: 3,
            counters: CoreCounters {
                datagrams_unknown_source: u64::MAX,
                sessions_created: u64::MAX,
                sessions_closed: u64::MAX,
                media_packets_in: u64::MAX,
                remote_packets_in: u64::MAX,
                keyframe_requests_forwarded: u64::MAX,
                media_packets_out: u64::MAX,
                fanout_jobs_dropped: u64::MAX,
            },
        });
        let line = encode(&response);
        assert!(line.len() < 2048 && line.len() < MAX_LINE, "{}", line.len());
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(decode::<Response>(&line).unwrap(), response);
        let text = String::from_utf8(line).unwrap();
        assert!(text.starts_with("{\"type\":\"stats\",\"shard\":"), "{text}");
        assert!(text.contains("\"buckets\":[1,2,3,4,5,6,7,8,9]"), "{text}");
    }
}

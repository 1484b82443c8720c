//! What a shard reports about itself when asked ([`crate::Request::Stats`]): its sessions,
//! how late its timers fire, what its protocol core counted and what its runtime counted.
//! Signaling turns this into `/metrics`.

use serde::{Deserialize, Serialize};

/// The upper bounds of the timer lateness buckets, in microseconds: bucket `i` counts
/// firings with lateness below `LATENESS_BOUNDS_US[i]` (and at or above the bound before
/// it); the last bucket, one past these, counts firings at 160 ms or later.
pub const LATENESS_BOUNDS_US: [u64; 8] =
    [1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000];

/// The number of lateness buckets: one per bound, plus one for everything past the last.
pub const LATENESS_BUCKETS: usize = LATENESS_BOUNDS_US.len() + 1;

/// Simulcast layers the stats count viewers of (the engine tells at most this many apart).
pub const STATS_LAYERS: usize = 4;

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
    pub bandwidth: BandwidthEstimates,
    #[serde(default)]
    pub layers: LayerStats,
    /// Filled in by the shard's runtime, which owns the socket and the ring; the protocol core
    /// answers with zeros here.
    pub runtime: RuntimeCounters,
    /// The gaps between two of the shard loop's timer checks, split into the thread's own CPU
    /// time and the time it was kept off its CPU though it had not asked to sleep (preempted,
    /// or its virtual CPU stolen; a lower bound). A timer is never later than its gap, so a
    /// late firing while no gap held 2 ms of CPU was not the shard's work. Filled in by the
    /// runtime, which owns the thread's clocks; empty from the protocol core.
    #[serde(default)]
    pub check_gaps_on_cpu: LatenessHistogram,
    #[serde(default)]
    pub check_gaps_off_cpu: LatenessHistogram,
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

/// The shard's viewers' bandwidth estimates at the time of asking (see the protocol core's
/// `bwe`). The figures are 0 while no viewer has an estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandwidthEstimates {
    /// Viewers whose feedback or reports have informed an estimate.
    pub viewers: u64,
    /// Of those, the ones estimated from transport-wide congestion control feedback (the
    /// rest from receiver reports' loss and REMB).
    pub transport_cc_viewers: u64,
    pub min_bps: u64,
    /// The lower median.
    pub median_bps: u64,
    pub max_bps: u64,
    /// All estimates added up: with `viewers`, the mean across shards.
    pub sum_bps: u64,
}

/// Which simulcast layers the shard's viewers get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerStats {
    /// Viewers whose video forwards each layer now, lowest first (a stream without
    /// simulcast has layer 0 only); viewers waiting for their first keyframe are in none.
    pub viewers: [u64; STATS_LAYERS],
    /// Viewers' moves to a higher layer since the shard started.
    pub switches_up: u64,
    /// Viewers' moves to a lower layer since the shard started.
    pub switches_down: u64,
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
    /// Sequence numbers viewers asked for in NACKs. Each ends in one of the four
    /// `retransmissions_*` counters (or still waits in its viewer's paced queue).
    pub nacks_received: u64,
    /// Packets resent to viewers, from the shard's RTX cache of their stream.
    pub retransmissions_sent: u64,
    /// NACKed packets that could not be resent: never sent to that viewer, or no longer (or
    /// not yet) in the cache.
    pub retransmissions_missed: u64,
    /// NACKs not answered: the packet was resent as often as allowed, or under a round trip
    /// ago.
    pub retransmissions_suppressed: u64,
    /// Retransmissions dropped from a viewer's full paced queue.
    pub retransmissions_dropped: u64,
    /// Sequence numbers asked of publishers in NACKs (each retry counts).
    pub publisher_nacks_sent: u64,
    /// Publisher packets that arrived after being NACKed.
    pub packets_recovered: u64,
    /// Publisher packets no longer asked for: asked too often, too old, or too many missing.
    pub packets_given_up: u64,
    /// Transport-wide congestion control feedback packets sent to publishers.
    pub publisher_transport_feedback_sent: u64,
    /// Viewers that started from a keyframe the shard had, without asking the publisher.
    pub recent_keyframe_starts: u64,
}

/// The runtime's counters: the shard's socket, its io_uring and its links to other shards.
/// Raw totals; ratios such as datagrams per submit are for the reader to derive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeCounters {
    /// Datagrams received and handed to the protocol core.
    pub datagrams_in: u64,
    /// Datagrams queued for sending, each datagram of a GSO run counted.
    pub datagrams_out: u64,
    /// Completions of the multishot receive: one per datagram, plus each termination.
    pub receive_completions: u64,
    /// Times the multishot receive ended and was armed again.
    pub receive_rearms: u64,
    /// Receive terminations because every receive buffer was in use (ENOBUFS). The datagrams
    /// wait in the socket's receive buffer until the receive is armed again.
    pub receive_buffers_exhausted: u64,
    /// Datagrams dropped because they were longer than a receive buffer.
    pub receive_truncated: u64,
    /// Receives that failed, or datagrams dropped for coming from a non-IP source.
    pub receive_errors: u64,
    /// Send SQEs queued.
    pub send_sqes: u64,
    /// Sends the kernel refused, or datagrams dropped for an address this socket cannot use.
    pub send_errors: u64,
    /// Sends of a run of datagrams for one peer, cut by the kernel (UDP GSO).
    pub gso_sends: u64,
    /// Datagrams those sends carried (also in `datagrams_out`).
    pub gso_segments: u64,
    /// GSO sends the kernel refused to segment; each turned GSO off for the shard and went
    /// out again one datagram at a time.
    pub gso_fallbacks: u64,
    /// io_uring_enter calls: every submit, with or without a wait.
    pub submit_syscalls: u64,
    /// SQEs the kernel took across all submits.
    pub sqes_submitted: u64,
    /// Messages for another shard dropped because its ring was full (or the shard unknown).
    pub ring_full_drops: u64,
    /// Messages taken from other shards.
    pub messages_in: u64,
    /// Requests from signaling.
    pub control_requests: u64,
    /// Times another task took the shard thread's core (involuntary context switches).
    #[serde(default)]
    pub preemptions: u64,
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
                nacks_received: u64::MAX,
                retransmissions_sent: u64::MAX,
                retransmissions_missed: u64::MAX,
                retransmissions_suppressed: u64::MAX,
                retransmissions_dropped: u64::MAX,
                publisher_nacks_sent: u64::MAX,
                packets_recovered: u64::MAX,
                packets_given_up: u64::MAX,
                publisher_transport_feedback_sent: u64::MAX,
                recent_keyframe_starts: u64::MAX,
            },
            bandwidth: BandwidthEstimates {
                viewers: u64::MAX,
                transport_cc_viewers: u64::MAX,
                min_bps: u64::MAX,
                median_bps: u64::MAX,
                max_bps: u64::MAX,
                sum_bps: u64::MAX,
            },
            layers: LayerStats {
                viewers: [u64::MAX; STATS_LAYERS],
                switches_up: u64::MAX,
                switches_down: u64::MAX,
            },
            runtime: RuntimeCounters {
                datagrams_in: u64::MAX,
                datagrams_out: u64::MAX,
                receive_completions: u64::MAX,
                receive_rearms: u64::MAX,
                receive_buffers_exhausted: u64::MAX,
                receive_truncated: u64::MAX,
                receive_errors: u64::MAX,
                send_sqes: u64::MAX,
                send_errors: u64::MAX,
                gso_sends: u64::MAX,
                gso_segments: u64::MAX,
                gso_fallbacks: u64::MAX,
                submit_syscalls: u64::MAX,
                sqes_submitted: u64::MAX,
                ring_full_drops: u64::MAX,
                messages_in: u64::MAX,
                control_requests: u64::MAX,
                preemptions: u64::MAX,
            },
            check_gaps_on_cpu: widest,
            check_gaps_off_cpu: widest,
        });
        let line = encode(&response);
        assert!(line.len() < 4096 && line.len() < MAX_LINE, "{}", line.len());
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(decode::<Response>(&line).unwrap(), response);
        let text = String::from_utf8(line).unwrap();
        assert!(text.starts_with("{\"type\":\"stats\",\"shard\":"), "{text}");
        assert!(text.contains("\"buckets\":[1,2,3,4,5,6,7,8,9]"), "{text}");
    }
}

//! The shard's figures as the control protocol carries them, for `Request::Stats`.

use shardcast_control::{CoreCounters, RuntimeCounters, ShardStats};

use super::{ShardCore, ShardCounters};
use crate::repair::RepairCounters;

impl ShardCore {
    pub(super) fn stats(&self) -> ShardStats {
        // Named field by field (no `..`), so a new counter cannot be left out by accident.
        let ShardCounters {
            datagrams_unknown_source,
            sessions_created,
            sessions_closed,
            media_packets_in,
            remote_packets_in,
            keyframe_requests_forwarded,
            media_packets_out,
            fanout_jobs_dropped,
            repair,
        } = self.counters();
        let RepairCounters {
            nacks_received,
            retransmissions_sent,
            retransmissions_missed,
            retransmissions_suppressed,
            retransmissions_dropped,
            publisher_nacks_sent,
            packets_recovered,
            packets_given_up,
        } = repair;
        ShardStats {
            shard: self.config.index,
            sessions: self.sessions.len(),
            session_timers: self.session_timer_lateness.snapshot(),
            probe: self.probe.lateness().snapshot(),
            probe_period_us: u64::try_from(self.probe.period().as_micros()).unwrap_or(u64::MAX),
            probe_skipped_periods: self.probe.skipped(),
            counters: CoreCounters {
                datagrams_unknown_source,
                sessions_created,
                sessions_closed,
                media_packets_in,
                remote_packets_in,
                keyframe_requests_forwarded,
                media_packets_out,
                fanout_jobs_dropped,
                nacks_received,
                retransmissions_sent,
                retransmissions_missed,
                retransmissions_suppressed,
                retransmissions_dropped,
                publisher_nacks_sent,
                packets_recovered,
                packets_given_up,
            },
            // The runtime's to fill in: the core sees no socket and no ring.
            runtime: RuntimeCounters::default(),
        }
    }
}

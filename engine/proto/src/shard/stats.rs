//! The shard's figures as the control protocol carries them, for `Request::Stats`.

use shardcast_control::{
    BandwidthEstimates, CoreCounters, LatenessHistogram, LayerStats, RuntimeCounters, STATS_LAYERS,
    ShardStats,
};

use super::{ShardCore, ShardCounters};
use crate::egress::LayerSwitches;
use crate::layers::MAX_LAYERS;
use crate::repair::RepairCounters;

const _: () = assert!(
    MAX_LAYERS <= STATS_LAYERS,
    "every layer has a place in the stats"
);

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
            publisher_transport_feedback_sent,
            layer_switches,
            recent_keyframe_starts,
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
                publisher_transport_feedback_sent,
                recent_keyframe_starts,
            },
            bandwidth: self.bandwidth_estimates(),
            layers: self.layer_stats(layer_switches),
            // The runtime's to fill in: the core sees no socket, no ring and no thread.
            runtime: RuntimeCounters::default(),
            check_gaps_on_cpu: LatenessHistogram::default(),
            check_gaps_off_cpu: LatenessHistogram::default(),
        }
    }

    /// Viewers per layer now, and the switches of viewers here and gone (`closed`).
    fn layer_stats(&self, closed: LayerSwitches) -> LayerStats {
        let mut stats = LayerStats {
            switches_up: closed.up,
            switches_down: closed.down,
            ..LayerStats::default()
        };
        for (layer, switches) in self.sessions.values().filter_map(|s| s.viewer_layer()) {
            if let Some(count) = layer.and_then(|l| stats.viewers.get_mut(usize::from(l))) {
                *count += 1;
            }
            stats.switches_up += switches.up;
            stats.switches_down += switches.down;
        }
        stats
    }

    /// The viewers' estimates now, summed up.
    fn bandwidth_estimates(&self) -> BandwidthEstimates {
        let mut transport_cc_viewers = 0;
        let mut estimates: Vec<u64> = Vec::new();
        for bandwidth in self.sessions.values().filter_map(|s| s.bandwidth()) {
            if let Some(bps) = bandwidth.estimate_bps() {
                estimates.push(bps);
                transport_cc_viewers += u64::from(bandwidth.transport_wide());
            }
        }
        summarise(&mut estimates, transport_cc_viewers)
    }
}

fn summarise(estimates: &mut [u64], transport_cc_viewers: u64) -> BandwidthEstimates {
    estimates.sort_unstable();
    let (Some(&min_bps), Some(&max_bps)) = (estimates.first(), estimates.last()) else {
        return BandwidthEstimates::default();
    };
    BandwidthEstimates {
        viewers: estimates.len() as u64,
        transport_cc_viewers,
        min_bps,
        median_bps: estimates[(estimates.len() - 1) / 2],
        max_bps,
        sum_bps: estimates
            .iter()
            .fold(0u64, |sum, &bps| sum.saturating_add(bps)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_estimates() {
        assert_eq!(summarise(&mut [], 0), BandwidthEstimates::default());
        let summary = summarise(&mut [3_000_000, 500_000, 1_000_000, 2_000_000], 3);
        assert_eq!(
            summary,
            BandwidthEstimates {
                viewers: 4,
                transport_cc_viewers: 3,
                min_bps: 500_000,
                median_bps: 1_000_000,
                max_bps: 3_000_000,
                sum_bps: 6_500_000,
            }
        );
    }
}

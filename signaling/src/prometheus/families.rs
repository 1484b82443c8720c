//! What /metrics exports besides timer lateness: each family's name, type and help, and
//! how its value is read from one shard's stats.

use shardcast_control::ShardStats;

use super::seconds;

/// A family with one sample per shard.
pub(super) struct PerShard {
    pub name: &'static str,
    pub kind: &'static str,
    pub help: &'static str,
    pub value: fn(&ShardStats) -> String,
}

pub(super) const PER_SHARD: [PerShard; 40] = [
    PerShard {
        name: "shardcast_timer_probe_period_seconds",
        kind: "gauge",
        help: "The period of the shard's timer probe.",
        value: |s| seconds(s.probe_period_us),
    },
    PerShard {
        name: "shardcast_timer_probe_skipped_periods_total",
        kind: "counter",
        help: "Probe deadlines passed over because the shard was a period or more behind.",
        value: |s| s.probe_skipped_periods.to_string(),
    },
    PerShard {
        name: "shardcast_shard_preemptions_total",
        kind: "counter",
        help: "Times another task took the shard thread's core while it could still run \
               (involuntary context switches). Each delays the shard's timers.",
        value: |s| s.runtime.preemptions.to_string(),
    },
    PerShard {
        name: "shardcast_sessions",
        kind: "gauge",
        help: "Sessions on the shard now.",
        value: |s| s.sessions.to_string(),
    },
    PerShard {
        name: "shardcast_datagrams_unknown_source_total",
        kind: "counter",
        help: "Datagrams from an address (or ICE ufrag) no session knows.",
        value: |s| s.counters.datagrams_unknown_source.to_string(),
    },
    PerShard {
        name: "shardcast_sessions_created_total",
        kind: "counter",
        help: "Sessions created.",
        value: |s| s.counters.sessions_created.to_string(),
    },
    PerShard {
        name: "shardcast_sessions_closed_total",
        kind: "counter",
        help: "Sessions closed, for any reason.",
        value: |s| s.counters.sessions_closed.to_string(),
    },
    PerShard {
        name: "shardcast_media_packets_in_total",
        kind: "counter",
        help: "RTP packets received from the shard's publishers.",
        value: |s| s.counters.media_packets_in.to_string(),
    },
    PerShard {
        name: "shardcast_remote_packets_in_total",
        kind: "counter",
        help: "Media packets received from other shards.",
        value: |s| s.counters.remote_packets_in.to_string(),
    },
    PerShard {
        name: "shardcast_keyframe_requests_forwarded_total",
        kind: "counter",
        help: "Viewers' keyframe requests sent on to the stream's home shard.",
        value: |s| s.counters.keyframe_requests_forwarded.to_string(),
    },
    PerShard {
        name: "shardcast_media_packets_out_total",
        kind: "counter",
        help: "Media datagrams written for the shard's viewers.",
        value: |s| s.counters.media_packets_out.to_string(),
    },
    PerShard {
        name: "shardcast_fanout_jobs_dropped_total",
        kind: "counter",
        help: "Packets some viewers never got because the shard's fan-out queue was full.",
        value: |s| s.counters.fanout_jobs_dropped.to_string(),
    },
    PerShard {
        name: "shardcast_nacks_received_total",
        kind: "counter",
        help: "Sequence numbers viewers asked for in NACKs. Each ends as one of \
               shardcast_retransmissions_{sent,missed,suppressed,dropped}_total (or still waits \
               in its viewer's paced queue).",
        value: |s| s.counters.nacks_received.to_string(),
    },
    PerShard {
        name: "shardcast_retransmissions_sent_total",
        kind: "counter",
        help: "Packets resent to viewers from the shard's RTX cache of their stream.",
        value: |s| s.counters.retransmissions_sent.to_string(),
    },
    PerShard {
        name: "shardcast_retransmissions_missed_total",
        kind: "counter",
        help: "NACKed packets that could not be resent: never sent to that viewer, or not in \
               the RTX cache (lost on the publisher's side too, or too old).",
        value: |s| s.counters.retransmissions_missed.to_string(),
    },
    PerShard {
        name: "shardcast_retransmissions_suppressed_total",
        kind: "counter",
        help: "NACKs not answered: the packet was resent to that viewer as often as allowed, or \
               less than a round trip ago.",
        value: |s| s.counters.retransmissions_suppressed.to_string(),
    },
    PerShard {
        name: "shardcast_retransmissions_dropped_total",
        kind: "counter",
        help: "Retransmissions dropped because the viewer's paced queue was full.",
        value: |s| s.counters.retransmissions_dropped.to_string(),
    },
    PerShard {
        name: "shardcast_publisher_nacks_sent_total",
        kind: "counter",
        help: "Sequence numbers the shard asked publishers for in NACKs (each retry counts).",
        value: |s| s.counters.publisher_nacks_sent.to_string(),
    },
    PerShard {
        name: "shardcast_publisher_transport_feedback_sent_total",
        kind: "counter",
        help: "Transport-wide congestion control feedback packets the shard sent publishers.",
        value: |s| s.counters.publisher_transport_feedback_sent.to_string(),
    },
    PerShard {
        name: "shardcast_recent_keyframe_starts_total",
        kind: "counter",
        help: "Viewers that started from a keyframe the shard had, without asking the publisher.",
        value: |s| s.counters.recent_keyframe_starts.to_string(),
    },
    PerShard {
        name: "shardcast_packets_recovered_total",
        kind: "counter",
        help: "Publisher packets that arrived after the shard NACKed them.",
        value: |s| s.counters.packets_recovered.to_string(),
    },
    PerShard {
        name: "shardcast_packets_given_up_total",
        kind: "counter",
        help: "Publisher packets the shard stopped asking for: NACKed too often, too old, or \
               too many missing at once.",
        value: |s| s.counters.packets_given_up.to_string(),
    },
    PerShard {
        name: "shardcast_datagrams_in_total",
        kind: "counter",
        help: "Datagrams the shard received and handed to its protocol core.",
        value: |s| s.runtime.datagrams_in.to_string(),
    },
    PerShard {
        name: "shardcast_datagrams_out_total",
        kind: "counter",
        help: "Datagrams the shard queued for sending. Divided by \
               shardcast_submit_syscalls_total: datagrams per submit.",
        value: |s| s.runtime.datagrams_out.to_string(),
    },
    PerShard {
        name: "shardcast_receive_completions_total",
        kind: "counter",
        help: "Completions of the shard's multishot receive: one per datagram, plus one each \
               time the receive ended.",
        value: |s| s.runtime.receive_completions.to_string(),
    },
    PerShard {
        name: "shardcast_receive_rearms_total",
        kind: "counter",
        help: "Times the multishot receive ended (receive buffers all in use, an error) and \
               was armed again.",
        value: |s| s.runtime.receive_rearms.to_string(),
    },
    PerShard {
        name: "shardcast_receive_buffers_exhausted_total",
        kind: "counter",
        help: "Times the multishot receive ended because every receive buffer was in use \
               (ENOBUFS). The datagrams wait in the socket's buffer meanwhile: not a drop \
               unless that overflows too.",
        value: |s| s.runtime.receive_buffers_exhausted.to_string(),
    },
    PerShard {
        name: "shardcast_send_sqes_total",
        kind: "counter",
        help: "Send operations queued on the shard's io_uring.",
        value: |s| s.runtime.send_sqes.to_string(),
    },
    PerShard {
        name: "shardcast_send_errors_total",
        kind: "counter",
        help: "Sends the kernel refused, or datagrams with an address the socket cannot use.",
        value: |s| s.runtime.send_errors.to_string(),
    },
    PerShard {
        name: "shardcast_gso_sends_total",
        kind: "counter",
        help: "Sends that carried a run of datagrams for one peer, cut by the kernel (UDP GSO).",
        value: |s| s.runtime.gso_sends.to_string(),
    },
    PerShard {
        name: "shardcast_gso_segments_total",
        kind: "counter",
        help: "Datagrams carried by GSO sends (also counted in shardcast_datagrams_out_total). \
               Divided by shardcast_gso_sends_total: datagrams per GSO send.",
        value: |s| s.runtime.gso_segments.to_string(),
    },
    PerShard {
        name: "shardcast_gso_fallbacks_total",
        kind: "counter",
        help: "GSO sends the kernel refused to segment. The first turns GSO off for the shard; \
               each refused run is sent again one datagram at a time.",
        value: |s| s.runtime.gso_fallbacks.to_string(),
    },
    PerShard {
        name: "shardcast_submit_syscalls_total",
        kind: "counter",
        help: "io_uring_enter calls the shard made, each submitting what was queued.",
        value: |s| s.runtime.submit_syscalls.to_string(),
    },
    PerShard {
        name: "shardcast_sqes_submitted_total",
        kind: "counter",
        help: "Submission queue entries the kernel took from the shard's io_uring.",
        value: |s| s.runtime.sqes_submitted.to_string(),
    },
    PerShard {
        name: "shardcast_shard_messages_in_total",
        kind: "counter",
        help: "Messages (media, keyframe requests) taken from other shards.",
        value: |s| s.runtime.messages_in.to_string(),
    },
    PerShard {
        name: "shardcast_shard_messages_dropped_total",
        kind: "counter",
        help: "Messages for another shard dropped because its ring was full.",
        value: |s| s.runtime.ring_full_drops.to_string(),
    },
    PerShard {
        name: "shardcast_control_requests_total",
        kind: "counter",
        help: "Requests from signaling the shard answered.",
        value: |s| s.runtime.control_requests.to_string(),
    },
    PerShard {
        name: "shardcast_viewers_bandwidth_estimated",
        kind: "gauge",
        help: "Viewers whose feedback or reports have informed a bandwidth estimate.",
        value: |s| s.bandwidth.viewers.to_string(),
    },
    PerShard {
        name: "shardcast_viewers_transport_cc",
        kind: "gauge",
        help: "Viewers estimated from transport-wide congestion control feedback (the others \
               from receiver reports' loss and REMB).",
        value: |s| s.bandwidth.transport_cc_viewers.to_string(),
    },
    PerShard {
        name: "shardcast_viewer_bandwidth_estimate_sum_bits_per_second",
        kind: "gauge",
        help: "The viewers' bandwidth estimates added up; divided by \
               shardcast_viewers_bandwidth_estimated, their mean.",
        value: |s| s.bandwidth.sum_bps.to_string(),
    },
];

pub(super) const RECEIVE_DROPS: &str = "shardcast_receive_drops_total";

/// One shard's count of something.
pub(super) type Count = fn(&ShardStats) -> u64;

/// The reasons a received datagram is dropped before the core sees it, and their counts.
pub(super) const RECEIVE_DROP_REASONS: [(&str, Count); 2] = [
    ("truncated", |s| s.runtime.receive_truncated),
    ("error", |s| s.runtime.receive_errors),
];

pub(super) const BANDWIDTH: &str = "shardcast_viewer_bandwidth_estimate_bits_per_second";

/// The figures of the viewers' bandwidth estimates, each a sample of [`BANDWIDTH`].
pub(super) const BANDWIDTH_STATS: [(&str, Count); 3] = [
    ("min", |s| s.bandwidth.min_bps),
    ("median", |s| s.bandwidth.median_bps),
    ("max", |s| s.bandwidth.max_bps),
];

pub(super) const LAYER_VIEWERS: &str = "shardcast_layer_viewers";

pub(super) const LAYER_SWITCHES: &str = "shardcast_layer_switches_total";

/// The directions of a simulcast layer switch, and their counts.
pub(super) const SWITCH_DIRECTIONS: [(&str, Count); 2] = [
    ("up", |s| s.layers.switches_up),
    ("down", |s| s.layers.switches_down),
];

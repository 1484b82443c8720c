//! Per-shard counters: written by the shard thread only, readable from anywhere (logs, tests,
//! the control protocol's stats). What each one counts is documented on
//! [`RuntimeCounters`], the form they leave the shard in.

use std::sync::atomic::{AtomicU64, Ordering};

pub use shardcast_control::RuntimeCounters;

#[derive(Default)]
pub struct ShardCounters {
    datagrams_in: AtomicU64,
    datagrams_out: AtomicU64,
    receive_completions: AtomicU64,
    receive_rearms: AtomicU64,
    receive_buffers_exhausted: AtomicU64,
    receive_truncated: AtomicU64,
    receive_errors: AtomicU64,
    send_sqes: AtomicU64,
    send_errors: AtomicU64,
    gso_sends: AtomicU64,
    gso_segments: AtomicU64,
    gso_fallbacks: AtomicU64,
    submit_syscalls: AtomicU64,
    sqes_submitted: AtomicU64,
    ring_full_drops: AtomicU64,
    messages_in: AtomicU64,
    control_requests: AtomicU64,
}

/// Which counter to bump; keeps the call sites short and the fields private.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    DatagramsIn,
    DatagramsOut,
    ReceiveCompletions,
    ReceiveRearms,
    ReceiveBuffersExhausted,
    ReceiveTruncated,
    ReceiveErrors,
    SendSqes,
    SendErrors,
    GsoSends,
    GsoSegments,
    GsoFallbacks,
    SubmitSyscalls,
    SqesSubmitted,
    RingFullDrops,
    MessagesIn,
    ControlRequests,
}

impl ShardCounters {
    /// Only the shard's own thread may call this.
    pub fn add(&self, counter: Counter, amount: u64) {
        let field = match counter {
            Counter::DatagramsIn => &self.datagrams_in,
            Counter::DatagramsOut => &self.datagrams_out,
            Counter::ReceiveCompletions => &self.receive_completions,
            Counter::ReceiveRearms => &self.receive_rearms,
            Counter::ReceiveBuffersExhausted => &self.receive_buffers_exhausted,
            Counter::ReceiveTruncated => &self.receive_truncated,
            Counter::ReceiveErrors => &self.receive_errors,
            Counter::SendSqes => &self.send_sqes,
            Counter::SendErrors => &self.send_errors,
            Counter::GsoSends => &self.gso_sends,
            Counter::GsoSegments => &self.gso_segments,
            Counter::GsoFallbacks => &self.gso_fallbacks,
            Counter::SubmitSyscalls => &self.submit_syscalls,
            Counter::SqesSubmitted => &self.sqes_submitted,
            Counter::RingFullDrops => &self.ring_full_drops,
            Counter::MessagesIn => &self.messages_in,
            Counter::ControlRequests => &self.control_requests,
        };
        // One writer, so a plain load and store cannot lose an update, and they cost no locked
        // instruction on the per-packet path. Relaxed: each counter is a standalone statistic.
        let value = field.load(Ordering::Relaxed).wrapping_add(amount);
        field.store(value, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> RuntimeCounters {
        let read = |field: &AtomicU64| field.load(Ordering::Relaxed);
        RuntimeCounters {
            datagrams_in: read(&self.datagrams_in),
            datagrams_out: read(&self.datagrams_out),
            receive_completions: read(&self.receive_completions),
            receive_rearms: read(&self.receive_rearms),
            receive_buffers_exhausted: read(&self.receive_buffers_exhausted),
            receive_truncated: read(&self.receive_truncated),
            receive_errors: read(&self.receive_errors),
            send_sqes: read(&self.send_sqes),
            send_errors: read(&self.send_errors),
            gso_sends: read(&self.gso_sends),
            gso_segments: read(&self.gso_segments),
            gso_fallbacks: read(&self.gso_fallbacks),
            submit_syscalls: read(&self.submit_syscalls),
            sqes_submitted: read(&self.sqes_submitted),
            ring_full_drops: read(&self.ring_full_drops),
            messages_in: read(&self.messages_in),
            control_requests: read(&self.control_requests),
            // The kernel keeps this count; only the shard's thread can read its own.
            preemptions: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_lands_in_its_own_field() {
        use Counter::*;
        let counters = ShardCounters::default();
        let all = [
            DatagramsIn,
            DatagramsOut,
            ReceiveCompletions,
            ReceiveRearms,
            ReceiveBuffersExhausted,
            ReceiveTruncated,
            ReceiveErrors,
            SendSqes,
            SendErrors,
            GsoSends,
            GsoSegments,
            GsoFallbacks,
            SubmitSyscalls,
            SqesSubmitted,
            RingFullDrops,
            MessagesIn,
            ControlRequests,
        ];
        // Counter `i` gets 1 << i, once as two halves where it can, so adds accumulate.
        for (shift, counter) in all.into_iter().enumerate() {
            let amount = 1u64 << shift;
            counters.add(counter, amount / 2);
            counters.add(counter, amount - amount / 2);
        }
        let expected = RuntimeCounters {
            datagrams_in: 1,
            datagrams_out: 1 << 1,
            receive_completions: 1 << 2,
            receive_rearms: 1 << 3,
            receive_buffers_exhausted: 1 << 4,
            receive_truncated: 1 << 5,
            receive_errors: 1 << 6,
            send_sqes: 1 << 7,
            send_errors: 1 << 8,
            gso_sends: 1 << 9,
            gso_segments: 1 << 10,
            gso_fallbacks: 1 << 11,
            submit_syscalls: 1 << 12,
            sqes_submitted: 1 << 13,
            ring_full_drops: 1 << 14,
            messages_in: 1 << 15,
            control_requests: 1 << 16,
            preemptions: 0,
        };
        assert_eq!(counters.snapshot(), expected);
    }
}

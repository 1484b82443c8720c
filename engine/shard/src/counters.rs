//! Per-shard counters: written by the shard thread only, readable from anywhere (logs, tests).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct ShardCounters {
    datagrams_in: AtomicU64,
    datagrams_out: AtomicU64,
    /// Receives that failed, were truncated or came from a non-IP source.
    receive_errors: AtomicU64,
    /// Sends the kernel refused, or that had no address this socket can reach (or a source
    /// address of the other family).
    send_errors: AtomicU64,
    /// Messages for another shard dropped because its ring was full (or the shard was unknown).
    ring_full_drops: AtomicU64,
    messages_in: AtomicU64,
    control_requests: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub receive_errors: u64,
    pub send_errors: u64,
    pub ring_full_drops: u64,
    pub messages_in: u64,
    pub control_requests: u64,
}

/// Which counter to bump; keeps the call sites short and the fields private.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    DatagramsIn,
    DatagramsOut,
    ReceiveErrors,
    SendErrors,
    RingFullDrops,
    MessagesIn,
    ControlRequests,
}

impl ShardCounters {
    pub fn add(&self, counter: Counter, amount: u64) {
        let field = match counter {
            Counter::DatagramsIn => &self.datagrams_in,
            Counter::DatagramsOut => &self.datagrams_out,
            Counter::ReceiveErrors => &self.receive_errors,
            Counter::SendErrors => &self.send_errors,
            Counter::RingFullDrops => &self.ring_full_drops,
            Counter::MessagesIn => &self.messages_in,
            Counter::ControlRequests => &self.control_requests,
        };
        // Relaxed: each counter is a standalone statistic, ordered with nothing else.
        field.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let read = |field: &AtomicU64| field.load(Ordering::Relaxed);
        CounterSnapshot {
            datagrams_in: read(&self.datagrams_in),
            datagrams_out: read(&self.datagrams_out),
            receive_errors: read(&self.receive_errors),
            send_errors: read(&self.send_errors),
            ring_full_drops: read(&self.ring_full_drops),
            messages_in: read(&self.messages_in),
            control_requests: read(&self.control_requests),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_lands_in_its_own_field() {
        let counters = ShardCounters::default();
        counters.add(Counter::DatagramsIn, 3);
        counters.add(Counter::SendErrors, 1);
        counters.add(Counter::DatagramsIn, 2);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.datagrams_in, 5);
        assert_eq!(snapshot.send_errors, 1);
        assert_eq!(snapshot.datagrams_out, 0);
        assert_eq!(snapshot.ring_full_drops, 0);
    }
}

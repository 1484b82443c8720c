//! What loss repair counted, in both directions: viewers' NACKs answered from the shard's
//! RTX caches, and the shard's own NACKs to publishers.
//!
//! Every sequence number a viewer NACKs ends in exactly one of `retransmissions_sent`,
//! `retransmissions_missed`, `retransmissions_suppressed` and `retransmissions_dropped`, or
//! still waits in its viewer's paced queue.

use std::ops::AddAssign;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RepairCounters {
    /// Sequence numbers viewers asked for in NACKs.
    pub nacks_received: u64,
    /// Packets resent to viewers (RTX or plain).
    pub retransmissions_sent: u64,
    /// NACKed packets we could not resend: never sent to that viewer, or not in the cache
    /// (lost on the publisher's side too, or too old).
    pub retransmissions_missed: u64,
    /// NACKs not answered because the packet was resent to that viewer as often as allowed,
    /// or less than a round trip ago.
    pub retransmissions_suppressed: u64,
    /// Retransmissions dropped from a viewer's paced queue because it was full.
    pub retransmissions_dropped: u64,
    /// Sequence numbers asked of publishers (a retry counts again).
    pub publisher_nacks_sent: u64,
    /// Publisher packets that arrived after we NACKed them.
    pub packets_recovered: u64,
    /// Publisher packets we stopped asking for: too many NACKs, too old, or too many missing.
    pub packets_given_up: u64,
}

impl AddAssign for RepairCounters {
    fn add_assign(&mut self, other: Self) {
        // Named field by field (no `..`), so a new counter cannot be left out by accident.
        let Self {
            nacks_received,
            retransmissions_sent,
            retransmissions_missed,
            retransmissions_suppressed,
            retransmissions_dropped,
            publisher_nacks_sent,
            packets_recovered,
            packets_given_up,
        } = other;
        self.nacks_received += nacks_received;
        self.retransmissions_sent += retransmissions_sent;
        self.retransmissions_missed += retransmissions_missed;
        self.retransmissions_suppressed += retransmissions_suppressed;
        self.retransmissions_dropped += retransmissions_dropped;
        self.publisher_nacks_sent += publisher_nacks_sent;
        self.packets_recovered += packets_recovered;
        self.packets_given_up += packets_given_up;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_adds_every_field() {
        let one = RepairCounters {
            nacks_received: 1,
            retransmissions_sent: 2,
            retransmissions_missed: 3,
            retransmissions_suppressed: 4,
            retransmissions_dropped: 5,
            publisher_nacks_sent: 6,
            packets_recovered: 7,
            packets_given_up: 8,
        };
        let mut sum = one;
        sum += one;
        assert_eq!(
            sum,
            RepairCounters {
                nacks_received: 2,
                retransmissions_sent: 4,
                retransmissions_missed: 6,
                retransmissions_suppressed: 8,
                retransmissions_dropped: 10,
                publisher_nacks_sent: 12,
                packets_recovered: 14,
                packets_given_up: 16,
            }
        );
    }
}

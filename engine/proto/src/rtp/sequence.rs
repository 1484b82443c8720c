//! Extending 16-bit sequence numbers and 32-bit timestamps to 64 bits (RFC 3550 A.1).
//!
//! Each new value is placed at the extension closest to the highest one seen so far, so
//! wrap-around moves forward and late (reordered) packets land just below the highest. The
//! first value is placed one cycle up, so a packet that arrives late right after the first
//! one still gets a smaller extended value instead of underflowing.

/// True when sequence number `seq` comes after `than` (RFC 3550 serial order: within half
/// the 16-bit space).
pub fn is_newer_seq(seq: u16, than: u16) -> bool {
    (seq.wrapping_sub(than) as i16) > 0
}

/// True when timestamp `ts` comes after `than`, within half the 32-bit space.
pub fn is_newer_ts(ts: u32, than: u32) -> bool {
    (ts.wrapping_sub(than) as i32) > 0
}

/// Extends RTP sequence numbers to a monotonic `u64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequenceUnwrapper {
    highest: Option<u64>,
}

impl SequenceUnwrapper {
    pub fn new() -> Self {
        Self::default()
    }

    /// The extended value of `seq`; advances the highest value seen when `seq` is newer.
    pub fn unwrap(&mut self, seq: u16) -> u64 {
        let extended = self.peek(seq);
        if self.highest.is_none_or(|highest| extended > highest) {
            self.highest = Some(extended);
        }
        extended
    }

    /// The extended value `seq` would get, without recording it.
    pub fn peek(&self, seq: u16) -> u64 {
        match self.highest {
            None => (1 << 16) | u64::from(seq),
            Some(highest) => {
                let delta = i64::from(seq.wrapping_sub(highest as u16) as i16);
                highest.saturating_add_signed(delta)
            }
        }
    }

    /// The highest extended sequence number seen so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// Extends RTP timestamps to a monotonic `u64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimestampUnwrapper {
    highest: Option<u64>,
}

impl TimestampUnwrapper {
    pub fn new() -> Self {
        Self::default()
    }

    /// The extended value of `ts`; advances the highest value seen when `ts` is newer.
    pub fn unwrap(&mut self, ts: u32) -> u64 {
        let extended = self.peek(ts);
        if self.highest.is_none_or(|highest| extended > highest) {
            self.highest = Some(extended);
        }
        extended
    }

    /// The extended value `ts` would get, without recording it.
    pub fn peek(&self, ts: u32) -> u64 {
        match self.highest {
            None => (1 << 32) | u64::from(ts),
            Some(highest) => {
                let delta = i64::from(ts.wrapping_sub(highest as u32) as i32);
                highest.saturating_add_signed(delta)
            }
        }
    }

    /// The highest extended timestamp seen so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_moves_forward_across_wrap() {
        let mut unwrapper = SequenceUnwrapper::new();
        let start = unwrapper.unwrap(65534);
        assert_eq!(unwrapper.unwrap(65535), start + 1);
        assert_eq!(unwrapper.unwrap(0), start + 2);
        assert_eq!(unwrapper.unwrap(1), start + 3);
        assert_eq!(unwrapper.highest(), Some(start + 3));
        assert_eq!(unwrapper.unwrap(1) & 0xffff, 1);
    }

    #[test]
    fn sequence_reordering_maps_below_highest() {
        let mut unwrapper = SequenceUnwrapper::new();
        let first = unwrapper.unwrap(2);
        assert_eq!(unwrapper.unwrap(65533), first - 5);
        assert_eq!(unwrapper.highest(), Some(first));
        assert_eq!(unwrapper.unwrap(3), first + 1);
        assert_eq!(unwrapper.peek(65534), first - 4);
    }

    #[test]
    fn sequence_large_jump_forward_is_taken() {
        let mut unwrapper = SequenceUnwrapper::new();
        let first = unwrapper.unwrap(0);
        assert_eq!(unwrapper.unwrap(30000), first + 30000);
        assert_eq!(unwrapper.unwrap(60000), first + 60000);
        assert_eq!(unwrapper.unwrap(10), first + 65546);
    }

    #[test]
    fn timestamp_moves_forward_across_wrap() {
        let mut unwrapper = TimestampUnwrapper::new();
        let start = unwrapper.unwrap(u32::MAX - 1000);
        assert_eq!(unwrapper.unwrap(2000), start + 3001);
        assert_eq!(unwrapper.unwrap(u32::MAX), start + 1000);
        assert_eq!(unwrapper.highest(), Some(start + 3001));
    }
}

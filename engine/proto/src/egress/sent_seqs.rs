//! Which of a track's latest sequence numbers have gone out. A joiner started from the
//! route's recent packets can be offered some of them again by the fan-out (they were still
//! queued for it); the second copy is dropped here rather than sent twice.

/// Sequence numbers tracked behind the newest one.
const WINDOW: u16 = 128;

#[derive(Debug, Default, Clone, Copy)]
pub struct SentSeqs {
    newest: Option<u16>,
    /// Bit i: `newest - i` went out.
    bits: u128,
}

impl SentSeqs {
    /// True when `seq` went out already (as far as the window reaches).
    pub fn contains(&self, seq: u16) -> bool {
        let Some(newest) = self.newest else {
            return false;
        };
        let behind = newest.wrapping_sub(seq);
        behind < WINDOW && self.bits & (1 << behind) != 0
    }

    pub fn insert(&mut self, seq: u16) {
        let Some(newest) = self.newest else {
            self.newest = Some(seq);
            self.bits = 1;
            return;
        };
        let ahead = seq.wrapping_sub(newest);
        if ahead != 0 && ahead < u16::MAX / 2 {
            self.bits = self.bits.checked_shl(u32::from(ahead)).unwrap_or(0) | 1;
            self.newest = Some(seq);
            return;
        }
        let behind = newest.wrapping_sub(seq);
        if behind < WINDOW {
            self.bits |= 1 << behind;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_what_went_out_within_the_window_across_the_wrap() {
        let mut sent = SentSeqs::default();
        assert!(!sent.contains(0));
        sent.insert(65_534);
        sent.insert(1);
        sent.insert(65_535);
        assert!(sent.contains(65_534) && sent.contains(65_535) && sent.contains(1));
        assert!(!sent.contains(0) && !sent.contains(2));
        // A packet filling the gap late is not a duplicate until it has gone out.
        sent.insert(0);
        assert!(sent.contains(0));
        // Far behind the newest: forgotten, so never held back.
        sent.insert(1 + 200);
        assert!(!sent.contains(1));
        sent.insert(1 + 200 - 127);
        assert!(sent.contains(1 + 200 - 127));
    }
}

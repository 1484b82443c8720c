//! Replay protection (RFC 3711 section 3.3.2): which of the most recent indices already arrived,
//! as a fixed bit window so the check never allocates.

use super::SrtpError;

/// A sliding window of `64 * WORDS` packet indices ending at the highest accepted one.
#[derive(Debug, Clone)]
pub(super) struct ReplayWindow<const WORDS: usize> {
    highest: u64,
    /// Bit `age` (word `age / 64`, bit `age % 64`) is set once index `highest - age` was accepted.
    seen: [u64; WORDS],
}

impl<const WORDS: usize> ReplayWindow<WORDS> {
    const SIZE: u64 = 64 * WORDS as u64;

    /// A window whose first accepted packet is `index`.
    pub(super) fn new(index: u64) -> Self {
        let mut seen = [0; WORDS];
        seen[0] = 1;
        Self {
            highest: index,
            seen,
        }
    }

    /// The highest index accepted so far; for RTP its top 32 bits are the rollover counter.
    pub(super) fn highest(&self) -> u64 {
        self.highest
    }

    /// Fails when `index` was accepted before or is too old to tell.
    pub(super) fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.highest {
            return Ok(());
        }
        let age = self.highest - index;
        if age >= Self::SIZE || self.is_seen(age) {
            return Err(SrtpError::Replay);
        }
        Ok(())
    }

    /// Records `index`, which passed [`check`](Self::check) and authentication.
    pub(super) fn accept(&mut self, index: u64) {
        if index > self.highest {
            self.age_by(index - self.highest);
            self.highest = index;
            self.seen[0] |= 1;
        } else {
            let age = self.highest - index;
            self.seen[(age / 64) as usize] |= 1 << (age % 64);
        }
    }

    fn is_seen(&self, age: u64) -> bool {
        self.seen[(age / 64) as usize] & (1 << (age % 64)) != 0
    }

    /// Every recorded index gets `by` older: bit `age` moves to `age + by`.
    fn age_by(&mut self, by: u64) {
        if by >= Self::SIZE {
            self.seen = [0; WORDS];
            return;
        }
        let words = (by / 64) as usize;
        let bits = (by % 64) as u32;
        // From the top down, so each word reads sources that are not yet overwritten.
        for target in (0..WORDS).rev() {
            let shifted = target
                .checked_sub(words)
                .map_or(0, |source| self.seen[source] << bits);
            let carried = match target.checked_sub(words + 1) {
                Some(source) if bits > 0 => self.seen[source] >> (64 - bits),
                _ => 0,
            };
            self.seen[target] = shifted | carried;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Window = ReplayWindow<8>;

    fn accept(window: &mut Window, index: u64) {
        window.check(index).unwrap();
        window.accept(index);
    }

    #[test]
    fn the_first_index_counts_as_seen() {
        let window = Window::new(1000);
        assert!(window.check(1000).is_err());
        assert!(window.check(999).is_ok());
        assert!(window.check(1001).is_ok());
    }

    #[test]
    fn repeats_are_refused_in_and_out_of_order() {
        let mut window = Window::new(10);
        for index in [12, 11, 15, 13] {
            accept(&mut window, index);
        }
        for index in [10, 11, 12, 13, 15] {
            assert!(window.check(index).is_err(), "{index}");
        }
        assert!(window.check(14).is_ok());
    }

    #[test]
    fn remembers_across_word_boundaries() {
        let mut window = Window::new(0);
        for index in (1..600).step_by(3) {
            accept(&mut window, index);
        }
        let highest = window.highest();
        for age in 0..512 {
            let index = highest - age;
            assert_eq!(window.check(index).is_err(), index % 3 == 1, "{index}");
        }
        assert!(
            window.check(highest - 512).is_err(),
            "older than the window"
        );
    }

    #[test]
    fn a_big_jump_forgets_everything_behind_the_window() {
        let mut window = Window::new(5);
        accept(&mut window, 5 + 70);
        assert!(window.check(5).is_err());
        accept(&mut window, 5 + 70 + 1000);
        assert!(window.check(5 + 70 + 1000 - 511).is_ok());
        assert!(window.check(5 + 70).is_err());
    }
}

//! Per-SSRC state in one direction, bounded: a session carries a handful of SSRCs (audio, video,
//! their retransmissions), and a peer spraying random ones must not grow our memory.

use super::SrtpError;

/// SSRCs one table tracks at most.
pub(super) const MAX_SSRCS: usize = 64;

/// A small map searched linearly; the SSRCs sit apart from the states so a search reads a few
/// cache lines. It allocates only when it meets a new SSRC.
#[derive(Debug)]
pub(super) struct SsrcTable<T> {
    ssrcs: Vec<u32>,
    states: Vec<T>,
}

impl<T> SsrcTable<T> {
    pub(super) fn new() -> Self {
        Self {
            ssrcs: Vec::new(),
            states: Vec::new(),
        }
    }

    pub(super) fn get(&self, ssrc: u32) -> Option<&T> {
        let position = self.ssrcs.iter().position(|&known| known == ssrc)?;
        self.states.get(position)
    }

    pub(super) fn get_mut(&mut self, ssrc: u32) -> Option<&mut T> {
        let position = self.ssrcs.iter().position(|&known| known == ssrc)?;
        self.states.get_mut(position)
    }

    /// Fails when a new SSRC would not fit.
    pub(super) fn check_room(&self) -> Result<(), SrtpError> {
        if self.ssrcs.len() < MAX_SSRCS {
            Ok(())
        } else {
            Err(SrtpError::TooManySsrcs)
        }
    }

    /// Adds an SSRC the table does not hold yet.
    pub(super) fn insert(&mut self, ssrc: u32, state: T) -> Result<(), SrtpError> {
        self.check_room()?;
        self.ssrcs.push(ssrc);
        self.states.push(state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_holds_and_stops_at_the_limit() {
        let mut table = SsrcTable::new();
        for ssrc in 0..MAX_SSRCS as u32 {
            table.insert(ssrc * 7, ssrc).unwrap();
        }
        assert_eq!(table.get(21), Some(&3));
        *table.get_mut(21).unwrap() += 1;
        assert_eq!(table.get(21), Some(&4));
        assert_eq!(table.get(22), None);
        assert!(matches!(table.check_room(), Err(SrtpError::TooManySsrcs)));
        assert!(table.insert(1, 0).is_err());
    }
}

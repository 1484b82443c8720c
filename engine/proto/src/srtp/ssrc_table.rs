//! Per-SSRC state in one direction, bounded: a session carries a handful of SSRCs (audio, video,
//! their retransmissions), and a peer spraying random ones must not grow our memory.

use super::SrtpError;

/// SSRCs one table tracks at most.
pub(super) const MAX_SSRCS: usize = 64;

/// SSRCs kept in the table itself; the rest go to the heap.
const NEAR: usize = 4;

/// A small map searched linearly. A session's usual handful of SSRCs sits in the table
/// itself, so finding one costs no pointer chase: the fan-out looks one up for every packet
/// to every viewer, and each viewer's state is cold by the time its turn comes. It allocates
/// only for SSRCs past those.
#[derive(Debug)]
pub(super) struct SsrcTable<T> {
    near_ssrcs: [u32; NEAR],
    near_states: [Option<T>; NEAR],
    near_len: usize,
    far_ssrcs: Vec<u32>,
    far_states: Vec<T>,
}

impl<T> SsrcTable<T> {
    pub(super) fn new() -> Self {
        Self {
            near_ssrcs: [0; NEAR],
            near_states: std::array::from_fn(|_| None),
            near_len: 0,
            far_ssrcs: Vec::new(),
            far_states: Vec::new(),
        }
    }

    pub(super) fn get(&self, ssrc: u32) -> Option<&T> {
        match self.near_position(ssrc) {
            Some(position) => self.near_states[position].as_ref(),
            None => {
                let position = self.far_ssrcs.iter().position(|&known| known == ssrc)?;
                self.far_states.get(position)
            }
        }
    }

    pub(super) fn get_mut(&mut self, ssrc: u32) -> Option<&mut T> {
        match self.near_position(ssrc) {
            Some(position) => self.near_states[position].as_mut(),
            None => {
                let position = self.far_ssrcs.iter().position(|&known| known == ssrc)?;
                self.far_states.get_mut(position)
            }
        }
    }

    /// Fails when a new SSRC would not fit.
    pub(super) fn check_room(&self) -> Result<(), SrtpError> {
        if self.near_len + self.far_ssrcs.len() < MAX_SSRCS {
            Ok(())
        } else {
            Err(SrtpError::TooManySsrcs)
        }
    }

    /// Adds an SSRC the table does not hold yet.
    pub(super) fn insert(&mut self, ssrc: u32, state: T) -> Result<(), SrtpError> {
        self.check_room()?;
        if self.near_len < NEAR {
            self.near_ssrcs[self.near_len] = ssrc;
            self.near_states[self.near_len] = Some(state);
            self.near_len += 1;
        } else {
            self.far_ssrcs.push(ssrc);
            self.far_states.push(state);
        }
        Ok(())
    }

    fn near_position(&self, ssrc: u32) -> Option<usize> {
        self.near_ssrcs[..self.near_len]
            .iter()
            .position(|&known| known == ssrc)
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
        // Past the ones the table keeps in itself.
        assert_eq!(table.get(70), Some(&10));
        *table.get_mut(70).unwrap() += 1;
        assert_eq!(table.get(70), Some(&11));
        assert_eq!(table.get(0), Some(&0));
        assert!(matches!(table.check_room(), Err(SrtpError::TooManySsrcs)));
        assert!(table.insert(1, 0).is_err());
    }
}

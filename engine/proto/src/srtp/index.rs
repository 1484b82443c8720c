//! The 48-bit SRTP packet index, ROC || SEQ: the rollover counter (ROC) is never sent, so each
//! side estimates it from the 16-bit sequence number and the highest index seen so far
//! (RFC 3711 section 3.3.1).

use super::SrtpError;

const HALF_SEQUENCE_SPACE: i64 = 1 << 15;

/// The index `seq` most likely stands for, given `highest`, the highest index of the stream so
/// far. A packet up to half the sequence space behind counts as reordered, one further ahead as
/// the next roll-over.
///
/// Errors: [`SrtpError::Replay`] when the guess falls before index 0 (a packet older than the
/// stream's first), [`SrtpError::KeyExhausted`] when it passes 2^48.
pub(super) fn estimate_index(highest: u64, seq: u16) -> Result<u64, SrtpError> {
    let rollover = (highest >> 16) as i64;
    let highest_seq = i64::from(highest as u16);
    let seq_value = i64::from(seq);
    let guessed_rollover = if highest_seq < HALF_SEQUENCE_SPACE {
        if seq_value - highest_seq > HALF_SEQUENCE_SPACE {
            rollover - 1
        } else {
            rollover
        }
    } else if highest_seq - HALF_SEQUENCE_SPACE > seq_value {
        rollover + 1
    } else {
        rollover
    };
    let guessed_rollover = u32::try_from(guessed_rollover).map_err(|_| {
        if guessed_rollover < 0 {
            SrtpError::Replay
        } else {
            SrtpError::KeyExhausted
        }
    })?;
    Ok(u64::from(guessed_rollover) << 16 | u64::from(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROC_1: u64 = 1 << 16;

    #[test]
    fn follows_the_sequence_number_inside_one_roll() {
        assert_eq!(estimate_index(100, 101).unwrap(), 101);
        assert_eq!(estimate_index(100, 90).unwrap(), 90);
        assert_eq!(estimate_index(ROC_1 + 5, 7).unwrap(), ROC_1 + 7);
    }

    #[test]
    fn moves_to_the_next_roll_after_65535() {
        assert_eq!(estimate_index(65535, 0).unwrap(), ROC_1);
        assert_eq!(estimate_index(65000, 200).unwrap(), ROC_1 + 200);
    }

    #[test]
    fn keeps_late_packets_in_the_previous_roll() {
        assert_eq!(estimate_index(ROC_1 + 2, 65534).unwrap(), 65534);
        assert_eq!(estimate_index(ROC_1 + 300, 65000).unwrap(), 65000);
    }

    #[test]
    fn breaks_ties_at_half_the_space_as_rfc_3711_does() {
        assert_eq!(estimate_index(0, 0x8000).unwrap(), 0x8000);
        assert_eq!(estimate_index(0x8000, 0).unwrap(), 0);
        assert_eq!(estimate_index(0x8001, 0).unwrap(), ROC_1);
    }

    #[test]
    fn refuses_indices_outside_48_bits() {
        assert!(matches!(estimate_index(5, 65530), Err(SrtpError::Replay)));
        let last_roll = u64::from(u32::MAX) << 16;
        assert_eq!(estimate_index(last_roll | 10, 11).unwrap(), last_roll | 11);
        assert!(matches!(
            estimate_index(last_roll | 65535, 0),
            Err(SrtpError::KeyExhausted)
        ));
    }
}

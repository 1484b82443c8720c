//! NTP timestamps as RTCP uses them (RFC 3550 4): 64-bit for sender reports, the middle 32
//! bits ("compact", 16.16 fixed point seconds) for LSR and DLSR in report blocks.

use std::time::Duration;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const UNIX_EPOCH_IN_NTP_SECONDS: u64 = 2_208_988_800;

/// Converts microseconds since the Unix epoch to a 64-bit NTP timestamp.
pub fn ntp_from_unix_micros(micros: u64) -> u64 {
    let seconds = micros / 1_000_000 + UNIX_EPOCH_IN_NTP_SECONDS;
    let fraction = ((micros % 1_000_000) << 32) / 1_000_000;
    (seconds << 32) | fraction
}

/// The middle 32 bits of an NTP timestamp, as carried in a report block's LSR field.
pub fn compact_ntp(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration in compact NTP units (1/65536 s), as carried in DLSR; saturates.
pub fn compact_from_duration(duration: Duration) -> u32 {
    let units = duration.as_micros() * 65_536 / 1_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// A compact NTP value (for example `arrival - lsr - dlsr`, the round trip) as a duration.
pub fn duration_from_compact(compact: u32) -> Duration {
    Duration::from_micros(u64::from(compact) * 1_000_000 / 65_536)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_unix_time_to_ntp() {
        assert_eq!(ntp_from_unix_micros(0), UNIX_EPOCH_IN_NTP_SECONDS << 32);
        let half_second_later = ntp_from_unix_micros(1_500_000);
        assert_eq!(half_second_later >> 32, UNIX_EPOCH_IN_NTP_SECONDS + 1);
        assert_eq!(half_second_later as u32, 1 << 31);
    }

    #[test]
    fn compact_form_keeps_middle_bits() {
        assert_eq!(compact_ntp(0x1122_3344_5566_7788), 0x3344_5566);
        let ntp = ntp_from_unix_micros(1_250_000);
        assert_eq!(compact_ntp(ntp) & 0xffff, 0x4000);
    }

    #[test]
    fn round_trip_time_from_compact_arithmetic() {
        let sent = compact_ntp(ntp_from_unix_micros(10_000_000));
        let arrived = compact_ntp(ntp_from_unix_micros(10_300_000));
        let held = compact_from_duration(Duration::from_millis(200));
        let rtt = duration_from_compact(arrived.wrapping_sub(sent).wrapping_sub(held));
        let error = rtt.abs_diff(Duration::from_millis(100));
        assert!(error < Duration::from_micros(50), "rtt {rtt:?}");
        assert_eq!(
            compact_from_duration(Duration::from_secs(1 << 20)),
            u32::MAX
        );
    }
}

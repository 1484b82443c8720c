//! A track's MID as its RTP header extension carries it. Every packet to every viewer writes
//! it, so it lives in the track itself when short (browsers number their m-lines: "0", "1")
//! rather than behind a `String`'s pointer, a cold line of its own each time the fan-out
//! comes by.

/// Longest MID kept inline: the most a one-byte extension element holds.
const INLINE: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MidValue {
    Inline {
        bytes: [u8; INLINE],
        len: u8,
    },
    /// Longer MIDs go out in two-byte extension elements, up to 255 bytes.
    Heap(Box<[u8]>),
}

impl MidValue {
    pub(super) fn new(mid: &str) -> Self {
        let mut bytes = [0u8; INLINE];
        match (bytes.get_mut(..mid.len()), u8::try_from(mid.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(mid.as_bytes());
                Self::Inline { bytes, len }
            }
            _ => Self::Heap(mid.as_bytes().into()),
        }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { bytes, len } => &bytes[..usize::from(*len)],
            Self::Heap(bytes) => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_mids_stay_inline_and_every_mid_reads_back_whole() {
        for mid in ["", "0", "12", "audio", "0123456789abcdef"] {
            let value = MidValue::new(mid);
            assert!(matches!(value, MidValue::Inline { .. }), "{mid:?}");
            assert_eq!(value.as_bytes(), mid.as_bytes());
        }
        let long = "0123456789abcdefg";
        let value = MidValue::new(long);
        assert!(matches!(value, MidValue::Heap(_)));
        assert_eq!(value.as_bytes(), long.as_bytes());
    }
}

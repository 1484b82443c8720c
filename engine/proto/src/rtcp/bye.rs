//! BYE packets (RFC 3550 6.6) and the SSRC list shared with REMB.

use super::{MAX_COUNT, PT_BYE, RtcpError, begin_packet, finish_packet};

/// A list of SSRCs borrowed from a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcList<'a> {
    rest: &'a [u8],
}

impl<'a> SsrcList<'a> {
    pub(super) fn new(list: &'a [u8]) -> Self {
        Self { rest: list }
    }
}

impl Iterator for SsrcList<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (ssrc, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_be_bytes(*ssrc))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for SsrcList<'_> {}

/// Appends a BYE for these sources (no reason text).
pub fn write_bye(out: &mut Vec<u8>, ssrcs: &[u32]) -> Result<(), RtcpError> {
    if ssrcs.len() > MAX_COUNT {
        return Err(RtcpError::TooManyEntries { count: ssrcs.len() });
    }
    let start = begin_packet(out, ssrcs.len() as u8, PT_BYE);
    for ssrc in ssrcs {
        out.extend_from_slice(&ssrc.to_be_bytes());
    }
    finish_packet(out, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{RtcpPacket, iter_compound};

    #[test]
    fn bye_round_trips() {
        let mut out = Vec::new();
        write_bye(&mut out, &[5, 6]).unwrap();
        let packet = iter_compound(&out).next().unwrap().unwrap();
        let RtcpPacket::Bye { ssrcs, reason } = packet else {
            panic!("expected BYE, got {packet:?}");
        };
        assert_eq!(ssrcs.collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(reason, None);
    }

    #[test]
    fn reads_the_reason() {
        let data = [0x81, 203, 0, 2, 0, 0, 0, 9, 3, b'b', b'y', b'e'];
        let packet = iter_compound(&data).next().unwrap().unwrap();
        let RtcpPacket::Bye { ssrcs, reason } = packet else {
            panic!("expected BYE, got {packet:?}");
        };
        assert_eq!(ssrcs.collect::<Vec<_>>(), vec![9]);
        assert_eq!(reason, Some(&b"bye"[..]));
    }
}

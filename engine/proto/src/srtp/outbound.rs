//! What we send: the sender's side of RFC 3711, with per-SSRC packet indices.

use super::header::{MAX_SRTCP_INDEX, RtpHeader, rtcp_sender_ssrc};
use super::index::estimate_index;
use super::kdf::Protocol;
use super::ssrc_table::SsrcTable;
use super::transform::Transform;
use super::{SrtpError, SrtpMasterKey, SrtpProfile};

pub(super) struct Outbound {
    rtp: Transform,
    rtcp: Transform,
    /// Highest RTP index sent per SSRC. Retransmissions reuse their original sequence number, so
    /// the index of each packet is estimated like a receiver would, not just counted.
    rtp_streams: SsrcTable<u64>,
    /// The next SRTCP index per SSRC.
    rtcp_streams: SsrcTable<u32>,
}

impl Outbound {
    pub(super) fn new(profile: SrtpProfile, master: &SrtpMasterKey) -> Result<Self, SrtpError> {
        Ok(Self {
            rtp: Transform::new(profile, master, Protocol::Rtp)?,
            rtcp: Transform::new(profile, master, Protocol::Rtcp)?,
            rtp_streams: SsrcTable::new(),
            rtcp_streams: SsrcTable::new(),
        })
    }

    /// Starts loading the RTP keys, which every packet sent reads.
    pub(super) fn prefetch_rtp_keys(&self) {
        self.rtp.prefetch();
    }

    /// Protects the plain RTP packet at `buffer[start..]`, appending its tag to `buffer`.
    pub(super) fn protect_rtp(
        &mut self,
        buffer: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), SrtpError> {
        let packet = buffer
            .get(start..)
            .ok_or(SrtpError::Malformed("packet starts past the buffer"))?;
        let header = RtpHeader::parse(packet)?;
        let index = match self.rtp_streams.get_mut(header.ssrc) {
            Some(highest) => {
                let index = estimate_index(*highest, header.seq)?;
                *highest = (*highest).max(index);
                index
            }
            None => {
                let index = u64::from(header.seq);
                self.rtp_streams.insert(header.ssrc, index)?;
                index
            }
        };
        self.rtp
            .seal_rtp(buffer, start, header.len, header.ssrc, index)
    }

    pub(super) fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let ssrc = rtcp_sender_ssrc(packet)?;
        let index = match self.rtcp_streams.get_mut(ssrc) {
            Some(next) => {
                let index = *next;
                if index > MAX_SRTCP_INDEX {
                    return Err(SrtpError::KeyExhausted);
                }
                *next += 1;
                index
            }
            None => {
                self.rtcp_streams.insert(ssrc, 1)?;
                0
            }
        };
        self.rtcp.seal_rtcp(packet, ssrc, index)
    }
}

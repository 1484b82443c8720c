//! What the peer sends: the receiver's side of RFC 3711. Replay state changes only after a packet
//! authenticates, so forgeries can neither burn sequence numbers nor claim SSRC slots.

use super::header::{RtpHeader, rtcp_sender_ssrc};
use super::index::estimate_index;
use super::kdf::Protocol;
use super::replay::ReplayWindow;
use super::ssrc_table::SsrcTable;
use super::transform::Transform;
use super::{SrtpError, SrtpMasterKey, SrtpProfile};

/// Inbound RTP replay window, in packets. Wider than libsrtp's 128 because a video keyframe
/// burst can be reordered by more than that on a lossy path, and retransmissions come late.
const RTP_REPLAY_WINDOW: usize = 512;
/// Inbound RTCP replay window, in packets. RTCP is sparse; libsrtp's default is enough.
const RTCP_REPLAY_WINDOW: usize = 128;

type RtpWindow = ReplayWindow<{ RTP_REPLAY_WINDOW / 64 }>;
type RtcpWindow = ReplayWindow<{ RTCP_REPLAY_WINDOW / 64 }>;

pub(super) struct Inbound {
    rtp: Transform,
    rtcp: Transform,
    /// Per SSRC; the window's highest index also carries the rollover counter.
    rtp_streams: SsrcTable<RtpWindow>,
    rtcp_streams: SsrcTable<RtcpWindow>,
}

impl Inbound {
    pub(super) fn new(profile: SrtpProfile, master: &SrtpMasterKey) -> Result<Self, SrtpError> {
        Ok(Self {
            rtp: Transform::new(profile, master, Protocol::Rtp)?,
            rtcp: Transform::new(profile, master, Protocol::Rtcp)?,
            rtp_streams: SsrcTable::new(),
            rtcp_streams: SsrcTable::new(),
        })
    }

    pub(super) fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let body_len = packet
            .len()
            .checked_sub(self.rtp.tag_len())
            .ok_or(SrtpError::Malformed("shorter than the SRTP tag"))?;
        let header = RtpHeader::parse(&packet[..body_len])?;
        let index = match self.rtp_streams.get(header.ssrc) {
            Some(window) => {
                let index = estimate_index(window.highest(), header.seq)?;
                window.check(index)?;
                index
            }
            // A new SSRC starts with rollover counter 0 (RFC 3711 section 3.3.1).
            None => {
                self.rtp_streams.check_room()?;
                u64::from(header.seq)
            }
        };
        let plain_len = self.rtp.open_rtp(packet, header.len, header.ssrc, index)?;
        match self.rtp_streams.get_mut(header.ssrc) {
            Some(window) => window.accept(index),
            None => self
                .rtp_streams
                .insert(header.ssrc, RtpWindow::new(index))?,
        }
        Ok(plain_len)
    }

    pub(super) fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let ssrc = rtcp_sender_ssrc(packet)?;
        let index = self.rtcp.srtcp_index(packet)?;
        match self.rtcp_streams.get(ssrc) {
            Some(window) => window.check(u64::from(index))?,
            None => self.rtcp_streams.check_room()?,
        }
        let plain_len = self.rtcp.open_rtcp(packet, ssrc, index)?;
        match self.rtcp_streams.get_mut(ssrc) {
            Some(window) => window.accept(u64::from(index)),
            None => self
                .rtcp_streams
                .insert(ssrc, RtcpWindow::new(u64::from(index)))?,
        }
        Ok(plain_len)
    }
}

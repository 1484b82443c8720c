//! The cryptographic transform a profile selects, for one protocol in one direction.

use super::aes_cm::AesCmHmac;
use super::aes_gcm::AesGcm;
use super::header::srtcp_index;
use super::kdf::Protocol;
use super::{SrtpError, SrtpMasterKey, SrtpProfile};
use crate::prefetch::prefetch;

pub(super) enum Transform {
    /// Boxed: its AES and HMAC states are over 1.7 KB, the GCM key a pointer's worth.
    AesCm(Box<AesCmHmac>),
    AesGcm(AesGcm),
}

impl Transform {
    pub(super) fn new(
        profile: SrtpProfile,
        master: &SrtpMasterKey,
        protocol: Protocol,
    ) -> Result<Self, SrtpError> {
        Ok(match profile {
            SrtpProfile::Aes128CmHmacSha1_80 => {
                Self::AesCm(Box::new(AesCmHmac::new(master, protocol)?))
            }
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => {
                Self::AesGcm(AesGcm::new(master, protocol)?)
            }
        })
    }

    /// Starts loading the keys a packet reads, which live behind a pointer.
    pub(super) fn prefetch(&self) {
        match self {
            Self::AesCm(cm) => prefetch(&**cm),
            Self::AesGcm(gcm) => gcm.prefetch(),
        }
    }

    pub(super) fn tag_len(&self) -> usize {
        match self {
            Self::AesCm(_) => super::aes_cm::TAG_LEN,
            Self::AesGcm(_) => super::aes_gcm::TAG_LEN,
        }
    }

    /// Seals the RTP packet at `buffer[start..]`, appending its tag to `buffer`.
    pub(super) fn seal_rtp(
        &self,
        buffer: &mut Vec<u8>,
        start: usize,
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<(), SrtpError> {
        match self {
            Self::AesCm(cm) => cm.seal_rtp(buffer, start, header_len, ssrc, index),
            Self::AesGcm(gcm) => gcm.seal_rtp(buffer, start, header_len, ssrc, index),
        }
    }

    pub(super) fn open_rtp(
        &self,
        packet: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        match self {
            Self::AesCm(cm) => cm.open_rtp(packet, header_len, ssrc, index),
            Self::AesGcm(gcm) => gcm.open_rtp(packet, header_len, ssrc, index),
        }
    }

    pub(super) fn seal_rtcp(
        &self,
        packet: &mut Vec<u8>,
        ssrc: u32,
        index: u32,
    ) -> Result<(), SrtpError> {
        match self {
            Self::AesCm(cm) => cm.seal_rtcp(packet, ssrc, index),
            Self::AesGcm(gcm) => gcm.seal_rtcp(packet, ssrc, index),
        }
    }

    pub(super) fn open_rtcp(
        &self,
        packet: &mut [u8],
        ssrc: u32,
        index: u32,
    ) -> Result<usize, SrtpError> {
        match self {
            Self::AesCm(cm) => cm.open_rtcp(packet, ssrc, index),
            Self::AesGcm(gcm) => gcm.open_rtcp(packet, ssrc, index),
        }
    }

    /// The SRTCP index of a protected packet; the two transforms put it in different places.
    /// Checks the packet is long enough for header, index and tag.
    pub(super) fn srtcp_index(&self, packet: &[u8]) -> Result<u32, SrtpError> {
        let offset = match self {
            Self::AesCm(_) => AesCmHmac::srtcp_index_offset(packet.len()),
            Self::AesGcm(_) => AesGcm::srtcp_index_offset(packet.len()),
        };
        srtcp_index(packet, offset)
    }
}

//! AEAD_AES_128_GCM and AEAD_AES_256_GCM for SRTP and SRTCP (RFC 7714): one pass encrypts and
//! authenticates, with the clear header as associated data. Everything happens in the caller's
//! buffer.

use super::SrtpError;
use super::gcm_key::{GcmKey, NONCE_LEN};
use super::header::{E_FLAG, RTCP_HEADER_LEN, SRTCP_INDEX_LEN};
use super::kdf::{self, KeyPurpose, Protocol};
use super::keys::SrtpMasterKey;

pub(super) use super::gcm_key::TAG_LEN;
const SALT_LEN: usize = NONCE_LEN;
const MAX_KEY_LEN: usize = 32;

/// One protocol's session key and salt in one direction.
pub(super) struct AesGcm {
    key: GcmKey,
    salt: [u8; SALT_LEN],
}

impl AesGcm {
    pub(super) fn new(master: &SrtpMasterKey, protocol: Protocol) -> Result<Self, SrtpError> {
        let mut key = [0u8; MAX_KEY_LEN];
        let key = key
            .get_mut(..master.key.len())
            .ok_or(SrtpError::Crypto(aws_lc_rs::error::Unspecified))?;
        let mut salt = [0u8; SALT_LEN];
        kdf::derive(
            &master.key,
            &master.salt,
            protocol,
            KeyPurpose::Encryption,
            key,
        )?;
        kdf::derive(
            &master.key,
            &master.salt,
            protocol,
            KeyPurpose::Salt,
            &mut salt,
        )?;
        Self::with_session_keys(key, salt)
    }

    /// The key length picks AES-128 or AES-256.
    pub(super) fn with_session_keys(key: &[u8], salt: [u8; SALT_LEN]) -> Result<Self, SrtpError> {
        Ok(Self {
            key: GcmKey::new(key).map_err(SrtpError::Crypto)?,
            salt,
        })
    }

    /// Starts loading the key's context, which every packet sealed reads whole.
    pub(super) fn prefetch(&self) {
        self.key.prefetch();
    }

    /// Encrypts the payload of the packet at `buffer[start..]` (after its `header_len`-byte
    /// header), authenticating the header with it, and appends the tag (RFC 7714 section 8.2).
    pub(super) fn seal_rtp(
        &self,
        buffer: &mut Vec<u8>,
        start: usize,
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<(), SrtpError> {
        let packet = buffer
            .get_mut(start..)
            .ok_or(SrtpError::Malformed("packet starts past the buffer"))?;
        let (header, payload) = packet.split_at_mut(header_len);
        let tag = self
            .key
            .seal_in_place(&self.nonce(ssrc, index), header, payload)
            .map_err(SrtpError::Crypto)?;
        buffer.extend_from_slice(&tag);
        Ok(())
    }

    /// Verifies and decrypts; returns the length of the plain RTP packet. The caller has checked
    /// that `packet` holds the header and the tag.
    pub(super) fn open_rtp(
        &self,
        packet: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        let (header, sealed) = packet.split_at_mut(header_len);
        let plain_len = self
            .key
            .open_in_place(&self.nonce(ssrc, index), header, sealed)
            .map_err(|_| SrtpError::Authentication)?;
        Ok(header_len + plain_len)
    }

    /// Encrypts everything after the first 8 bytes, then appends the tag and E-flag with index
    /// (RFC 7714 section 9.2). The associated data is the first 8 bytes and E-flag with index.
    pub(super) fn seal_rtcp(
        &self,
        packet: &mut Vec<u8>,
        ssrc: u32,
        index: u32,
    ) -> Result<(), SrtpError> {
        let trailer = (E_FLAG | index).to_be_bytes();
        let (header, payload) = packet.split_at_mut(RTCP_HEADER_LEN);
        let aad = rtcp_aad(header, trailer);
        let tag = self
            .key
            .seal_in_place(&self.nonce(ssrc, u64::from(index)), &aad, payload)
            .map_err(SrtpError::Crypto)?;
        packet.extend_from_slice(&tag);
        packet.extend_from_slice(&trailer);
        Ok(())
    }

    /// Verifies and decrypts; returns the length of the plain RTCP packet. The caller has checked
    /// that `packet` holds the header, the tag and the index.
    pub(super) fn open_rtcp(
        &self,
        packet: &mut [u8],
        ssrc: u32,
        index: u32,
    ) -> Result<usize, SrtpError> {
        let sealed_end = packet.len() - SRTCP_INDEX_LEN;
        let (rest, trailer) = packet.split_at_mut(sealed_end);
        let (header, sealed) = rest.split_at_mut(RTCP_HEADER_LEN);
        let mut trailer_bytes = [0u8; SRTCP_INDEX_LEN];
        trailer_bytes.copy_from_slice(trailer);
        let aad = rtcp_aad(header, trailer_bytes);
        let plain_len = self
            .key
            .open_in_place(&self.nonce(ssrc, u64::from(index)), &aad, sealed)
            .map_err(|_| SrtpError::Authentication)?;
        Ok(RTCP_HEADER_LEN + plain_len)
    }

    /// Where the E-flag and SRTCP index sit, at the very end after the tag; `None` when the
    /// packet cannot hold header, tag and index.
    pub(super) fn srtcp_index_offset(packet_len: usize) -> Option<usize> {
        packet_len
            .checked_sub(SRTCP_INDEX_LEN)
            .filter(|&offset| offset >= RTCP_HEADER_LEN + TAG_LEN)
    }

    /// The IV is the salt XOR (0^16 || SSRC || index), with the 48-bit RTP index (ROC || SEQ)
    /// or the 31-bit SRTCP index right-aligned (RFC 7714 sections 8.1 and 9.1).
    fn nonce(&self, ssrc: u32, index: u64) -> [u8; NONCE_LEN] {
        let mut iv = [0u8; SALT_LEN];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
        for (byte, salt) in iv.iter_mut().zip(&self.salt) {
            *byte ^= salt;
        }
        iv
    }
}

/// The SRTCP associated data: the fixed header, then E-flag with index. It is not contiguous in
/// the packet, so it is gathered on the stack.
fn rtcp_aad(header: &[u8], trailer: [u8; SRTCP_INDEX_LEN]) -> [u8; 12] {
    let mut aad = [0u8; RTCP_HEADER_LEN + SRTCP_INDEX_LEN];
    aad[..RTCP_HEADER_LEN].copy_from_slice(header);
    aad[RTCP_HEADER_LEN..].copy_from_slice(&trailer);
    aad
}

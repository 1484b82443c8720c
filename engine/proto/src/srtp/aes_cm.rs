//! AES_CM_128_HMAC_SHA1_80 (RFC 3711): AES in counter mode for confidentiality, HMAC-SHA1 cut to
//! 80 bits for integrity. Everything happens in the caller's buffer.

use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use super::SrtpError;
use super::header::{E_FLAG, RTCP_HEADER_LEN, SRTCP_INDEX_LEN};
use super::kdf::{self, KeyPurpose, Protocol};
use super::keys::SrtpMasterKey;

pub(super) const TAG_LEN: usize = 10;
const KEY_LEN: usize = 16;
const SALT_LEN: usize = 14;
/// RFC 3711 section 4.2.1: the authentication key is as long as the SHA-1 output.
const AUTH_KEY_LEN: usize = 20;

/// One protocol's session keys in one direction.
pub(super) struct AesCmHmac {
    cipher: EncryptingKey,
    salt: [u8; SALT_LEN],
    auth: hmac::Key,
}

impl AesCmHmac {
    pub(super) fn new(master: &SrtpMasterKey, protocol: Protocol) -> Result<Self, SrtpError> {
        let mut cipher = [0u8; KEY_LEN];
        let mut salt = [0u8; SALT_LEN];
        let mut auth = [0u8; AUTH_KEY_LEN];
        let derive = |purpose, out: &mut [u8]| {
            kdf::derive(&master.key, &master.salt, protocol, purpose, out)
        };
        derive(KeyPurpose::Encryption, &mut cipher)?;
        derive(KeyPurpose::Salt, &mut salt)?;
        derive(KeyPurpose::Authentication, &mut auth)?;
        Self::with_session_keys(&cipher, salt, &auth)
    }

    pub(super) fn with_session_keys(
        cipher: &[u8],
        salt: [u8; SALT_LEN],
        auth: &[u8],
    ) -> Result<Self, SrtpError> {
        let cipher = UnboundCipherKey::new(&AES_128, cipher).map_err(SrtpError::Crypto)?;
        Ok(Self {
            cipher: EncryptingKey::ctr(cipher).map_err(SrtpError::Crypto)?,
            salt,
            auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth),
        })
    }

    /// Encrypts the payload of the packet at `buffer[start..]` (after its `header_len`-byte
    /// header) and appends the tag over header, payload and ROC.
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
        self.apply_keystream(ssrc, index, &mut packet[header_len..])?;
        let tag = self.tag(packet, &rollover_counter(index));
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
        let body_len = packet.len() - TAG_LEN;
        let (body, tag) = packet.split_at_mut(body_len);
        let expected = self.tag(body, &rollover_counter(index));
        verify_slices_are_equal(&expected, tag).map_err(|_| SrtpError::Authentication)?;
        self.apply_keystream(ssrc, index, &mut body[header_len..])?;
        Ok(body_len)
    }

    /// Encrypts everything after the first 8 bytes, then appends E-flag with index, and the tag
    /// over all of it (RFC 3711 section 3.4).
    pub(super) fn seal_rtcp(
        &self,
        packet: &mut Vec<u8>,
        ssrc: u32,
        index: u32,
    ) -> Result<(), SrtpError> {
        self.apply_keystream(ssrc, u64::from(index), &mut packet[RTCP_HEADER_LEN..])?;
        packet.extend_from_slice(&(E_FLAG | index).to_be_bytes());
        let tag = self.tag(packet, &[]);
        packet.extend_from_slice(&tag);
        Ok(())
    }

    /// Verifies and decrypts; returns the length of the plain RTCP packet. The caller has checked
    /// that `packet` holds the header, the index and the tag.
    pub(super) fn open_rtcp(
        &self,
        packet: &mut [u8],
        ssrc: u32,
        index: u32,
    ) -> Result<usize, SrtpError> {
        let authenticated_len = packet.len() - TAG_LEN;
        let (authenticated, tag) = packet.split_at_mut(authenticated_len);
        let expected = self.tag(authenticated, &[]);
        verify_slices_are_equal(&expected, tag).map_err(|_| SrtpError::Authentication)?;
        let plain_len = authenticated_len - SRTCP_INDEX_LEN;
        let payload = &mut authenticated[RTCP_HEADER_LEN..plain_len];
        self.apply_keystream(ssrc, u64::from(index), payload)?;
        Ok(plain_len)
    }

    /// Where the E-flag and SRTCP index sit, just before the tag; `None` when the packet cannot
    /// hold header, index and tag.
    pub(super) fn srtcp_index_offset(packet_len: usize) -> Option<usize> {
        packet_len
            .checked_sub(TAG_LEN + SRTCP_INDEX_LEN)
            .filter(|&offset| offset >= RTCP_HEADER_LEN)
    }

    /// XORs the keystream for this packet into `data`. The counter block is
    /// (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16) (RFC 3711 section 4.1.1); the low 16
    /// bits count blocks, and no packet is long enough to carry into the index.
    pub(super) fn apply_keystream(
        &self,
        ssrc: u32,
        index: u64,
        data: &mut [u8],
    ) -> Result<(), SrtpError> {
        if data.is_empty() {
            return Ok(());
        }
        let mut iv = [0u8; 16];
        iv[4..8].copy_from_slice(&ssrc.to_be_bytes());
        iv[8..14].copy_from_slice(&index.to_be_bytes()[2..]);
        for (byte, salt) in iv.iter_mut().zip(&self.salt) {
            *byte ^= salt;
        }
        self.cipher
            .less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(SrtpError::Crypto)?;
        Ok(())
    }

    fn tag(&self, authenticated: &[u8], trailer: &[u8]) -> [u8; TAG_LEN] {
        let mut context = hmac::Context::with_key(&self.auth);
        context.update(authenticated);
        context.update(trailer);
        let full = context.sign();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        tag
    }
}

/// The ROC is the index's top 32 of 48 bits; SRTP authenticates it without sending it.
fn rollover_counter(index: u64) -> [u8; 4] {
    ((index >> 16) as u32).to_be_bytes()
}

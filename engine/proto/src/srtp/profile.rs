//! The SRTP protection profiles DTLS-SRTP can negotiate with us (RFC 5764, RFC 7714).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpProfile {
    /// AEAD_AES_128_GCM (RFC 7714): the profile we prefer.
    AeadAes128Gcm,
    /// AEAD_AES_256_GCM (RFC 7714): dimpl 0.9 selects it first whenever the peer offers it.
    AeadAes256Gcm,
    /// SRTP_AES128_CM_HMAC_SHA1_80 (RFC 5764): for peers without GCM.
    Aes128CmHmacSha1_80,
}

impl SrtpProfile {
    /// Master key length in bytes; the session encryption keys have the same length.
    pub fn master_key_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm | Self::Aes128CmHmacSha1_80 => 16,
            Self::AeadAes256Gcm => 32,
        }
    }

    /// Master salt length in bytes; the session salts have the same length.
    pub fn master_salt_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 12,
            Self::Aes128CmHmacSha1_80 => 14,
        }
    }

    /// Bytes SRTP adds to an RTP packet (the authentication tag).
    pub fn rtp_overhead(self) -> usize {
        self.tag_len()
    }

    /// Bytes SRTCP adds to an RTCP compound packet (the tag and the E-flag with the SRTCP index).
    pub fn rtcp_overhead(self) -> usize {
        self.tag_len() + 4
    }

    /// The authentication tag: HMAC-SHA1 cut to 80 bits, or the full 128-bit GCM tag.
    pub(super) fn tag_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
            Self::Aes128CmHmacSha1_80 => 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_rfcs() {
        assert_eq!(SrtpProfile::AeadAes128Gcm.master_key_len(), 16);
        assert_eq!(SrtpProfile::AeadAes128Gcm.master_salt_len(), 12);
        assert_eq!(SrtpProfile::AeadAes128Gcm.rtp_overhead(), 16);
        assert_eq!(SrtpProfile::AeadAes128Gcm.rtcp_overhead(), 20);
        assert_eq!(SrtpProfile::AeadAes256Gcm.master_key_len(), 32);
        assert_eq!(SrtpProfile::AeadAes256Gcm.master_salt_len(), 12);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.master_key_len(), 16);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.master_salt_len(), 14);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.rtp_overhead(), 10);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.rtcp_overhead(), 14);
    }
}

//! The SRTP protection profiles DTLS-SRTP can negotiate with us (RFC 5764, RFC 7714).

use rtc_srtp::protection_profile::ProtectionProfile;

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
    /// Master key length in bytes.
    pub fn master_key_len(self) -> usize {
        self.rtc().key_len()
    }

    /// Master salt length in bytes.
    pub fn master_salt_len(self) -> usize {
        self.rtc().salt_len()
    }

    /// Bytes SRTP adds to an RTP packet (the authentication tag).
    pub fn rtp_overhead(self) -> usize {
        let profile = self.rtc();
        profile.rtp_auth_tag_len() + profile.aead_auth_tag_len()
    }

    pub(super) fn rtc(self) -> ProtectionProfile {
        match self {
            Self::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            Self::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
            Self::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
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
        assert_eq!(SrtpProfile::AeadAes256Gcm.master_key_len(), 32);
        assert_eq!(SrtpProfile::AeadAes256Gcm.master_salt_len(), 12);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.master_key_len(), 16);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.master_salt_len(), 14);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.rtp_overhead(), 10);
    }
}

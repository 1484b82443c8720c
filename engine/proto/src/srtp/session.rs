//! One peer's SRTP/SRTCP state: an outbound context for what we send, an inbound one for what
//! the peer sends (RFC 3711). rtc-srtp contexts are one-way, hence two.

use rtc_crypto::providers::AwsLcRsCrypto;
use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};

use super::{SrtpError, SrtpKeys, SrtpProfile};

/// Inbound RTP replay window, in packets. Wider than libsrtp's 128 because a video keyframe
/// burst can be reordered by more than that on a lossy path, and retransmissions come late.
const RTP_REPLAY_WINDOW: usize = 512;
/// Inbound RTCP replay window, in packets. RTCP is sparse; libsrtp's default is enough.
const RTCP_REPLAY_WINDOW: usize = 128;

pub struct SrtpSession {
    profile: SrtpProfile,
    outbound: Context,
    inbound: Context,
}

impl SrtpSession {
    pub fn new(keys: &SrtpKeys) -> Result<Self, SrtpError> {
        let profile = keys.profile.rtc();
        let outbound = Context::new(
            &keys.local.key,
            &keys.local.salt,
            profile,
            None,
            None,
            &AwsLcRsCrypto,
        )
        .map_err(SrtpError::Context)?;
        let inbound = Context::new(
            &keys.remote.key,
            &keys.remote.salt,
            profile,
            Some(srtp_replay_protection(RTP_REPLAY_WINDOW)),
            Some(srtcp_replay_protection(RTCP_REPLAY_WINDOW)),
            &AwsLcRsCrypto,
        )
        .map_err(SrtpError::Context)?;
        Ok(Self {
            profile: keys.profile,
            outbound,
            inbound,
        })
    }

    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Encrypts one RTP packet into `out` (cleared first).
    pub fn protect_rtp(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        let protected = self
            .outbound
            .encrypt_rtp(plain)
            .map_err(SrtpError::from_packet)?;
        replace(out, &protected);
        Ok(())
    }

    /// Authenticates, replay-checks and decrypts one SRTP packet into `out` (cleared first).
    pub fn unprotect_rtp(&mut self, protected: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        let plain = self
            .inbound
            .decrypt_rtp(protected)
            .map_err(SrtpError::from_packet)?;
        replace(out, &plain);
        Ok(())
    }

    /// Encrypts one RTCP compound packet into `out` (cleared first).
    pub fn protect_rtcp(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        let protected = self
            .outbound
            .encrypt_rtcp(plain)
            .map_err(SrtpError::from_packet)?;
        replace(out, &protected);
        Ok(())
    }

    /// Authenticates, replay-checks and decrypts one SRTCP packet into `out` (cleared first).
    pub fn unprotect_rtcp(&mut self, protected: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        let plain = self
            .inbound
            .decrypt_rtcp(protected)
            .map_err(SrtpError::from_packet)?;
        replace(out, &plain);
        Ok(())
    }
}

/// rtc-srtp hands back a fresh buffer per packet; copying it into the caller's keeps the
/// caller's side allocation-free once `out` has grown to packet size.
fn replace(out: &mut Vec<u8>, bytes: &[u8]) {
    out.clear();
    out.extend_from_slice(bytes);
}

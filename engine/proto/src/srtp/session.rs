//! One peer's SRTP/SRTCP state: an outbound side for what we send, an inbound side for what the
//! peer sends, each with its own keys (RFC 5764 section 4.2).

use super::inbound::Inbound;
use super::outbound::Outbound;
use super::{SrtpError, SrtpKeys, SrtpMasterKey, SrtpProfile};

pub struct SrtpSession {
    profile: SrtpProfile,
    outbound: Outbound,
    /// Boxed: a viewer sends only RTCP, now and then, while the fan-out reads the outbound
    /// side for every packet; kept apart, the session's part of the fan-out's cache lines is
    /// a third of what it was.
    inbound: Box<Inbound>,
}

impl SrtpSession {
    pub fn new(keys: &SrtpKeys) -> Result<Self, SrtpError> {
        check_lengths(keys.profile, &keys.local)?;
        check_lengths(keys.profile, &keys.remote)?;
        Ok(Self {
            profile: keys.profile,
            outbound: Outbound::new(keys.profile, &keys.local)?,
            inbound: Box::new(Inbound::new(keys.profile, &keys.remote)?),
        })
    }

    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Starts loading the keys that protecting RTP reads: they live apart from the session,
    /// so a fan-out writing to many sessions wants them on their way early.
    pub fn prefetch_rtp_keys(&self) {
        self.outbound.prefetch_rtp_keys();
    }

    /// Encrypts the plain RTP packet in `packet` where it lies and appends the tag. Allocates
    /// nothing once the SSRC is known, provided `packet` has
    /// [`rtp_overhead`](SrtpProfile::rtp_overhead) bytes of spare capacity.
    pub fn protect_rtp_in_place(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        self.outbound.protect_rtp(packet, 0)
    }

    /// Authenticates, replay-checks and decrypts one SRTP packet where it lies. Returns the
    /// length of the plain RTP packet at the start of `packet`; after an error the bytes of
    /// `packet` are unspecified.
    pub fn unprotect_rtp_in_place(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        self.inbound.unprotect_rtp(packet)
    }

    /// Encrypts the plain RTCP compound packet in `packet` where it lies and appends index and
    /// tag. Allocates nothing once the SSRC is known, provided `packet` has
    /// [`rtcp_overhead`](SrtpProfile::rtcp_overhead) bytes of spare capacity.
    pub fn protect_rtcp_in_place(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        self.outbound.protect_rtcp(packet)
    }

    /// Authenticates, replay-checks and decrypts one SRTCP packet where it lies. Returns the
    /// length of the plain RTCP packet at the start of `packet`; after an error the bytes of
    /// `packet` are unspecified.
    pub fn unprotect_rtcp_in_place(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        self.inbound.unprotect_rtcp(packet)
    }

    /// Encrypts one RTP packet into `out` (cleared first).
    pub fn protect_rtp(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        out.clear();
        self.protect_rtp_onto(plain, out)
    }

    /// Encrypts one RTP packet onto the end of `out`, after what it already holds: several
    /// datagrams for one UDP GSO send are written back to back. On an error `out` is as it
    /// was. Allocates nothing once the SSRC is known, provided `out` has room for the packet
    /// and [`rtp_overhead`](SrtpProfile::rtp_overhead) more bytes.
    pub fn protect_rtp_onto(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        let start = out.len();
        out.reserve(plain.len() + self.profile.rtp_overhead());
        out.extend_from_slice(plain);
        self.protect_rtp_tail(out, start)
    }

    /// Encrypts the plain RTP packet that fills `out` from `start` where it lies, and appends
    /// its tag: for a packet written straight onto a send buffer. On an error `out` is cut back
    /// to `start`. Allocates nothing once the SSRC is known, provided `out` has
    /// [`rtp_overhead`](SrtpProfile::rtp_overhead) bytes of spare capacity.
    pub fn protect_rtp_tail(&mut self, out: &mut Vec<u8>, start: usize) -> Result<(), SrtpError> {
        self.outbound
            .protect_rtp(out, start)
            .inspect_err(|_| out.truncate(start))
    }

    /// Authenticates, replay-checks and decrypts one SRTP packet into `out` (cleared first).
    pub fn unprotect_rtp(&mut self, protected: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        copy_into(out, protected, 0);
        let plain_len = self.unprotect_rtp_in_place(out);
        keep_plain(out, plain_len)
    }

    /// Encrypts one RTCP compound packet into `out` (cleared first).
    pub fn protect_rtcp(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        copy_into(out, plain, self.profile.rtcp_overhead());
        self.protect_rtcp_in_place(out).inspect_err(|_| out.clear())
    }

    /// Authenticates, replay-checks and decrypts one SRTCP packet into `out` (cleared first).
    pub fn unprotect_rtcp(&mut self, protected: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        copy_into(out, protected, 0);
        let plain_len = self.unprotect_rtcp_in_place(out);
        keep_plain(out, plain_len)
    }
}

/// `SrtpMasterKey` has public fields, so its lengths are checked before anything is keyed.
fn check_lengths(profile: SrtpProfile, master: &SrtpMasterKey) -> Result<(), SrtpError> {
    let expected_key = profile.master_key_len();
    let expected_salt = profile.master_salt_len();
    if master.key.len() == expected_key && master.salt.len() == expected_salt {
        return Ok(());
    }
    Err(SrtpError::MasterKeyLength {
        key: master.key.len(),
        salt: master.salt.len(),
        expected_key,
        expected_salt,
    })
}

/// Copies `bytes` into `out` with room for `spare` more, so the in-place call appends without
/// reallocating.
fn copy_into(out: &mut Vec<u8>, bytes: &[u8], spare: usize) {
    out.clear();
    out.reserve(bytes.len() + spare);
    out.extend_from_slice(bytes);
}

/// Cuts `out` to the plain packet, or empties it so no unauthenticated bytes are handed on.
fn keep_plain(out: &mut Vec<u8>, plain_len: Result<usize, SrtpError>) -> Result<(), SrtpError> {
    match plain_len {
        Ok(len) => {
            out.truncate(len);
            Ok(())
        }
        Err(error) => {
            out.clear();
            Err(error)
        }
    }
}

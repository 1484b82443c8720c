//! Interoperability with rtc-srtp, a separate SRTP implementation: each side decrypts what the
//! other encrypts, for every profile, RTP and RTCP, several SSRCs and a sequence wrap.

use rtc_crypto::providers::AwsLcRsCrypto;
use rtc_srtp::context::Context;
use rtc_srtp::protection_profile::ProtectionProfile;

use super::super::SrtpMasterKey;
use super::*;

fn reference_profile(profile: SrtpProfile) -> ProtectionProfile {
    match profile {
        SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
    }
}

fn reference_context(profile: SrtpProfile, master: &SrtpMasterKey) -> Context {
    Context::new(
        &master.key,
        &master.salt,
        reference_profile(profile),
        None,
        None,
        &AwsLcRsCrypto,
    )
    .unwrap()
}

/// Sequence numbers crossing the wrap, a few per SSRC, interleaved like audio and video.
fn traffic() -> Vec<(u32, u16)> {
    let mut packets = Vec::new();
    for seq in (65530..=65535u16).chain(0..6) {
        packets.push((0x1111_1111, seq));
        packets.push((0x2222_2222, seq.wrapping_add(30_000)));
    }
    packets
}

#[test]
fn rtc_srtp_reads_what_we_protect() {
    for profile in PROFILES {
        let (ours, theirs) = key_pair(profile);
        let mut session = SrtpSession::new(&ours).unwrap();
        // Our local keys are what the peer's remote side uses.
        let mut reference = reference_context(profile, &theirs.remote);
        let mut protected = Vec::new();
        for (ssrc, seq) in traffic() {
            let plain = rtp_packet_from(ssrc, seq, 900);
            session.protect_rtp(&plain, &mut protected).unwrap();
            let decrypted = reference.decrypt_rtp(&protected).unwrap();
            assert_eq!(
                decrypted[..],
                plain[..],
                "{profile:?} ssrc {ssrc:x} seq {seq}"
            );
        }
        for plain in [rtcp_packet(), rtcp_compound(), rtcp_packet_from(7)] {
            session.protect_rtcp(&plain, &mut protected).unwrap();
            let decrypted = reference.decrypt_rtcp(&protected).unwrap();
            assert_eq!(decrypted[..], plain[..], "{profile:?}");
        }
    }
}

#[test]
fn we_read_what_rtc_srtp_protects() {
    for profile in PROFILES {
        let (ours, theirs) = key_pair(profile);
        let mut session = SrtpSession::new(&ours).unwrap();
        let mut reference = reference_context(profile, &theirs.local);
        let mut plain = Vec::new();
        for (ssrc, seq) in traffic() {
            let packet = rtp_packet_from(ssrc, seq, 900);
            let protected = reference.encrypt_rtp(&packet).unwrap();
            session.unprotect_rtp(&protected, &mut plain).unwrap();
            assert_eq!(plain, packet, "{profile:?} ssrc {ssrc:x} seq {seq}");
        }
        let packet = rtp_packet_with_extension(3, 200);
        let protected = reference.encrypt_rtp(&packet).unwrap();
        session.unprotect_rtp(&protected, &mut plain).unwrap();
        assert_eq!(plain, packet);
        for packet in [rtcp_packet(), rtcp_compound(), rtcp_packet_from(7)] {
            let protected = reference.encrypt_rtcp(&packet).unwrap();
            session.unprotect_rtcp(&protected, &mut plain).unwrap();
            assert_eq!(plain, packet, "{profile:?}");
        }
    }
}

#[test]
fn byte_for_byte_the_same_as_rtc_srtp() {
    for profile in PROFILES {
        let (ours, _) = key_pair(profile);
        let mut session = SrtpSession::new(&ours).unwrap();
        let mut reference = reference_context(profile, &ours.local);
        let mut protected = Vec::new();
        for (ssrc, seq) in traffic() {
            let plain = rtp_packet_from(ssrc, seq, 300);
            session.protect_rtp(&plain, &mut protected).unwrap();
            let expected = reference.encrypt_rtp(&plain).unwrap();
            assert_eq!(protected[..], expected[..], "{profile:?} seq {seq}");
        }
    }
}

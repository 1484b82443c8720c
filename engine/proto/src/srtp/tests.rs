//! Round trips between two sessions holding mirrored keys, and hostile input.

use shardcast_control::DtlsRole;

use super::*;

const PROFILES: [SrtpProfile; 3] = [
    SrtpProfile::AeadAes128Gcm,
    SrtpProfile::AeadAes256Gcm,
    SrtpProfile::Aes128CmHmacSha1_80,
];

/// The two ends of one DTLS-SRTP association: the client's local keys are the server's remote.
fn pair(profile: SrtpProfile) -> (SrtpSession, SrtpSession) {
    let len = 2 * (profile.master_key_len() + profile.master_salt_len());
    let material: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    let client = SrtpKeys::from_exported(profile, &material, DtlsRole::Client).unwrap();
    let server = SrtpKeys::from_exported(profile, &material, DtlsRole::Server).unwrap();
    (
        SrtpSession::new(&client).unwrap(),
        SrtpSession::new(&server).unwrap(),
    )
}

fn rtp_packet(seq: u16, payload_len: usize) -> Vec<u8> {
    let mut packet = vec![0x80, 96];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    packet.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    packet.extend((0..payload_len).map(|i| i as u8));
    packet
}

/// A receiver report with no report blocks.
fn rtcp_packet() -> Vec<u8> {
    let mut packet = vec![0x80, 201, 0, 1];
    packet.extend_from_slice(&0x9abc_def0u32.to_be_bytes());
    packet
}

#[test]
fn rtp_round_trip_for_every_profile() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        assert_eq!(sender.profile(), profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        for seq in [1u16, 2, 3, 65535, 0] {
            let packet = rtp_packet(seq, 1200);
            sender.protect_rtp(&packet, &mut protected).unwrap();
            assert_eq!(protected.len(), packet.len() + profile.rtp_overhead());
            assert_eq!(protected[..12], packet[..12], "the header stays in clear");
            assert_ne!(
                protected[12..1212],
                packet[12..],
                "the payload is encrypted"
            );
            receiver.unprotect_rtp(&protected, &mut plain).unwrap();
            assert_eq!(plain, packet, "{profile:?} seq {seq}");
        }
    }
}

#[test]
fn rtcp_round_trip_for_every_profile() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let packet = rtcp_packet();
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..3 {
            sender.protect_rtcp(&packet, &mut protected).unwrap();
            assert!(protected.len() > packet.len() + 4, "index and tag appended");
            receiver.unprotect_rtcp(&protected, &mut plain).unwrap();
            assert_eq!(plain, packet);
        }
    }
}

#[test]
fn flipped_bit_fails_authentication() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender
            .protect_rtp(&rtp_packet(10, 100), &mut protected)
            .unwrap();
        let mut forged = protected.clone();
        forged[40] ^= 0x01;
        let err = receiver.unprotect_rtp(&forged, &mut plain).unwrap_err();
        assert!(
            matches!(err, SrtpError::Authentication),
            "{profile:?}: {err}"
        );
        // The forgery must not consume the sequence number of the real packet.
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();

        sender.protect_rtcp(&rtcp_packet(), &mut protected).unwrap();
        let mut forged = protected.clone();
        forged[9] ^= 0x80;
        let err = receiver.unprotect_rtcp(&forged, &mut plain).unwrap_err();
        assert!(
            matches!(err, SrtpError::Authentication),
            "{profile:?}: {err}"
        );
    }
}

#[test]
fn replayed_packets_are_rejected() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender
            .protect_rtp(&rtp_packet(7, 50), &mut protected)
            .unwrap();
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
        let err = receiver.unprotect_rtp(&protected, &mut plain).unwrap_err();
        assert!(matches!(err, SrtpError::Replay), "{profile:?}: {err}");

        sender.protect_rtcp(&rtcp_packet(), &mut protected).unwrap();
        receiver.unprotect_rtcp(&protected, &mut plain).unwrap();
        let err = receiver.unprotect_rtcp(&protected, &mut plain).unwrap_err();
        assert!(matches!(err, SrtpError::Replay), "{profile:?}: {err}");
    }
}

#[test]
fn packets_older_than_the_replay_window_are_rejected() {
    let (mut sender, mut receiver) = pair(SrtpProfile::AeadAes128Gcm);
    let mut old = Vec::new();
    let mut protected = Vec::new();
    let mut plain = Vec::new();
    sender.protect_rtp(&rtp_packet(1, 20), &mut old).unwrap();
    for seq in 2..600 {
        sender
            .protect_rtp(&rtp_packet(seq, 20), &mut protected)
            .unwrap();
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
    }
    let err = receiver.unprotect_rtp(&old, &mut plain).unwrap_err();
    assert!(matches!(err, SrtpError::Replay), "{err}");
}

#[test]
fn reordered_packets_inside_the_window_are_accepted() {
    let (mut sender, mut receiver) = pair(SrtpProfile::AeadAes128Gcm);
    let protected: Vec<Vec<u8>> = (100..110)
        .map(|seq| {
            let mut out = Vec::new();
            sender.protect_rtp(&rtp_packet(seq, 20), &mut out).unwrap();
            out
        })
        .collect();
    let mut plain = Vec::new();
    for packet in protected.iter().rev() {
        receiver.unprotect_rtp(packet, &mut plain).unwrap();
    }
}

#[test]
fn truncated_input_errors_cleanly() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender
            .protect_rtp(&rtp_packet(5, 30), &mut protected)
            .unwrap();
        for len in 0..protected.len() {
            assert!(
                receiver
                    .unprotect_rtp(&protected[..len], &mut plain)
                    .is_err()
            );
        }
        sender.protect_rtcp(&rtcp_packet(), &mut protected).unwrap();
        for len in 0..protected.len() {
            assert!(
                receiver
                    .unprotect_rtcp(&protected[..len], &mut plain)
                    .is_err()
            );
        }
        for len in 0..12 {
            assert!(
                sender
                    .protect_rtp(&rtp_packet(6, 0)[..len], &mut plain)
                    .is_err()
            );
        }
        for len in 0..8 {
            assert!(
                sender
                    .protect_rtcp(&rtcp_packet()[..len], &mut plain)
                    .is_err()
            );
        }
    }
}

/// xorshift64: deterministic garbage without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn garbage_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1d;
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut out = Vec::new();
        for _ in 0..4000 {
            let len = (next(&mut state) % 96) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next(&mut state) as u8).collect();
            if let Some(first) = bytes.first_mut() {
                // Mostly version 2, so the parsers get past the first check.
                *first = 0x80 | (*first & 0x3f);
            }
            let _ = receiver.unprotect_rtp(&bytes, &mut out);
            let _ = receiver.unprotect_rtcp(&bytes, &mut out);
            let _ = sender.protect_rtp(&bytes, &mut out);
            let _ = sender.protect_rtcp(&bytes, &mut out);
        }
    }
}

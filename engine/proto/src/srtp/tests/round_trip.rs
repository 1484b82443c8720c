//! Round trips between two sessions holding mirrored keys, copying and in place.

use super::super::SrtpError;
use super::*;

#[test]
fn rtp_round_trip_for_every_profile() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        assert_eq!(sender.profile(), profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        for seq in [65533u16, 65534, 65535, 0, 1] {
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
fn packets_protected_onto_one_buffer_lie_back_to_back_as_if_protected_singly() {
    for profile in PROFILES {
        let (mut onto, mut receiver) = pair(profile);
        let (mut singly, _) = pair(profile);
        let packets = [rtp_packet(1, 1200), rtp_packet(2, 1200), rtp_packet(3, 40)];
        let mut run = b"kept".to_vec();
        let mut expected = run.clone();
        let mut protected = Vec::new();
        for packet in &packets {
            onto.protect_rtp_onto(packet, &mut run).unwrap();
            singly.protect_rtp(packet, &mut protected).unwrap();
            expected.extend_from_slice(&protected);
        }
        assert_eq!(run, expected, "{profile:?}");

        let mut plain = Vec::new();
        let segment = packets[0].len() + profile.rtp_overhead();
        for (datagram, packet) in run[4..].chunks(segment).zip(&packets) {
            receiver.unprotect_rtp(datagram, &mut plain).unwrap();
            assert_eq!(&plain, packet);
        }
        // A packet that cannot be protected leaves the buffer as it was.
        assert!(onto.protect_rtp_onto(&[0x80, 0], &mut run).is_err());
        assert_eq!(run, expected);
    }
}

#[test]
fn csrcs_and_extensions_stay_in_clear() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let packet = rtp_packet_with_extension(40, 300);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender.protect_rtp(&packet, &mut protected).unwrap();
        assert_eq!(protected[..28], packet[..28]);
        assert_ne!(protected[28..328], packet[28..]);
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
        assert_eq!(plain, packet);
    }
}

#[test]
fn empty_payloads_round_trip() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender
            .protect_rtp(&rtp_packet(9, 0), &mut protected)
            .unwrap();
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
        assert_eq!(plain, rtp_packet(9, 0));
    }
}

#[test]
fn rtcp_round_trip_for_every_profile() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        for packet in [rtcp_packet(), rtcp_compound(), rtcp_compound()] {
            sender.protect_rtcp(&packet, &mut protected).unwrap();
            assert_eq!(protected.len(), packet.len() + profile.rtcp_overhead());
            assert_eq!(
                protected[..8],
                packet[..8],
                "the first header stays in clear"
            );
            receiver.unprotect_rtcp(&protected, &mut plain).unwrap();
            assert_eq!(plain, packet);
        }
    }
}

#[test]
fn in_place_and_copying_agree() {
    for profile in PROFILES {
        let (mut copying, mut copying_receiver) = pair(profile);
        let (mut in_place, mut in_place_receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        for seq in 100..110 {
            let packet = rtp_packet_with_extension(seq, 500);
            copying.protect_rtp(&packet, &mut protected).unwrap();
            let mut buffer = packet.clone();
            in_place.protect_rtp_in_place(&mut buffer).unwrap();
            assert_eq!(buffer, protected, "{profile:?}");

            copying_receiver
                .unprotect_rtp(&protected, &mut plain)
                .unwrap();
            let plain_len = in_place_receiver
                .unprotect_rtp_in_place(&mut buffer)
                .unwrap();
            assert_eq!(buffer[..plain_len], plain[..]);
            assert_eq!(plain, packet);
        }
        let packet = rtcp_compound();
        copying.protect_rtcp(&packet, &mut protected).unwrap();
        let mut buffer = packet.clone();
        in_place.protect_rtcp_in_place(&mut buffer).unwrap();
        assert_eq!(buffer, protected);
        let plain_len = in_place_receiver
            .unprotect_rtcp_in_place(&mut buffer)
            .unwrap();
        assert_eq!(buffer[..plain_len], packet[..]);
    }
}

#[test]
fn in_place_protect_fills_spare_capacity_without_moving() {
    for profile in PROFILES {
        let (mut sender, _) = pair(profile);
        let mut packet = Vec::with_capacity(1200 + profile.rtp_overhead());
        packet.extend_from_slice(&rtp_packet(1, 1188));
        let before = packet.as_ptr();
        sender.protect_rtp_in_place(&mut packet).unwrap();
        assert_eq!(packet.as_ptr(), before);
        assert_eq!(packet.len(), 1200 + profile.rtp_overhead());
    }
}

#[test]
fn each_ssrc_has_its_own_sequence() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        for seq in [5u16, 6, 7] {
            for ssrc in [1u32, 2, 3] {
                let packet = rtp_packet_from(ssrc, seq.wrapping_mul(ssrc as u16), 40);
                sender.protect_rtp(&packet, &mut protected).unwrap();
                receiver.unprotect_rtp(&protected, &mut plain).unwrap();
                assert_eq!(plain, packet);

                let packet = rtcp_packet_from(ssrc);
                sender.protect_rtcp(&packet, &mut protected).unwrap();
                receiver.unprotect_rtcp(&protected, &mut plain).unwrap();
                assert_eq!(plain, packet);
            }
        }
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
    let mut edge = Vec::new();
    let mut protected = Vec::new();
    let mut plain = Vec::new();
    sender.protect_rtp(&rtp_packet(1, 20), &mut old).unwrap();
    sender.protect_rtp(&rtp_packet(2, 20), &mut edge).unwrap();
    for seq in 3..=513 {
        sender
            .protect_rtp(&rtp_packet(seq, 20), &mut protected)
            .unwrap();
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
    }
    // 513 - 2 = 511: the oldest index the 512-packet window still covers.
    receiver.unprotect_rtp(&edge, &mut plain).unwrap();
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
fn wrong_key_lengths_are_refused() {
    let (mut keys, _) = key_pair(SrtpProfile::AeadAes128Gcm);
    keys.remote.salt.push(0);
    let err = SrtpSession::new(&keys).err().unwrap();
    assert!(
        matches!(
            err,
            SrtpError::MasterKeyLength {
                salt: 13,
                expected_salt: 12,
                ..
            }
        ),
        "{err}"
    );
}

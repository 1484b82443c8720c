//! Forged, truncated, mutated and random input: always an error, never a panic, never a change
//! of state that a genuine packet would then trip over.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::super::SrtpError;
use super::super::ssrc_table::MAX_SSRCS;
use super::*;

#[test]
fn flipped_bit_fails_authentication() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender
            .protect_rtp(&rtp_packet(10, 100), &mut protected)
            .unwrap();
        for position in [1, 3, 11, 40, protected.len() - 1] {
            let mut forged = protected.clone();
            forged[position] ^= 0x01;
            let err = receiver.unprotect_rtp(&forged, &mut plain).unwrap_err();
            assert!(
                matches!(err, SrtpError::Authentication),
                "{profile:?} byte {position}: {err}"
            );
            assert!(plain.is_empty(), "no unauthenticated bytes handed on");
        }
        // The forgeries must not consume the sequence number of the real packet.
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();

        sender
            .protect_rtcp(&rtcp_compound(), &mut protected)
            .unwrap();
        for position in [1, 9, 30, protected.len() - 1] {
            let mut forged = protected.clone();
            forged[position] ^= 0x01;
            let err = receiver.unprotect_rtcp(&forged, &mut plain).unwrap_err();
            assert!(
                matches!(err, SrtpError::Authentication),
                "{profile:?} byte {position}: {err}"
            );
        }
        receiver.unprotect_rtcp(&protected, &mut plain).unwrap();
    }
}

#[test]
fn a_packet_keyed_for_someone_else_fails_authentication() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let (_, mut other_keys) = key_pair(profile);
        other_keys.remote.key[0] ^= 1;
        let mut other_receiver = SrtpSession::new(&other_keys).unwrap();
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender
            .protect_rtp(&rtp_packet(10, 100), &mut protected)
            .unwrap();
        let err = other_receiver
            .unprotect_rtp(&protected, &mut plain)
            .unwrap_err();
        assert!(matches!(err, SrtpError::Authentication), "{err}");
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
    }
}

#[test]
fn forgeries_from_new_ssrcs_claim_no_slot() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        for ssrc in 0..2 * MAX_SSRCS as u32 {
            let mut forged = rtp_packet_from(ssrc, 1, 40);
            forged.extend_from_slice(&[0; 16][..profile.rtp_overhead()]);
            let err = receiver.unprotect_rtp(&forged, &mut plain).unwrap_err();
            assert!(matches!(err, SrtpError::Authentication), "{err}");
        }
        sender
            .protect_rtp(&rtp_packet(10, 100), &mut protected)
            .unwrap();
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
    }
}

#[test]
fn ssrcs_beyond_the_limit_are_refused_both_ways() {
    let (mut sender, mut receiver) = pair(SrtpProfile::AeadAes128Gcm);
    let mut protected = Vec::new();
    let mut plain = Vec::new();
    for ssrc in 0..MAX_SSRCS as u32 {
        sender
            .protect_rtp(&rtp_packet_from(ssrc, 1, 10), &mut protected)
            .unwrap();
        receiver.unprotect_rtp(&protected, &mut plain).unwrap();
        sender
            .protect_rtcp(&rtcp_packet_from(ssrc), &mut protected)
            .unwrap();
        receiver.unprotect_rtcp(&protected, &mut plain).unwrap();
    }
    let extra = MAX_SSRCS as u32;
    let err = sender
        .protect_rtp(&rtp_packet_from(extra, 1, 10), &mut protected)
        .unwrap_err();
    assert!(matches!(err, SrtpError::TooManySsrcs), "{err}");
    let err = sender
        .protect_rtcp(&rtcp_packet_from(extra), &mut protected)
        .unwrap_err();
    assert!(matches!(err, SrtpError::TooManySsrcs), "{err}");

    let (mut fresh_sender, _) = pair(SrtpProfile::AeadAes128Gcm);
    fresh_sender
        .protect_rtp(&rtp_packet_from(extra, 1, 10), &mut protected)
        .unwrap();
    let err = receiver.unprotect_rtp(&protected, &mut plain).unwrap_err();
    assert!(matches!(err, SrtpError::TooManySsrcs), "{err}");
    // Known SSRCs keep working.
    sender
        .protect_rtp(&rtp_packet_from(3, 2, 10), &mut protected)
        .unwrap();
    receiver.unprotect_rtp(&protected, &mut plain).unwrap();
}

#[test]
fn truncated_input_errors_cleanly() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender
            .protect_rtp(&rtp_packet_with_extension(5, 30), &mut protected)
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
            let err = sender
                .protect_rtp(&rtp_packet(6, 0)[..len], &mut plain)
                .unwrap_err();
            assert!(matches!(err, SrtpError::Malformed(_)), "{err}");
        }
        for len in 0..27 {
            let packet = &rtp_packet_with_extension(6, 0)[..len];
            assert!(sender.protect_rtp(packet, &mut plain).is_err(), "{len}");
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

#[test]
fn unencrypted_srtcp_is_refused() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut protected = Vec::new();
        let mut plain = Vec::new();
        sender.protect_rtcp(&rtcp_packet(), &mut protected).unwrap();
        let e_flag_at = match profile {
            SrtpProfile::Aes128CmHmacSha1_80 => protected.len() - 14,
            _ => protected.len() - 4,
        };
        protected[e_flag_at] &= 0x7f;
        let err = receiver.unprotect_rtcp(&protected, &mut plain).unwrap_err();
        assert!(matches!(err, SrtpError::Malformed(_)), "{err}");
    }
}

/// Random bytes, and genuine packets with random bytes changed, cut or appended: 10,000 of each
/// kind per profile through both unprotect paths.
#[test]
fn random_and_mutated_packets_never_panic_or_pass() {
    let mut rng = StdRng::seed_from_u64(0x5eed_5eed);
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let mut genuine_rtp = Vec::new();
        let mut genuine_rtcp = Vec::new();
        sender
            .protect_rtp(&rtp_packet_with_extension(77, 64), &mut genuine_rtp)
            .unwrap();
        sender
            .protect_rtcp(&rtcp_compound(), &mut genuine_rtcp)
            .unwrap();
        let mut out = Vec::new();
        for round in 0..10_000 {
            let mut random = vec![0u8; rng.random_range(0..120)];
            rng.fill(&mut random[..]);
            if round % 2 == 0
                && let Some(first) = random.first_mut()
            {
                // Version 2, so the parsers get past the first check.
                *first = 0x80 | (*first & 0x3f);
            }
            assert!(receiver.unprotect_rtp(&random, &mut out).is_err());
            assert!(receiver.unprotect_rtcp(&random, &mut out).is_err());

            let rtp = mutate(&mut rng, &genuine_rtp);
            assert!(
                receiver.unprotect_rtp(&rtp, &mut out).is_err(),
                "{rtp:02x?}"
            );
            let rtcp = mutate(&mut rng, &genuine_rtcp);
            assert!(
                receiver.unprotect_rtcp(&rtcp, &mut out).is_err(),
                "{rtcp:02x?}"
            );
        }
        receiver.unprotect_rtp(&genuine_rtp, &mut out).unwrap();
        receiver.unprotect_rtcp(&genuine_rtcp, &mut out).unwrap();
    }
}

/// A copy of `packet` that differs from it: some bytes flipped, cut short, or extended.
fn mutate(rng: &mut StdRng, packet: &[u8]) -> Vec<u8> {
    let mut mutated = packet.to_vec();
    match rng.random_range(0..3) {
        0 => {
            for _ in 0..rng.random_range(1..4) {
                let position = rng.random_range(0..mutated.len());
                mutated[position] ^= rng.random_range(1..=255);
            }
        }
        1 => mutated.truncate(rng.random_range(0..packet.len())),
        _ => {
            let extra = rng.random_range(1..20);
            mutated.extend((0..extra).map(|_| rng.random::<u8>()));
        }
    }
    if mutated == packet {
        // Two flips of one byte cancelled out.
        mutated[0] ^= 1;
    }
    mutated
}

#[test]
fn garbage_never_panics_on_protect() {
    let mut rng = StdRng::seed_from_u64(0x2545_f491);
    for profile in PROFILES {
        let (mut sender, _) = pair(profile);
        let mut out = Vec::new();
        for _ in 0..4000 {
            let mut bytes = vec![0u8; rng.random_range(0..96)];
            rng.fill(&mut bytes[..]);
            let _ = sender.protect_rtp(&bytes, &mut out);
            let _ = sender.protect_rtcp(&bytes, &mut out);
        }
    }
}

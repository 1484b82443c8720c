//! The rollover counter across 65535 -> 0, in order and reordered, in both directions of an
//! association.

use super::super::SrtpError;
use super::*;

/// Sequence numbers from 65500 through the wrap to 100.
fn across_the_wrap() -> impl Iterator<Item = u16> {
    (65500..=65535).chain(0..=100)
}

/// Protects `seqs` in order and returns the packets with their plain originals.
fn protect_all(
    sender: &mut SrtpSession,
    seqs: impl Iterator<Item = u16>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    seqs.map(|seq| {
        let plain = rtp_packet(seq, 80);
        let mut protected = Vec::new();
        sender.protect_rtp(&plain, &mut protected).unwrap();
        (plain, protected)
    })
    .collect()
}

#[test]
fn in_order_across_the_wrap_both_ways() {
    for profile in PROFILES {
        let (mut client, mut server) = pair(profile);
        deliver_in_order(&mut client, &mut server);
        deliver_in_order(&mut server, &mut client);
    }
}

fn deliver_in_order(sender: &mut SrtpSession, receiver: &mut SrtpSession) {
    let mut out = Vec::new();
    for (plain, protected) in protect_all(sender, across_the_wrap()) {
        receiver.unprotect_rtp(&protected, &mut out).unwrap();
        assert_eq!(out, plain);
    }
}

#[test]
fn reordered_across_the_wrap_both_ways() {
    for profile in PROFILES {
        let (mut client, mut server) = pair(profile);
        deliver_reordered(&mut client, &mut server);
        deliver_reordered(&mut server, &mut client);
    }
}

fn deliver_reordered(sender: &mut SrtpSession, receiver: &mut SrtpSession) {
    // Delivery order, as positions in `across_the_wrap`: 35 is seq 65535, 36 is seq 0.
    let order = [
        30, 31, 36, 33, 38, 32, 34, 35, 37, 39, 40, 60, 41, 42, 43, 136, 50, 44, 45,
    ];
    let packets = protect_all(sender, across_the_wrap());
    let mut out = Vec::new();
    for position in order {
        let (plain, protected) = &packets[position];
        receiver.unprotect_rtp(protected, &mut out).unwrap();
        assert_eq!(&out, plain, "position {position}");
    }
    let (_, replayed) = &packets[35];
    let err = receiver.unprotect_rtp(replayed, &mut out).unwrap_err();
    assert!(matches!(err, SrtpError::Replay), "{err}");
}

#[test]
fn the_rollover_counter_changes_the_keystream() {
    for profile in PROFILES {
        let (mut wrapped, mut receiver) = pair(profile);
        let (mut fresh, _) = pair(profile);
        let mut out = Vec::new();
        let after_wrap = protect_all(&mut wrapped, [65535, 0].into_iter());
        let first_roll = protect_all(&mut fresh, [0].into_iter());
        assert_ne!(after_wrap[1].1, first_roll[0].1, "seq 0 with ROC 1 and 0");

        receiver.unprotect_rtp(&after_wrap[0].1, &mut out).unwrap();
        // After 65535 the receiver reads seq 0 as ROC 1, so a ROC 0 packet cannot verify.
        let err = receiver
            .unprotect_rtp(&first_roll[0].1, &mut out)
            .unwrap_err();
        assert!(matches!(err, SrtpError::Authentication), "{err}");
        receiver.unprotect_rtp(&after_wrap[1].1, &mut out).unwrap();
    }
}

#[test]
fn a_resend_from_before_the_wrap_keeps_its_rollover_counter() {
    for profile in PROFILES {
        let (mut sender, mut receiver) = pair(profile);
        let packets = protect_all(&mut sender, [65534, 65535, 0, 1].into_iter());
        let resent = protect_all(&mut sender, [65535, 2].into_iter());
        assert_eq!(resent[0].1, packets[1].1, "same index, same bytes");
        let mut out = Vec::new();
        for (plain, protected) in [&packets[0], &packets[2], &resent[0], &resent[1]] {
            receiver.unprotect_rtp(protected, &mut out).unwrap();
            assert_eq!(&out, plain);
        }
    }
}

#[test]
fn several_wraps_in_a_row() {
    let (mut sender, mut receiver) = pair(SrtpProfile::Aes128CmHmacSha1_80);
    let mut protected = Vec::new();
    let mut out = Vec::new();
    for step in 0..3 * 65536u32 / 1000 {
        let seq = (step * 1000) as u16;
        let plain = rtp_packet(seq, 20);
        sender.protect_rtp(&plain, &mut protected).unwrap();
        receiver.unprotect_rtp(&protected, &mut out).unwrap();
        assert_eq!(out, plain);
    }
}

//! IceLite driven by a simulated controlling browser under simulated time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_rs::MessageClass;

use super::test_peer::{CheckRequest, verify_response};
use super::{IceCredentials, IceError, IceEvent, IceLite};

const LOCAL_UFRAG: &str = "LoCaL123";
const LOCAL_PWD: &str = "LocalPasswordOf24Chars00";
const REMOTE_UFRAG: &str = "rmte";
const CONSENT: Duration = Duration::from_secs(30);

fn host() -> SocketAddr {
    "192.0.2.10:50000".parse().unwrap()
}

fn peer_reflexive() -> SocketAddr {
    "198.51.100.7:61000".parse().unwrap()
}

fn agent(now: Instant) -> IceLite {
    let local = IceCredentials {
        ufrag: LOCAL_UFRAG.into(),
        pwd: LOCAL_PWD.into(),
    };
    IceLite::new(local, REMOTE_UFRAG.into(), now)
}

fn valid_check() -> CheckRequest {
    CheckRequest::new(&format!("{LOCAL_UFRAG}:{REMOTE_UFRAG}"), LOCAL_PWD)
}

fn events(ice: &mut IceLite) -> Vec<IceEvent> {
    std::iter::from_fn(|| ice.poll_event()).collect()
}

#[test]
fn valid_check_is_answered_with_a_signed_response() {
    let now = Instant::now();
    let mut ice = agent(now);
    let request = valid_check().with_transaction_id(42);
    ice.handle_receive(now, host(), &request.encode()).unwrap();

    let transmit = ice.poll_transmit().unwrap();
    assert_eq!(transmit.destination, host());
    let response = verify_response(&transmit.contents, LOCAL_PWD).unwrap();
    assert_eq!(response.transaction_id, request.transaction_id);
    assert_eq!(response.mapped, host());
    assert!(ice.poll_transmit().is_none());
    // Signed with our pwd, not anything else.
    assert!(verify_response(&transmit.contents, "SomeOtherPassword0000000").is_err());
}

#[test]
fn valid_check_verifies_its_source_and_selects_it_without_nomination() {
    let now = Instant::now();
    let mut ice = agent(now);
    assert!(!ice.is_verified(host()));
    assert_eq!(ice.selected(), None);
    ice.handle_receive(now, host(), &valid_check().encode())
        .unwrap();
    assert!(ice.is_verified(host()));
    assert_eq!(ice.selected(), Some(host()));
    assert_eq!(events(&mut ice), [IceEvent::Selected(host())]);
}

/// Each of these must be refused with the given error, answered with nothing, and leave
/// verification, selection, consent and events untouched.
fn assert_refused(datagram: &[u8], expected: IceError) {
    let start = Instant::now();
    let mut ice = agent(start);
    let deadline = ice.poll_timeout();
    let result = ice.handle_receive(start + Duration::from_secs(1), host(), datagram);
    assert_eq!(result, Err(expected));
    assert!(ice.poll_transmit().is_none());
    assert!(ice.poll_event().is_none());
    assert!(!ice.is_verified(host()));
    assert_eq!(ice.selected(), None);
    assert_eq!(ice.poll_timeout(), deadline);
}

#[test]
fn wrong_local_ufrag_is_refused() {
    let request = CheckRequest::new(&format!("someone:{REMOTE_UFRAG}"), LOCAL_PWD);
    assert_refused(&request.encode(), IceError::WrongUsername);
}

#[test]
fn wrong_remote_ufrag_is_refused() {
    let request = CheckRequest::new(&format!("{LOCAL_UFRAG}:other"), LOCAL_PWD);
    assert_refused(&request.encode(), IceError::WrongUsername);
}

#[test]
fn wrong_password_is_refused() {
    let mut request = valid_check();
    request.pwd = "NotTheLocalPassword00000".into();
    assert_refused(&request.encode(), IceError::BadIntegrity);
}

#[test]
fn missing_integrity_is_refused() {
    let mut request = valid_check();
    request.integrity = false;
    assert_refused(&request.encode(), IceError::MissingIntegrity);
}

#[test]
fn missing_fingerprint_is_refused() {
    let mut request = valid_check();
    request.fingerprint = false;
    assert_refused(&request.encode(), IceError::MissingFingerprint);
}

#[test]
fn corrupted_bytes_are_refused() {
    let datagram = valid_check().encode();
    // Flip one bit in every byte of the body, one at a time: each is caught by framing,
    // the fingerprint or the integrity check.
    for index in 0..datagram.len() {
        let mut corrupted = datagram.clone();
        corrupted[index] ^= 0x01;
        let mut ice = agent(Instant::now());
        let result = ice.handle_receive(Instant::now(), host(), &corrupted);
        assert!(result.is_err(), "bit flip at byte {index} accepted");
        assert!(ice.poll_transmit().is_none());
        assert!(!ice.is_verified(host()));
    }
    let mut flipped = datagram;
    let body = flipped.len() / 2;
    flipped[body] ^= 0x80;
    assert_refused(&flipped, IceError::BadFingerprint);
}

#[test]
fn a_response_is_not_a_check() {
    let mut request = valid_check();
    request.class = MessageClass::SuccessResponse;
    assert_refused(&request.encode(), IceError::NotBindingRequest);
}

#[test]
fn truncated_and_garbage_datagrams_are_refused() {
    let datagram = valid_check().encode();
    for len in 0..datagram.len() {
        let mut ice = agent(Instant::now());
        assert!(
            ice.handle_receive(Instant::now(), host(), &datagram[..len])
                .is_err()
        );
        assert!(ice.poll_transmit().is_none());
    }
    let mut padded = datagram;
    padded.extend_from_slice(&[0, 0, 0, 0]);
    assert_refused(&padded, IceError::Malformed);
    assert_refused(&[], IceError::Malformed);
    assert_refused(&[0x00, 0x01, 0x00, 0x00], IceError::Malformed);
    assert_refused(&[0xff; 100], IceError::Malformed);
}

#[test]
fn pseudo_random_garbage_never_panics_or_verifies() {
    // A fixed xorshift stream keeps this deterministic; every datagram starts like STUN so
    // that it reaches the attribute parser.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut ice = agent(Instant::now());
    for round in 0..2000 {
        let len = 20 + round % 80;
        let mut datagram: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        datagram[0] &= 0x01;
        datagram[2] = 0;
        datagram[3] = (len - 20) as u8;
        datagram[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
        if let Ok(()) = ice.handle_receive(Instant::now(), host(), &datagram) {
            // Only indications can pass without credentials.
            assert_eq!(datagram[1] & 0x10, 0x10);
        }
    }
    assert!(ice.poll_transmit().is_none());
    assert!(!ice.is_verified(host()));
}

#[test]
fn binding_indication_is_accepted_silently() {
    let now = Instant::now();
    let mut ice = agent(now);
    let mut keepalive = valid_check();
    keepalive.class = MessageClass::Indication;
    keepalive.integrity = false;
    assert_eq!(ice.handle_receive(now, host(), &keepalive.encode()), Ok(()));
    assert!(ice.poll_transmit().is_none());
    assert!(ice.poll_event().is_none());
    assert!(!ice.is_verified(host()));
}

#[test]
fn use_candidate_selects_and_later_nominations_move_the_selection() {
    let now = Instant::now();
    let mut ice = agent(now);
    ice.handle_receive(now, host(), &valid_check().nominating().encode())
        .unwrap();
    assert_eq!(ice.selected(), Some(host()));
    assert_eq!(events(&mut ice), [IceEvent::Selected(host())]);

    // A later check without nomination verifies but does not move a nominated selection.
    let later = now + Duration::from_secs(1);
    ice.handle_receive(later, peer_reflexive(), &valid_check().encode())
        .unwrap();
    assert!(ice.is_verified(peer_reflexive()));
    assert_eq!(ice.selected(), Some(host()));
    assert!(ice.poll_event().is_none());

    // Past the round of the first nomination, a new one moves media even to a pair of
    // lower priority: the controlling agent chose it.
    let moved = now + Duration::from_secs(3);
    let lower = valid_check().nominating().with_priority(0x6e00_0001);
    ice.handle_receive(moved, peer_reflexive(), &lower.encode())
        .unwrap();
    assert_eq!(ice.selected(), Some(peer_reflexive()));
    assert_eq!(events(&mut ice), [IceEvent::Selected(peer_reflexive())]);
    assert!(ice.is_verified(host()));
}

#[test]
fn within_a_round_of_nominations_the_highest_priority_pair_wins() {
    let now = Instant::now();
    let mut ice = agent(now);
    let third: SocketAddr = "203.0.113.9:4000".parse().unwrap();
    let check = |priority| valid_check().nominating().with_priority(priority).encode();
    ice.handle_receive(now, host(), &check(1000)).unwrap();
    assert_eq!(ice.selected(), Some(host()));
    // An aggressive controlling agent nominates every pair that works, in any order.
    let soon = now + Duration::from_millis(300);
    ice.handle_receive(soon, peer_reflexive(), &check(999))
        .unwrap();
    assert_eq!(ice.selected(), Some(host()), "a lower priority loses");
    ice.handle_receive(soon, third, &check(5000)).unwrap();
    assert_eq!(ice.selected(), Some(third), "a higher priority wins");
    // The winner checking again does not restart the round.
    ice.handle_receive(now + Duration::from_millis(1900), third, &check(5000))
        .unwrap();
    ice.handle_receive(now + Duration::from_millis(2400), host(), &check(1000))
        .unwrap();
    assert_eq!(
        ice.selected(),
        Some(host()),
        "after the round the latest wins"
    );
    assert_eq!(
        events(&mut ice),
        [
            IceEvent::Selected(host()),
            IceEvent::Selected(third),
            IceEvent::Selected(host())
        ]
    );
}

#[test]
fn peer_reflexive_source_is_answered_at_its_own_address() {
    let now = Instant::now();
    let mut ice = agent(now);
    ice.handle_receive(now, peer_reflexive(), &valid_check().nominating().encode())
        .unwrap();
    let transmit = ice.poll_transmit().unwrap();
    assert_eq!(transmit.destination, peer_reflexive());
    let response = verify_response(&transmit.contents, LOCAL_PWD).unwrap();
    assert_eq!(response.mapped, peer_reflexive());
    assert_eq!(ice.selected(), Some(peer_reflexive()));
}

#[test]
fn without_nomination_the_most_recently_verified_address_is_selected() {
    let now = Instant::now();
    let mut ice = agent(now);
    ice.handle_receive(now, host(), &valid_check().encode())
        .unwrap();
    ice.handle_receive(now, peer_reflexive(), &valid_check().encode())
        .unwrap();
    assert_eq!(ice.selected(), Some(peer_reflexive()));
    assert_eq!(
        events(&mut ice),
        [
            IceEvent::Selected(host()),
            IceEvent::Selected(peer_reflexive())
        ]
    );
}

#[test]
fn ipv6_checks_are_answered_with_an_ipv6_mapped_address() {
    let now = Instant::now();
    let mut ice = agent(now);
    let source: SocketAddr = "[2001:db8::17]:51234".parse().unwrap();
    ice.handle_receive(now, source, &valid_check().nominating().encode())
        .unwrap();
    let transmit = ice.poll_transmit().unwrap();
    assert_eq!(transmit.destination, source);
    assert_eq!(
        verify_response(&transmit.contents, LOCAL_PWD)
            .unwrap()
            .mapped,
        source
    );
    assert_eq!(ice.selected(), Some(source));
}

#[test]
fn ipv4_mapped_sources_are_reported_as_ipv4() {
    let now = Instant::now();
    let mut ice = agent(now);
    let source: SocketAddr = "[::ffff:192.0.2.10]:50000".parse().unwrap();
    ice.handle_receive(now, source, &valid_check().encode())
        .unwrap();
    let transmit = ice.poll_transmit().unwrap();
    assert_eq!(transmit.destination, source);
    let response = verify_response(&transmit.contents, LOCAL_PWD).unwrap();
    assert_eq!(response.mapped, host());
}

#[test]
fn consent_expires_once_thirty_seconds_after_the_last_check() {
    let start = Instant::now();
    let mut ice = agent(start);
    ice.handle_receive(start, host(), &valid_check().nominating().encode())
        .unwrap();
    assert!(ice.poll_transmit().is_some());
    events(&mut ice);
    assert_eq!(ice.poll_timeout(), Some(start + CONSENT));

    ice.handle_timeout(start + CONSENT - Duration::from_millis(1));
    assert!(ice.poll_event().is_none());
    ice.handle_timeout(start + CONSENT);
    assert_eq!(events(&mut ice), [IceEvent::ConsentExpired]);
    assert_eq!(ice.poll_timeout(), None);

    ice.handle_timeout(start + CONSENT * 2);
    assert!(ice.poll_event().is_none());
    // An expired session does not come back to life.
    let late = ice.handle_receive(start + CONSENT * 2, host(), &valid_check().encode());
    assert_eq!(late, Err(IceError::ConsentExpired));
    assert!(ice.poll_transmit().is_none());
    assert!(ice.poll_event().is_none());
}

#[test]
fn periodic_checks_keep_consent_alive_for_minutes() {
    let start = Instant::now();
    let mut ice = agent(start);
    let mut now = start;
    for round in 0..120u8 {
        ice.handle_receive(
            now,
            host(),
            &valid_check()
                .nominating()
                .with_transaction_id(round)
                .encode(),
        )
        .unwrap();
        assert!(ice.poll_transmit().is_some());
        now += Duration::from_secs(5);
        ice.handle_timeout(now);
    }
    // Ten minutes of simulated time: selected once, never expired.
    assert_eq!(events(&mut ice), [IceEvent::Selected(host())]);
    assert_eq!(
        ice.poll_timeout(),
        Some(now - Duration::from_secs(5) + CONSENT)
    );
}

#[test]
fn a_session_that_never_completes_a_check_expires() {
    let start = Instant::now();
    let mut ice = agent(start);
    assert_eq!(ice.poll_timeout(), Some(start + CONSENT));
    // Refused checks do not count as consent.
    let mut forged = valid_check();
    forged.pwd = "NotTheLocalPassword00000".into();
    for second in [5, 10, 20] {
        let now = start + Duration::from_secs(second);
        assert!(ice.handle_receive(now, host(), &forged.encode()).is_err());
        ice.handle_timeout(now);
    }
    assert!(ice.poll_event().is_none());
    ice.handle_timeout(start + CONSENT);
    assert_eq!(events(&mut ice), [IceEvent::ConsentExpired]);
    assert_eq!(ice.selected(), None);
}

#[test]
fn a_check_arriving_after_the_deadline_expires_instead_of_refreshing() {
    let start = Instant::now();
    let mut ice = agent(start);
    let late = start + CONSENT + Duration::from_millis(1);
    let result = ice.handle_receive(late, host(), &valid_check().encode());
    assert_eq!(result, Err(IceError::ConsentExpired));
    assert_eq!(events(&mut ice), [IceEvent::ConsentExpired]);
    assert!(ice.poll_transmit().is_none());
}

#[test]
fn verified_addresses_are_bounded_but_keep_the_nominated_one() {
    let now = Instant::now();
    let mut ice = agent(now);
    ice.handle_receive(now, host(), &valid_check().nominating().encode())
        .unwrap();
    let others: Vec<SocketAddr> = (1..=20)
        .map(|port| SocketAddr::new("203.0.113.1".parse().unwrap(), port))
        .collect();
    for source in &others {
        ice.handle_receive(now, *source, &valid_check().encode())
            .unwrap();
    }
    assert!(ice.is_verified(host()));
    assert_eq!(ice.selected(), Some(host()));
    assert!(!ice.is_verified(others[0]));
    assert!(ice.is_verified(others[19]));
}

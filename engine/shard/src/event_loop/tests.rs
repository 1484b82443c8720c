//! The loop against a real socket and ring: sends leave from the right address, receives
//! report where they arrived, wakes re-arm. The multishot receive and the I/O counters have
//! their own file, `receive_tests`; runs (UDP GSO) theirs, `gso_tests`; a turn's bounds
//! theirs, `turn_tests`.

use super::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::SystemTime;

use shardcast_proto::clock::WallClock;
use shardcast_proto::dtls::{Certificate, DtlsConfig};
use shardcast_proto::shard::ShardConfig;

/// Upper bound for conditions that normally hold within milliseconds.
pub(super) const PATIENCE: Duration = Duration::from_secs(10);

pub(super) fn armed_shard() -> ArmedShard {
    armed_shard_on(None)
}

fn armed_shard_on(bind: Option<IpAddr>) -> ArmedShard {
    armed_shard_with(bind, RECV_BUFFERS)
}

/// A probe period no test outlasts: the core has no deadline unless a test gives it one.
const QUIET_PROBE: Duration = Duration::from_secs(3600);

/// A shard on `bind` (dual-stack by default) with `recv_buffers` receive buffers.
pub(super) fn armed_shard_with(bind: Option<IpAddr>, recv_buffers: u16) -> ArmedShard {
    armed_shard_probing(bind, recv_buffers, QUIET_PROBE, Instant::now())
}

/// A shard whose core, made at `core_now`, has its timer probe due every `probe_period`.
pub(super) fn armed_shard_probing(
    bind: Option<IpAddr>,
    recv_buffers: u16,
    probe_period: Duration,
    core_now: Instant,
) -> ArmedShard {
    let config = ShardConfig {
        index: 0,
        shards: 1,
        candidates: Vec::new(),
        certificate: Arc::new(Certificate::generate().unwrap()),
        dtls: DtlsConfig::new().unwrap(),
        wall_clock: WallClock::new(
            Instant::now(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap(),
        ),
        seed: 7,
        probe_period,
        keyframe_interval: shardcast_proto::session::DEFAULT_KEYFRAME_INTERVAL,
        join_window: shardcast_proto::shard::DEFAULT_JOIN_WINDOW,
    };
    let waker = Arc::new(Waker::new().unwrap());
    let (_requests, control) = mpsc::channel();
    ShardLoop {
        index: 0,
        core: ShardCore::new(config, core_now),
        socket: UdpSocket::bind(bind, 0).unwrap(),
        links: crate::mesh::mesh(&[Arc::clone(&waker)], 1).remove(0),
        control,
        waker,
        stopping: Arc::new(AtomicBool::new(false)),
        counters: Arc::new(ShardCounters::default()),
    }
    .arm_with(recv_buffers)
    .unwrap()
}

/// Submits and handles completions until every send has completed.
pub(super) fn finish_sends(armed: &mut ArmedShard) {
    let give_up = Instant::now() + PATIENCE;
    while armed.uring.sends.in_flight() > 0 && Instant::now() < give_up {
        armed.uring.submit_and_wait(false, give_up).unwrap();
        armed.handle_completions(Instant::now()).unwrap();
    }
    assert_eq!(armed.uring.sends.in_flight(), 0);
    assert_eq!(armed.shard.counters.snapshot().send_errors, 0);
}

/// Sends `contents` from the shard to `peer`, from `source` when given, and returns where
/// the peer saw it come from.
fn send_and_receive(
    armed: &mut ArmedShard,
    peer: &std::net::UdpSocket,
    source: Option<IpAddr>,
) -> SocketAddr {
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    let destination = armed
        .shard
        .socket
        .destination_for(peer.local_addr().unwrap())
        .unwrap();
    let source = source.map(|ip| SourceAddress::for_destination(destination, ip).unwrap());
    let mut vacant = armed.uring.sends.vacant().unwrap();
    vacant.buffer().clear();
    vacant.buffer().extend_from_slice(b"out");
    let started = vacant.start(destination, source, None);
    armed.uring.push_send(started, 1).unwrap();
    assert_eq!(armed.uring.sends.in_flight(), 1);
    finish_sends(armed);
    let mut buffer = [0; 16];
    let (length, from) = peer.recv_from(&mut buffer).unwrap();
    assert_eq!(&buffer[..length], b"out");
    from
}

/// A datagram as the core would be handed it: source, local address, contents.
pub(super) type Datagram = (SocketAddr, Option<IpAddr>, Vec<u8>);

/// One submit and wait (until `deadline` at the latest), then the receive completions handled
/// as the loop handles them, with the datagrams collected rather than given to the core.
/// Completions of other operations are left unhandled.
pub(super) fn receive_turn(armed: &mut ArmedShard, deadline: Instant) -> Vec<Datagram> {
    armed.uring.submit_and_wait(false, deadline).unwrap();
    let completions: Vec<crate::uring::Completion> = armed
        .uring
        .ring
        .completion()
        .map(|entry| (entry.user_data(), entry.result(), entry.flags()))
        .collect();
    let mut datagrams = Vec::new();
    for (user_data, result, flags) in completions {
        if split_user_data(user_data).0 == KIND_RECV {
            let deliver = |received: Received<'_>| {
                datagrams.push((received.source, received.local, received.datagram.to_vec()));
            };
            armed.uring.complete_recv((result, flags), deliver).unwrap();
        }
    }
    datagrams
}

/// Drives the ring until `count` datagrams have arrived, and no more.
pub(super) fn receive(armed: &mut ArmedShard, count: usize) -> Vec<Datagram> {
    let give_up = Instant::now() + PATIENCE;
    let mut datagrams = Vec::new();
    while datagrams.len() < count && Instant::now() < give_up {
        datagrams.extend(receive_turn(armed, give_up));
    }
    assert_eq!(datagrams.len(), count, "datagrams within {PATIENCE:?}");
    datagrams
}

/// Drives the ring until a datagram arrives and returns what the core would be handed.
fn next_datagram(armed: &mut ArmedShard) -> Datagram {
    receive(armed, 1).remove(0)
}

/// A socket on loopback address `ip`, or `None` when the host has no such address.
pub(super) fn peer_on(ip: IpAddr) -> Option<std::net::UdpSocket> {
    std::net::UdpSocket::bind((ip, 0)).ok()
}

pub(super) const V4_LOOPBACK_2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
pub(super) const V4_LOOPBACK_3: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

#[test]
fn a_send_reaches_an_ipv4_peer_and_frees_its_slot() {
    let mut armed = armed_shard();
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let from = send_and_receive(&mut armed, &peer, None);
    let shard_port = armed.shard.socket.local_addr().port();
    assert_eq!(from, SocketAddr::from((Ipv4Addr::LOCALHOST, shard_port)));
}

#[test]
fn sends_go_through_the_fixed_socket_or_its_descriptor() {
    let mut armed = armed_shard();
    assert_eq!(armed.uring.socket, SocketTarget::Fixed, "registered");
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let shard = SocketAddr::from((Ipv4Addr::LOCALHOST, armed.shard.socket.local_addr().port()));
    assert_eq!(send_and_receive(&mut armed, &peer, None), shard);
    // The fallback when the kernel will not register it.
    armed.uring.socket = SocketTarget::Descriptor(armed.shard.socket.as_raw_fd());
    assert_eq!(send_and_receive(&mut armed, &peer, None), shard);
}

/// The default (dual-stack) socket and an IPv4-only one: IPV6_PKTINFO with v4-mapped
/// addresses and IP_PKTINFO.
pub(super) fn wildcard_shards() -> [ArmedShard; 2] {
    [
        armed_shard(),
        armed_shard_on(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
    ]
}

#[test]
fn a_receive_reports_the_ipv4_address_it_was_sent_to() {
    for mut armed in wildcard_shards() {
        let port = armed.shard.socket.local_addr().port();
        let peer = peer_on(V4_LOOPBACK_2).unwrap();
        for local in [IpAddr::V4(Ipv4Addr::LOCALHOST), V4_LOOPBACK_3] {
            peer.send_to(b"check", (local, port)).unwrap();
            let (source, reported, datagram) = next_datagram(&mut armed);
            assert_eq!(source, peer.local_addr().unwrap());
            assert_eq!(reported, Some(local), "{}", armed.shard.socket.local_addr());
            assert_eq!(datagram, b"check");
        }
    }
}

#[test]
fn a_receive_reports_the_ipv6_address_it_was_sent_to() {
    let mut armed = armed_shard();
    let Some(peer) = peer_on(IpAddr::V6(Ipv6Addr::LOCALHOST)) else {
        return;
    };
    assert!(armed.shard.socket.is_dual_stack());
    let port = armed.shard.socket.local_addr().port();
    peer.send_to(b"check", (Ipv6Addr::LOCALHOST, port)).unwrap();
    let (source, local, _) = next_datagram(&mut armed);
    assert_eq!(source, peer.local_addr().unwrap());
    assert_eq!(local, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
}

#[test]
fn a_send_leaves_from_the_ipv4_source_it_names() {
    for mut armed in wildcard_shards() {
        let port = armed.shard.socket.local_addr().port();
        // Without a source the kernel picks 127.0.0.1 for this peer; each named one wins.
        let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for source in [V4_LOOPBACK_2, V4_LOOPBACK_3] {
            let from = send_and_receive(&mut armed, &peer, Some(source));
            assert_eq!(from, SocketAddr::new(source, port));
        }
    }
}

#[test]
fn a_send_leaves_from_the_ipv6_source_it_names() {
    let mut armed = armed_shard();
    let Some(peer) = peer_on(IpAddr::V6(Ipv6Addr::LOCALHOST)) else {
        return;
    };
    let source = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let from = send_and_receive(&mut armed, &peer, Some(source));
    let port = armed.shard.socket.local_addr().port();
    assert_eq!(from, SocketAddr::new(source, port));
}

#[test]
fn a_wake_completes_and_is_rearmed() {
    let mut armed = armed_shard();
    for _ in 0..2 {
        armed.shard.waker.wake();
        let give_up = Instant::now() + Duration::from_secs(10);
        armed.uring.submit_and_wait(false, give_up).unwrap();
        armed.handle_completions(Instant::now()).unwrap();
        // The read consumed the counter; a pending read is armed again for the next wake.
        assert_eq!(armed.shard.waker.take(), 0);
    }
}

#[test]
fn a_turn_that_does_not_wait_still_reaps_deferred_completions() {
    let mut armed = armed_shard();
    assert_eq!(
        armed.uring.setup,
        RingSetup::DeferTaskrun,
        "Linux 6.1 or later"
    );
    for _ in 0..2 {
        armed.shard.waker.wake();
        // A busy turn's enter: no wait, yet the wake's read completes in it and is re-armed.
        armed.uring.submit_and_wait(true, Instant::now()).unwrap();
        assert_eq!(armed.uring.ring.completion().len(), 1);
        armed.handle_completions(Instant::now()).unwrap();
        assert_eq!(armed.shard.waker.take(), 0);
    }
}

/// Has the core answer `count` checks from `peer`: that many datagrams wait in it.
pub(super) fn queue_answers(armed: &mut ArmedShard, peer: &std::net::UdpSocket, count: usize) {
    let check = session_check(armed);
    let source = peer.local_addr().unwrap();
    for _ in 0..count {
        armed
            .shard
            .core
            .handle_receive(Instant::now(), source, None, &check);
    }
}

/// Creates a viewer session in the core and returns a signed check for it, which the core
/// answers every time it receives it.
pub(super) fn session_check(armed: &mut ArmedShard) -> Vec<u8> {
    use shardcast_control::{
        Codec, CodecName, DtlsRole, MediaKind, MediaSection, Request, Response, Role,
        SessionRequest,
    };
    use stun_rs::attributes::stun::{Fingerprint, MessageIntegrity, UserName};
    use stun_rs::{HMACKey, MessageClass, MessageEncoder, StunMessageBuilder, TransactionId};

    let request = SessionRequest {
        session: "viewer".into(),
        role: Role::Play,
        stream: "s".into(),
        remote_ufrag: "peer".into(),
        remote_pwd: "peerpassword0123456789".into(),
        remote_fingerprint: Certificate::generate().unwrap().fingerprint().clone(),
        dtls_role: DtlsRole::Server,
        media: vec![MediaSection {
            mid: "0".into(),
            kind: MediaKind::Audio,
            codecs: vec![Codec {
                payload_type: 111,
                name: CodecName::Opus,
                clock_rate: 48_000,
                channels: Some(2),
                fmtp: String::new(),
                rtx_payload_type: None,
                feedback: Vec::new(),
            }],
            extensions: Vec::new(),
            ssrcs: Vec::new(),
            rtx_pairs: Vec::new(),
            simulcast: Vec::new(),
        }],
        layer: None,
    };
    let response = armed
        .shard
        .core
        .handle_control(Instant::now(), Request::CreateSession(request));
    let Response::Session(answer) = response else {
        panic!("session refused: {response:?}");
    };
    let username = format!("{}:peer", answer.ice_ufrag);
    let check = StunMessageBuilder::new(stun_rs::methods::BINDING, MessageClass::Request)
        .with_transaction_id(TransactionId::from([1; 12]))
        .with_attribute(UserName::new(username).unwrap())
        .with_attribute(MessageIntegrity::new(
            HMACKey::new_short_term(&answer.ice_pwd).unwrap(),
        ))
        .with_attribute(Fingerprint::default())
        .build();
    let mut buffer = vec![0; 256];
    let length = MessageEncoder::default()
        .encode(&mut buffer, &check)
        .unwrap();
    buffer.truncate(length);
    buffer
}

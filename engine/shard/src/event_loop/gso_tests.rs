//! Runs against a real socket and ring: one GSO send reaches a plain receiver (UDP_GRO off)
//! as its separate datagrams, in order and at their sizes; a run the kernel refuses to
//! segment turns GSO off and still arrives whole, one datagram at a time; and a frame the
//! core fans out to connected viewers leaves as one send per viewer.

use super::tests::{PATIENCE, armed_shard, finish_sends};
use super::*;
use crate::uring::DATAGRAMS_PER_SUBMIT;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use shardcast_control::{MediaKind, Request, Role};
use shardcast_proto::rtp::RtpHeader;
use shardcast_proto::shard::sim_net::vp8;
use shardcast_proto::shard::sim_peer::{SimPeer, sections};

/// Datagram sizes of the run: all but the last the segment size.
const SIZES: [usize; 4] = [300, 300, 300, 120];
const SEGMENT_SIZE: u16 = 300;

/// A receiver on 127.0.0.1 with nothing set: it gets datagrams one by one, as a peer does.
fn receiver() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket
}

/// Queues the run of `SIZES` datagrams, datagram `i` made of byte `i`, to `peer`.
fn send_run(armed: &mut ArmedShard, peer: &std::net::UdpSocket) {
    let destination = armed
        .shard
        .socket
        .destination_for(peer.local_addr().unwrap())
        .unwrap();
    let mut vacant = armed.uring.sends.vacant().unwrap();
    let buffer = vacant.buffer();
    buffer.clear();
    for (number, size) in (0u8..).zip(SIZES) {
        buffer.resize(buffer.len() + size, number);
    }
    let started = vacant.start(destination, None, Some(SEGMENT_SIZE));
    armed.uring.push_send(started, SIZES.len()).unwrap();
}

/// Receives the run's datagrams and checks each one's size, contents and source.
fn assert_run_received(armed: &ArmedShard, peer: &std::net::UdpSocket) {
    let shard_port = armed.shard.socket.local_addr().port();
    let mut buffer = [0; 2048];
    for (number, size) in (0u8..).zip(SIZES) {
        let (length, from) = peer.recv_from(&mut buffer).unwrap();
        assert_eq!(from, SocketAddr::from((Ipv4Addr::LOCALHOST, shard_port)));
        assert_eq!(length, size, "datagram {number}");
        assert!(buffer[..length].iter().all(|&byte| byte == number));
    }
    peer.set_nonblocking(true).unwrap();
    assert!(peer.recv_from(&mut buffer).is_err(), "nothing more");
}

#[test]
fn a_run_arrives_as_its_datagrams_at_their_sizes_and_in_order() {
    let mut armed = armed_shard();
    assert!(
        armed.uring.gso,
        "the startup probe finds UDP GSO on this kernel"
    );
    let peer = receiver();
    send_run(&mut armed, &peer);
    assert_eq!(armed.uring.sends.in_flight(), 1, "one send for the run");
    finish_sends(&mut armed);
    assert_run_received(&armed, &peer);
    let counts = armed.shard.counters.snapshot();
    assert_eq!((counts.send_sqes, counts.gso_fallbacks), (1, 0));
    assert!(armed.uring.gso);
}

#[test]
fn runs_are_submitted_mid_turn_by_the_datagrams_they_carry() {
    let mut armed = armed_shard();
    let peer = receiver();
    let runs = DATAGRAMS_PER_SUBMIT / SIZES.len();
    let before = armed.shard.counters.snapshot();
    for _ in 1..runs {
        send_run(&mut armed, &peer);
    }
    let queued = armed.shard.counters.snapshot();
    assert_eq!(queued.submit_syscalls, before.submit_syscalls, "not yet");
    send_run(&mut armed, &peer);
    let submitted = armed.shard.counters.snapshot();
    assert_eq!(submitted.submit_syscalls, before.submit_syscalls + 1);
    assert_eq!(
        submitted.sqes_submitted - before.sqes_submitted,
        runs as u64
    );
    finish_sends(&mut armed);
    let mut buffer = [0; 2048];
    for _ in 0..runs * SIZES.len() {
        peer.recv_from(&mut buffer).unwrap();
    }
}

#[test]
fn a_refused_run_turns_gso_off_and_goes_out_one_datagram_at_a_time() {
    let mut armed = armed_shard();
    // The kernel will not segment for a socket that sends without UDP checksums: every GSO
    // send fails with EINVAL, while single datagrams still go.
    let on: libc::c_int = 1;
    // SAFETY: passes a live c_int and its size to the shard's own socket.
    let set = unsafe {
        libc::setsockopt(
            armed.shard.socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0);
    let peer = receiver();
    send_run(&mut armed, &peer);
    finish_sends(&mut armed);

    assert_run_received(&armed, &peer);
    let counts = armed.shard.counters.snapshot();
    assert_eq!(counts.gso_fallbacks, 1);
    assert_eq!(counts.send_errors, 0);
    // The run's send, then each datagram again on its own.
    assert_eq!(counts.send_sqes, 1 + SIZES.len() as u64);
    assert!(
        !armed.uring.gso,
        "the shard sends single datagrams from now on"
    );
}

/// A peer of the core's simulation on a real loopback socket.
struct LoopbackPeer {
    socket: std::net::UdpSocket,
    peer: SimPeer,
}

impl LoopbackPeer {
    /// Joins the shard's core as `role` of stream "s" and takes its answer.
    fn join(armed: &mut ArmedShard, role: Role, session: &str, seed: u8) -> Self {
        let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket.set_nonblocking(true).unwrap();
        let media = sections(&[("0", MediaKind::Audio), ("1", MediaKind::Video)]);
        let now = Instant::now();
        let address = socket.local_addr().unwrap();
        let (mut peer, request) = SimPeer::new(address, role, "s", session, media, seed, now);
        let response = armed
            .shard
            .core
            .handle_control(now, Request::CreateSession(request));
        let Response::Session(mut answer) = response else {
            panic!("session refused: {response:?}");
        };
        let port = armed.shard.socket.local_addr().port();
        answer.candidates = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
        peer.accept_answer(&answer, now);
        Self { socket, peer }
    }

    /// Sends what the peer has to send, and takes in what arrived for it.
    fn exchange(&mut self) {
        let now = Instant::now();
        for (destination, datagram) in self.peer.poll_transmit(now) {
            self.socket.send_to(&datagram, destination).unwrap();
        }
        let mut buffer = [0; 2048];
        while let Ok(length) = self.socket.recv(&mut buffer) {
            self.peer.handle_receive(now, &buffer[..length]);
        }
    }
}

/// One turn of the loop, as `run` takes it, after waiting a little for completions.
fn turn(armed: &mut ArmedShard) {
    let soon = Instant::now() + Duration::from_millis(5);
    armed.uring.submit_and_wait(false, soon).unwrap();
    armed.handle_completions(Instant::now()).unwrap();
    let now = Instant::now();
    if armed
        .shard
        .core
        .poll_timeout()
        .is_some_and(|due| due <= now)
    {
        armed.shard.core.handle_timeout(now);
    }
    armed.flush_transmits().unwrap();
    armed.uring.submit().unwrap();
}

#[test]
fn a_frame_fanned_out_by_the_core_reaches_each_viewer_as_one_gso_send() {
    const VIEWERS: usize = 3;
    const FRAME: u16 = 5;
    let mut armed = armed_shard();
    let mut publisher = LoopbackPeer::join(&mut armed, Role::Publish, "publisher", 0);
    let mut viewers: Vec<_> = (0..VIEWERS)
        .map(|i| LoopbackPeer::join(&mut armed, Role::Play, &format!("v{i}"), i as u8 + 1))
        .collect();
    let give_up = Instant::now() + PATIENCE;
    while !(publisher.peer.is_connected() && viewers.iter().all(|v| v.peer.is_connected())) {
        assert!(
            Instant::now() < give_up,
            "peers connected within {PATIENCE:?}"
        );
        publisher.exchange();
        viewers.iter_mut().for_each(LoopbackPeer::exchange);
        turn(&mut armed);
    }
    finish_sends(&mut armed);

    // A keyframe of five equal packets, all in the shard before its turn.
    let shard = SocketAddr::from((Ipv4Addr::LOCALHOST, armed.shard.socket.local_addr().port()));
    for seq in 0..FRAME {
        let header = RtpHeader {
            marker: seq == FRAME - 1,
            payload_type: 96,
            sequence_number: seq,
            timestamp: 90_000,
            ssrc: 0x1111,
        };
        let datagram = publisher.peer.send_rtp(&header, "1", &vp8(true, seq as u8));
        publisher.socket.send_to(&datagram, shard).unwrap();
    }
    while armed.uring.ring.completion().len() < usize::from(FRAME) {
        assert!(
            Instant::now() < give_up,
            "the frame arrived within {PATIENCE:?}"
        );
        armed.uring.submit_and_wait(false, give_up).unwrap();
    }
    let before = armed.shard.counters.snapshot();
    turn(&mut armed);
    finish_sends(&mut armed);

    let counts = armed.shard.counters.snapshot();
    let runs = counts.gso_sends - before.gso_sends;
    let segments = counts.gso_segments - before.gso_segments;
    assert_eq!(runs, VIEWERS as u64, "one send per viewer");
    assert_eq!(segments, VIEWERS as u64 * u64::from(FRAME));
    for viewer in &mut viewers {
        while viewer.peer.received.len() < usize::from(FRAME) {
            assert!(Instant::now() < give_up, "the frame reached each viewer");
            viewer.exchange();
        }
        let seqs: Vec<u16> = viewer.peer.received.iter().map(|p| p.2).collect();
        let first = seqs[0];
        let expected: Vec<u16> = (0..FRAME).map(|i| first.wrapping_add(i)).collect();
        assert_eq!(seqs, expected, "every packet once, in order");
    }
}

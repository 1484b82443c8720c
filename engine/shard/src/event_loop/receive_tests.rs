//! The multishot receive against a real socket and ring: bursts arrive whole and in order with
//! their addresses, running out of buffers loses nothing, over-long datagrams are counted and
//! skipped, and the I/O counters (also in the stats answer) follow what the loop did.

use super::tests::{
    PATIENCE, V4_LOOPBACK_2, V4_LOOPBACK_3, armed_shard, armed_shard_with, finish_sends, peer_on,
    queue_answers, receive, wildcard_shards,
};
use super::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc;

use io_uring::opcode;
use shardcast_control::{Request, RuntimeCounters};

use crate::recv_ring::RECV_DATAGRAM_BYTES;
use crate::uring::RECV_FAILURES_IN_A_ROW;

/// Sends `count` numbered datagrams from `peer` to `local` on the shard's port.
fn send_numbered(
    armed: &ArmedShard,
    peer: &std::net::UdpSocket,
    local: IpAddr,
    count: u32,
) -> SocketAddr {
    let to = SocketAddr::new(local, armed.shard.socket.local_addr().port());
    for number in 0..count {
        peer.send_to(&number.to_be_bytes(), to).unwrap();
    }
    to
}

/// Asserts `datagrams` are numbers 0..count in order, from `source` to `local`.
fn assert_numbered(
    datagrams: &[(SocketAddr, Option<IpAddr>, Vec<u8>)],
    source: SocketAddr,
    local: IpAddr,
) {
    for (number, (from, to, contents)) in (0u32..).zip(datagrams) {
        assert_eq!(*from, source);
        assert_eq!(*to, Some(local));
        assert_eq!(contents.as_slice(), number.to_be_bytes());
    }
}

#[test]
fn a_burst_arrives_whole_through_one_multishot_receive() {
    const BURST: u32 = 300;
    for mut armed in wildcard_shards() {
        assert_eq!(armed.uring.socket, SocketTarget::Fixed);
        let peer = peer_on(V4_LOOPBACK_2).unwrap();
        for local in [IpAddr::V4(Ipv4Addr::LOCALHOST), V4_LOOPBACK_3] {
            send_numbered(&armed, &peer, local, BURST);
            let datagrams = receive(&mut armed, BURST as usize);
            assert_numbered(&datagrams, peer.local_addr().unwrap(), local);
        }
        let counts = armed.shard.counters.snapshot();
        assert_eq!(counts.datagrams_in, 2 * u64::from(BURST));
        assert_eq!(counts.receive_completions, 2 * u64::from(BURST));
        assert_eq!(
            counts.receive_rearms, 0,
            "the first receive served them all"
        );
        assert_eq!(counts.receive_errors + counts.receive_truncated, 0);
    }
}

#[test]
fn a_burst_from_an_ipv6_peer_arrives_with_its_addresses() {
    let mut armed = armed_shard();
    let Some(peer) = peer_on(IpAddr::V6(Ipv6Addr::LOCALHOST)) else {
        return;
    };
    let local = IpAddr::V6(Ipv6Addr::LOCALHOST);
    send_numbered(&armed, &peer, local, 100);
    let datagrams = receive(&mut armed, 100);
    assert_numbered(&datagrams, peer.local_addr().unwrap(), local);
}

#[test]
fn running_out_of_buffers_ends_the_receive_which_is_armed_again_and_loses_nothing() {
    const BUFFERS: u16 = 4;
    const SENT: u32 = 20;
    let mut armed = armed_shard_with(None, BUFFERS);
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    send_numbered(&armed, &peer, local, SENT);

    // Let the kernel fill every buffer and end the receive, returning none: one completion
    // per buffer, then the one that says ENOBUFS.
    let give_up = Instant::now() + PATIENCE;
    while armed.uring.ring.completion().len() <= usize::from(BUFFERS) && Instant::now() < give_up {
        armed.uring.submit_and_wait(false, give_up).unwrap();
    }
    let pending: Vec<_> = armed.uring.ring.completion().collect();
    assert_eq!(pending.len(), usize::from(BUFFERS) + 1);
    let last = pending.last().unwrap();
    assert_eq!(last.result(), -libc::ENOBUFS);
    assert!(!io_uring::cqueue::more(last.flags()), "the receive ended");
    // Now handle them as the loop would: the buffers go back and the receive is armed again.
    let completions = pending
        .iter()
        .map(|entry| (entry.result(), entry.flags()))
        .collect::<Vec<_>>();
    let mut datagrams = Vec::new();
    for completion in completions {
        let deliver = |received: Received<'_>| {
            let (source, local) = (received.source, received.local);
            datagrams.push((source, local, received.datagram.to_vec()));
        };
        armed.uring.complete_recv(completion, deliver).unwrap();
    }
    let after_first = armed.shard.counters.snapshot();
    assert_eq!(after_first.receive_buffers_exhausted, 1);
    assert_eq!(after_first.receive_rearms, 1);

    // The rest waited on the socket and come through the receives armed since (each of
    // which may run out of buffers again).
    datagrams.extend(receive(&mut armed, (SENT - u32::from(BUFFERS)) as usize));
    assert_numbered(&datagrams, peer.local_addr().unwrap(), local);
    let counts = armed.shard.counters.snapshot();
    assert_eq!(counts.datagrams_in, u64::from(SENT));
    assert_eq!(counts.receive_rearms, counts.receive_buffers_exhausted);
    assert_eq!(counts.receive_errors, 0);

    send_numbered(&armed, &peer, local, 1);
    assert_numbered(&receive(&mut armed, 1), peer.local_addr().unwrap(), local);
}

#[test]
fn a_datagram_too_long_for_a_buffer_is_counted_and_the_next_arrives() {
    let mut armed = armed_shard();
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, armed.shard.socket.local_addr().port()));
    let longest = vec![7; RECV_DATAGRAM_BYTES];
    let too_long = vec![8; RECV_DATAGRAM_BYTES + 1];
    for datagram in [&longest, &too_long, &b"next".to_vec()] {
        peer.send_to(datagram, to).unwrap();
    }
    let datagrams = receive(&mut armed, 2);
    assert_eq!(datagrams[0].2, longest);
    assert_eq!(datagrams[1].2, b"next");
    let counts = armed.shard.counters.snapshot();
    assert_eq!(counts.receive_truncated, 1);
    assert_eq!(counts.receive_completions, 3);
    assert_eq!(counts.receive_rearms, 0);
}

#[test]
fn a_receive_that_keeps_failing_is_re_armed_until_it_ends_the_shard() {
    let mut armed = armed_shard();
    let failure = (-libc::EINVAL, 0);
    let fail = |armed: &mut ArmedShard| {
        armed
            .uring
            .complete_recv(failure, |_| panic!("no datagram"))
    };
    for _ in 1..RECV_FAILURES_IN_A_ROW {
        fail(&mut armed).unwrap();
    }
    // A datagram in between shows the receive works: the count starts again.
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    send_numbered(&armed, &peer, IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
    receive(&mut armed, 1);
    for _ in 1..RECV_FAILURES_IN_A_ROW {
        fail(&mut armed).unwrap();
    }
    let counts = armed.shard.counters.snapshot();
    let failures = 2 * u64::from(RECV_FAILURES_IN_A_ROW - 1);
    assert_eq!(
        (counts.receive_errors, counts.receive_rearms),
        (failures, failures)
    );
    let error = fail(&mut armed).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
}

#[test]
fn counters_follow_submits_sqes_and_datagrams() {
    let mut armed = armed_shard();
    let arm = armed.shard.counters.snapshot();
    assert_eq!(
        (arm.submit_syscalls, arm.sqes_submitted),
        (1, 2),
        "receive and wake"
    );

    // Three answers from the core: three sends queued, then taken by one submit.
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    queue_answers(&mut armed, &peer, 3);
    assert!(!armed.flush_transmits().unwrap());
    let queued = armed.shard.counters.snapshot();
    assert_eq!((queued.send_sqes, queued.datagrams_out), (3, 3));
    assert_eq!(queued.submit_syscalls, 1, "queuing makes no syscall");
    armed.uring.submit_and_wait(true, Instant::now()).unwrap();
    let submitted = armed.shard.counters.snapshot();
    assert_eq!(
        (submitted.submit_syscalls, submitted.sqes_submitted),
        (2, 5)
    );
    finish_sends(&mut armed);

    // A full submission queue is submitted from inside `push`, and that counts too.
    let before = armed.shard.counters.snapshot();
    let nop = opcode::Nop::new().build();
    for _ in 0..=SUBMISSION_ENTRIES {
        armed.uring.push(&nop).unwrap();
    }
    let after = armed.shard.counters.snapshot();
    assert_eq!(after.submit_syscalls, before.submit_syscalls + 1);
    assert_eq!(
        after.sqes_submitted,
        before.sqes_submitted + u64::from(SUBMISSION_ENTRIES)
    );
}

#[test]
fn a_stats_answer_carries_the_runtime_counters() {
    let mut armed = armed_shard();
    let (requests, control) = mpsc::channel();
    armed.shard.control = control;
    let (reply, answer) = mpsc::sync_channel(1);
    requests
        .send(ControlRequest {
            request: Request::Stats,
            reply,
        })
        .unwrap();
    armed.handle_control(Instant::now());
    let Response::Stats(stats) = answer.recv().unwrap() else {
        panic!("not a stats answer");
    };
    // Preemptions come from the kernel's count for this thread, not from the counters.
    let preemptions = stats.runtime.preemptions;
    assert!(preemptions <= thread_clock::preemptions());
    let counters = RuntimeCounters {
        preemptions,
        ..armed.shard.counters.snapshot()
    };
    assert_eq!(stats.runtime, counters);
    assert_eq!(stats.runtime.control_requests, 1);
    assert_eq!(stats.runtime.submit_syscalls, 1);
}

//! A turn's batches are bounded: by count, by the free send slots, and by the core's next
//! deadline, which ends them at the first look at the clock so that timers fire on time.

use super::tests::{PATIENCE, armed_shard, armed_shard_probing, finish_sends, queue_answers};
use super::*;
use std::net::{Ipv4Addr, SocketAddr};

use crate::uring::DATAGRAMS_PER_SUBMIT;

#[test]
fn a_turn_sends_a_bounded_batch_and_full_slots_leave_the_rest_in_the_core() {
    let mut armed = armed_shard();
    // Only the count bounds this batch.
    armed.batch_time = PATIENCE;
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let answers = SEND_SLOTS + 10;
    queue_answers(&mut armed, &peer, answers);

    assert!(armed.flush_transmits().unwrap(), "stopped by the bound");
    assert_eq!(armed.uring.sends.in_flight(), DATAGRAMS_PER_TURN);
    // Later turns fill the other slots, one bounded batch each.
    for turn in 2..=SEND_SLOTS / DATAGRAMS_PER_TURN {
        armed.flush_transmits().unwrap();
        assert_eq!(armed.uring.sends.in_flight(), turn * DATAGRAMS_PER_TURN);
    }
    assert_eq!(armed.uring.sends.in_flight(), SEND_SLOTS);
    assert!(
        !armed.flush_transmits().unwrap(),
        "no free slot: wait for completions rather than spin"
    );
    assert!(armed.shard.core.has_pending_transmits());

    finish_sends(&mut armed);
    assert!(!armed.flush_transmits().unwrap(), "the core ran dry");
    assert_eq!(armed.uring.sends.in_flight(), 10);
    assert!(!armed.shard.core.has_pending_transmits());
    finish_sends(&mut armed);
    let sent = armed.shard.counters.snapshot().datagrams_out;
    assert_eq!(sent, answers as u64);
}

#[test]
fn a_turns_sends_are_submitted_in_chunks_as_they_are_queued() {
    const CHUNKS: usize = 3;
    const REST: usize = 5;
    let mut armed = armed_shard();
    armed.batch_time = PATIENCE;
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    queue_answers(&mut armed, &peer, CHUNKS * DATAGRAMS_PER_SUBMIT + REST);
    let before = armed.shard.counters.snapshot();

    assert!(!armed.flush_transmits().unwrap(), "the core ran dry");
    let queued = armed.shard.counters.snapshot();
    assert_eq!(
        queued.submit_syscalls - before.submit_syscalls,
        CHUNKS as u64
    );
    assert_eq!(
        queued.sqes_submitted - before.sqes_submitted,
        (CHUNKS * DATAGRAMS_PER_SUBMIT) as u64
    );
    assert_eq!(
        armed.uring.ring.submission().len(),
        REST,
        "left for the turn's enter"
    );

    armed.uring.submit_and_wait(true, Instant::now()).unwrap();
    let submitted = armed.shard.counters.snapshot();
    assert_eq!(submitted.submit_syscalls - queued.submit_syscalls, 1);
    assert_eq!(
        submitted.sqes_submitted - queued.sqes_submitted,
        REST as u64
    );
    assert_eq!(
        submitted.datagrams_out - before.datagrams_out,
        (CHUNKS * DATAGRAMS_PER_SUBMIT + REST) as u64
    );
    finish_sends(&mut armed);
}

/// A core whose timer probe is overdue: every batch stops at its first look at the clock.
fn shard_with_a_timer_due() -> ArmedShard {
    let period = shardcast_proto::timer::TimerProbe::MIN_PERIOD;
    let made = Instant::now().checked_sub(10 * period).unwrap();
    let mut armed = armed_shard_probing(None, RECV_BUFFERS, period, made);
    assert!(
        armed.shard.core.poll_timeout().unwrap() <= Instant::now(),
        "the probe is due"
    );
    armed
}

#[test]
fn a_due_timer_ends_the_turns_sends_with_work_left_over() {
    let mut armed = shard_with_a_timer_due();
    armed.batch_time = PATIENCE;
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    queue_answers(&mut armed, &peer, 200);

    assert!(
        armed.flush_transmits().unwrap(),
        "come back without sleeping"
    );
    assert_eq!(armed.uring.sends.in_flight(), CLOCK_CHECK_EVERY);
    assert!(armed.shard.core.has_pending_transmits());
    // The timer fires; the next turn goes on where this one stopped.
    armed.shard.core.handle_timeout(Instant::now());
    finish_sends(&mut armed);
    assert_eq!(armed.shard.counters.snapshot().datagrams_out, 32);
}

#[test]
fn a_due_timer_ends_the_turns_completions_with_the_rest_waiting() {
    const SENT: usize = 100;
    let mut armed = shard_with_a_timer_due();
    armed.batch_time = PATIENCE;
    let peer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, armed.shard.socket.local_addr().port()));
    for number in 0..SENT {
        peer.send_to(&number.to_be_bytes(), to).unwrap();
    }
    let give_up = Instant::now() + PATIENCE;
    while armed.uring.ring.completion().len() < SENT && Instant::now() < give_up {
        armed.uring.submit_and_wait(false, give_up).unwrap();
    }

    assert!(
        armed.handle_completions(Instant::now()).unwrap(),
        "more wait"
    );
    let counts = armed.shard.counters.snapshot();
    assert_eq!(counts.datagrams_in, CLOCK_CHECK_EVERY as u64);
    assert_eq!(
        armed.uring.ring.completion().len(),
        SENT - CLOCK_CHECK_EVERY
    );
}

//! The shard's io_uring and the memory its operations point into: the only place SQEs are
//! queued and submitted, and where every submit is counted. How the ring is made, and how its
//! SQEs name the socket, is `uring_setup`'s.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use io_uring::{IoUring, cqueue, opcode, squeue, types};

use crate::counters::{Counter, ShardCounters};
use crate::gso;
use crate::io_slots::{SendSlots, StartedSend};
use crate::recv_ring::{Received, RecvRing, Unreceivable};
use crate::uring_setup::{RingSetup, SocketTarget};
use crate::wake::Waker;

/// What a completion belongs to, in the top byte of its user data; the rest is a slot index.
pub const KIND_SHIFT: u32 = 56;
pub const KIND_RECV: u64 = 1;
pub const KIND_SEND: u64 = 2;
pub const KIND_WAKE: u64 = 3;

/// A completion as the loop keeps it: user data, result and flags.
pub type Completion = (u64, i32, u32);

/// Receives ended by an error (not ENOBUFS) in a row, with no datagram between them, after
/// which the error is taken to be permanent (a kernel without multishot recvmsg, a closed
/// socket) and ends the shard rather than having it re-arm in a busy loop.
pub const RECV_FAILURES_IN_A_ROW: u32 = 64;

/// Datagrams queued before their sends are submitted without waiting, mid-turn: the kernel
/// executes a send inside the submit (~2.5 us a datagram on loopback), so a turn's hundreds
/// in one submit would hold the thread there, blind to its deadlines, for a millisecond. In
/// chunks, each one's kernel time comes before the turn's next look at the clock. Counted in
/// datagrams, not sends: a GSO send of a run costs the kernel each of its datagrams, and
/// counted per send 64 runs were ~360 datagrams, more than a turn writes, so the whole turn's
/// kernel work fell to its final enter (1-2 ms turns at 2000 viewers).
pub const DATAGRAMS_PER_SUBMIT: usize = 64;

/// `IORING_ENTER_GETEVENTS`, which the io-uring crate does not export.
const ENTER_GETEVENTS: u32 = 1;

/// The loop's io_uring and the memory its operations point into.
pub struct Uring {
    /// First, so it is dropped first: the kernel is done with the memory below before that
    /// memory goes.
    pub ring: IoUring,
    /// How the kernel runs the ring's completion work.
    pub setup: RingSetup,
    /// The shard's socket, as the SQEs name it.
    pub socket: SocketTarget,
    pub recv: RecvRing,
    pub sends: SendSlots,
    /// Whether sends may carry runs (UDP GSO): the startup probe's answer, until the kernel
    /// refuses one.
    pub gso: bool,
    pub wake_buffer: Box<u64>,
    pub completions: Vec<Completion>,
    pub counters: Arc<ShardCounters>,
    /// Receives ended by an error since the last datagram.
    pub recv_failures: u32,
    /// Datagrams whose sends were queued since the last submit.
    pub datagrams_queued: usize,
}

/// The operation kind and slot index packed into a completion's user data.
pub fn split_user_data(user_data: u64) -> (u64, usize) {
    (
        user_data >> KIND_SHIFT,
        (user_data & ((1 << KIND_SHIFT) - 1)) as usize,
    )
}

impl Uring {
    /// Arms the multishot receive: one SQE that completes once per datagram, each in a buffer
    /// from `recv`, until it ends.
    pub fn arm_recv(&mut self) -> io::Result<()> {
        let (template, group) = self.recv.arming();
        let entry = self
            .socket
            .recv_msg_multi(template, group)
            .user_data(KIND_RECV << KIND_SHIFT);
        self.push(&entry)
    }

    /// Handles one completion of the multishot receive: hands its datagram, if it has a usable
    /// one, to `deliver`, puts the buffer back on the ring, and arms the receive again when
    /// this completion ended it, whatever the reason (all buffers in use, an error, a full
    /// completion queue). Fails only when the ring does, or when receives keep failing.
    pub fn complete_recv(
        &mut self,
        (result, flags): (i32, u32),
        deliver: impl FnOnce(Received<'_>),
    ) -> io::Result<()> {
        let counters = &self.counters;
        counters.add(Counter::ReceiveCompletions, 1);
        if let Some(id) = cqueue::buffer_select(flags) {
            self.recv_failures = 0;
            let length = usize::try_from(result).unwrap_or(0);
            match self.recv.datagram(id, length) {
                Ok(received) => {
                    counters.add(Counter::DatagramsIn, 1);
                    deliver(received);
                }
                Err(Unreceivable::Truncated) => counters.add(Counter::ReceiveTruncated, 1),
                Err(Unreceivable::Malformed) => counters.add(Counter::ReceiveErrors, 1),
            }
            self.recv.recycle(id);
        } else if result == -libc::ENOBUFS {
            // The datagrams stay queued on the socket; the new receive reads them into the
            // buffers the loop has returned by now.
            counters.add(Counter::ReceiveBuffersExhausted, 1);
        } else if result < 0 {
            counters.add(Counter::ReceiveErrors, 1);
            let error = io::Error::from_raw_os_error(-result);
            tracing::debug!(%error, "receive failed");
            self.recv_failures += 1;
            if self.recv_failures >= RECV_FAILURES_IN_A_ROW {
                return Err(error);
            }
        }
        if !cqueue::more(flags) {
            self.counters.add(Counter::ReceiveRearms, 1);
            self.arm_recv()?;
        }
        Ok(())
    }

    /// Handles the completion of slot `slot`'s send, with its `result`: frees the slot, or
    /// queues the next datagram of a run being sent again one at a time. A run the kernel
    /// would not segment turns GSO off and is sent again that way: nothing is lost.
    pub fn complete_send(&mut self, slot: usize, result: i32) -> io::Result<()> {
        let next = if result < 0 && gso::is_refusal(-result) && self.sends.is_run(slot) {
            self.counters.add(Counter::GsoFallbacks, 1);
            if self.gso {
                let error = io::Error::from_raw_os_error(-result);
                tracing::warn!(%error, "the kernel refused a GSO send: sending datagrams one at a time from now on");
                self.gso = false;
            }
            self.sends.resend_singly(slot)
        } else {
            if result < 0 {
                self.counters.add(Counter::SendErrors, 1);
                tracing::trace!(error = %io::Error::from_raw_os_error(-result), "send failed");
            }
            self.sends.finish(slot)
        };
        match next {
            // A refused run goes again one datagram per send.
            Some(send) => self.push_send(send, 1),
            None => Ok(()),
        }
    }

    pub fn arm_wake(&mut self, waker: &Waker) -> io::Result<()> {
        let buffer: *mut u64 = &raw mut *self.wake_buffer;
        let entry = opcode::Read::new(types::Fd(waker.as_raw_fd()), buffer.cast(), 8)
            .build()
            .user_data(KIND_WAKE << KIND_SHIFT);
        self.push(&entry)
    }

    /// Queues the SendMsg of a slot taken from `sends`, carrying `datagrams`, and submits the
    /// sends queued, without waiting, once they carry `DATAGRAMS_PER_SUBMIT`.
    pub fn push_send(&mut self, send: StartedSend, datagrams: usize) -> io::Result<()> {
        let entry = self
            .socket
            .send_msg(send.header())
            .user_data(KIND_SEND << KIND_SHIFT | send.index() as u64);
        self.counters.add(Counter::SendSqes, 1);
        self.push(&entry)?;
        self.datagrams_queued += datagrams;
        if self.datagrams_queued >= DATAGRAMS_PER_SUBMIT {
            self.submit()?;
        }
        Ok(())
    }

    /// Queues one SQE, submitting what is queued first when the submission queue is full.
    pub fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every SQE points into memory this struct owns and keeps in place until
            // its completion: the receive ring, its msghdr and the wake buffer live as long as
            // the ring, and a send slot (datagram, address and control message) is reused only
            // after its completion arrives.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.submit()?;
        }
    }

    /// Submits everything queued, without waiting, and without asking for events: on a
    /// DEFER_TASKRUN ring the completion work waits for the turn's last enter.
    pub fn submit(&mut self) -> io::Result<()> {
        let submitted = self.ring.submit();
        self.count_submit(submitted.as_ref().ok().copied());
        submitted.map(drop)
    }

    /// Submits everything queued and takes the completions that are ready; waits for one until
    /// `deadline` unless completions are already waiting.
    pub fn submit_and_wait(&mut self, backlog: bool, deadline: Instant) -> io::Result<()> {
        let submitted = enter(&mut self.ring, backlog, deadline)?;
        self.count_submit(Some(submitted));
        Ok(())
    }

    /// One io_uring_enter made, which took `submitted` SQEs when it did not fail.
    fn count_submit(&mut self, submitted: Option<usize>) {
        self.datagrams_queued = 0;
        self.counters.add(Counter::SubmitSyscalls, 1);
        self.counters
            .add(Counter::SqesSubmitted, submitted.unwrap_or(0) as u64);
    }
}

/// Submits everything queued on `ring`, then waits for one completion until `deadline` unless
/// `busy` (completions already wait). Either way the kernel runs the completion work pending
/// and posts its completions. A wait cut short by the deadline or a signal is not an error.
/// Shared with the bench's viewer workers.
pub fn submit_and_wait(ring: &mut IoUring, busy: bool, deadline: Instant) -> io::Result<()> {
    enter(ring, busy, deadline).map(drop)
}

/// `submit_and_wait`, returning how many SQEs the kernel took. Every enter asks for events:
/// on a DEFER_TASKRUN ring only such an enter runs the completion work (receives, wakes),
/// and the crate's plain submit does not ask, so a loop kept busy would never see them.
fn enter(ring: &mut IoUring, busy: bool, deadline: Instant) -> io::Result<usize> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let result = if busy || wait.is_zero() {
        let queued = u32::try_from(ring.submission().len()).unwrap_or(u32::MAX);
        // SAFETY: no wait and no argument; the SQEs submitted are the ones pushed on the
        // queue, whose memory their pushers keep alive until completion.
        unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(queued, 0, ENTER_GETEVENTS, None)
        }
    } else {
        let timeout = types::Timespec::from(wait);
        let args = types::SubmitArgs::new().timespec(&timeout);
        ring.submitter().submit_with_args(1, &args)
    };
    match result {
        Ok(submitted) => Ok(submitted),
        // The kernel reports a failed wait only when it took no SQE.
        Err(error)
            if matches!(
                error.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
            ) =>
        {
            Ok(0)
        }
        Err(error) => Err(error),
    }
}

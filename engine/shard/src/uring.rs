//! The shard's io_uring and the memory its operations point into: the only place SQEs are
//! built and submitted.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use io_uring::{IoUring, opcode, squeue, types};

use crate::io_slots::{Received, RecvSlot, SendSlots, StartedSend};
use crate::udp::UdpSocket;
use crate::wake::Waker;

/// What a completion belongs to, in the top byte of its user data; the rest is a slot index.
pub const KIND_SHIFT: u32 = 56;
pub const KIND_RECV: u64 = 1;
pub const KIND_SEND: u64 = 2;
pub const KIND_WAKE: u64 = 3;

/// The loop's io_uring and the memory its operations point into.
pub struct Uring {
    pub ring: IoUring,
    /// Allocated once and never resized, so the kernel's pointers into it stay valid.
    pub recv_slots: Box<[RecvSlot]>,
    pub sends: SendSlots,
    pub wake_buffer: Box<u64>,
    pub completions: Vec<(u64, i32)>,
}

/// The operation kind and slot index packed into a completion's user data.
pub fn split_user_data(user_data: u64) -> (u64, usize) {
    (
        user_data >> KIND_SHIFT,
        (user_data & ((1 << KIND_SHIFT) - 1)) as usize,
    )
}

impl Uring {
    /// The datagram receive slot `slot` completed with `result`, or `None` when the receive
    /// failed or its datagram is unusable.
    pub fn received(&self, slot: usize, result: i32) -> Option<Received<'_>> {
        let length = usize::try_from(result).ok()?;
        self.recv_slots.get(slot)?.received(length)
    }

    pub fn arm_recv(&mut self, socket: &UdpSocket, slot: usize) -> io::Result<()> {
        let Some(recv) = self.recv_slots.get_mut(slot) else {
            return Ok(());
        };
        let entry = opcode::RecvMsg::new(types::Fd(socket.as_raw_fd()), recv.prepare())
            .build()
            .user_data(KIND_RECV << KIND_SHIFT | slot as u64);
        self.push(&entry)
    }

    pub fn arm_wake(&mut self, waker: &Waker) -> io::Result<()> {
        let buffer: *mut u64 = &raw mut *self.wake_buffer;
        let entry = opcode::Read::new(types::Fd(waker.as_raw_fd()), buffer.cast(), 8)
            .build()
            .user_data(KIND_WAKE << KIND_SHIFT);
        self.push(&entry)
    }

    /// Queues the SendMsg of a slot taken from `sends`.
    pub fn push_send(&mut self, socket: &UdpSocket, send: StartedSend) -> io::Result<()> {
        let entry = opcode::SendMsg::new(types::Fd(socket.as_raw_fd()), send.header())
            .build()
            .user_data(KIND_SEND << KIND_SHIFT | send.index() as u64);
        self.push(&entry)
    }

    /// Queues one SQE, submitting what is queued first when the submission queue is full.
    pub fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every SQE points into memory this struct owns and keeps in place until
            // its completion: receive slots and the wake buffer live as long as the ring, and a
            // send slot (datagram, address and control message) is reused only after its
            // completion arrives.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    /// Submits everything queued; waits for a completion until `deadline` unless completions
    /// are already waiting.
    pub fn submit_and_wait(&mut self, backlog: bool, deadline: Instant) -> io::Result<()> {
        submit_and_wait(&mut self.ring, backlog, deadline)
    }
}

/// Submits everything queued on `ring`, then waits for one completion until `deadline` unless
/// `busy` (completions already wait). A wait cut short by the deadline or a signal is not an
/// error. Shared with the bench's viewer workers.
pub fn submit_and_wait(ring: &mut IoUring, busy: bool, deadline: Instant) -> io::Result<()> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let result = if busy || wait.is_zero() {
        ring.submit()
    } else {
        let timeout = types::Timespec::from(wait);
        let args = types::SubmitArgs::new().timespec(&timeout);
        ring.submitter().submit_with_args(1, &args)
    };
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if matches!(
                error.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
            ) =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

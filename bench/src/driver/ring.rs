//! A viewer worker's io_uring: one RecvMsg pending per viewer socket, SendMsg for every
//! datagram out, a read on the wake eventfd; the only place the worker builds SQEs.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::Instant;

use io_uring::{IoUring, opcode, squeue, types};

use super::slots::{Received, RecvSlot, SendSlots};

/// What a completion belongs to, in the top byte of its user data; the rest is an index.
const KIND_SHIFT: u32 = 56;
const INDEX_MASK: u64 = (1 << KIND_SHIFT) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The receive of viewer `slot` finished with `result` (bytes, or a negated errno).
    Recv {
        slot: usize,
        result: i32,
    },
    Send {
        slot: usize,
        result: i32,
    },
    Wake,
}

const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_WAKE: u64 = 3;

pub struct ViewerRing {
    ring: IoUring,
    #[expect(
        clippy::vec_box,
        reason = "the kernel holds pointers into pending receive slots while the Vec grows"
    )]
    recvs: Vec<Box<RecvSlot>>,
    sends: SendSlots,
    wake_buffer: Box<u64>,
}

impl ViewerRing {
    /// A ring with `entries` submission entries (twice as many completion entries), created
    /// on the calling thread, which alone may submit to it.
    pub fn new(entries: u32) -> io::Result<Self> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_coop_taskrun()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        Ok(Self {
            ring,
            recvs: Vec::new(),
            sends: SendSlots::default(),
            wake_buffer: Box::new(0),
        })
    }

    /// A receive slot for one more socket; returns its index, the viewer's slot.
    pub fn add_recv_slot(&mut self) -> usize {
        self.recvs.push(RecvSlot::new());
        self.recvs.len() - 1
    }

    pub fn arm_recv(&mut self, fd: RawFd, slot: usize) -> io::Result<()> {
        let Some(recv) = self.recvs.get_mut(slot) else {
            return Ok(());
        };
        let entry = opcode::RecvMsg::new(types::Fd(fd), recv.prepare())
            .build()
            .user_data(KIND_RECV << KIND_SHIFT | slot as u64);
        self.push(&entry)
    }

    pub fn arm_wake(&mut self, fd: RawFd) -> io::Result<()> {
        let buffer: *mut u64 = &raw mut *self.wake_buffer;
        let entry = opcode::Read::new(types::Fd(fd), buffer.cast(), 8)
            .build()
            .user_data(KIND_WAKE << KIND_SHIFT);
        self.push(&entry)
    }

    pub fn send(
        &mut self,
        fd: RawFd,
        destination: SocketAddr,
        contents: Vec<u8>,
    ) -> io::Result<()> {
        let (slot, header) = self.sends.start(destination, contents);
        let entry = opcode::SendMsg::new(types::Fd(fd), header)
            .build()
            .user_data(KIND_SEND << KIND_SHIFT | slot as u64);
        self.push(&entry)
    }

    pub fn sends_in_flight(&self) -> usize {
        self.sends.in_flight()
    }

    /// The datagram receive `slot` completed with, when `result` is a usable length.
    pub fn received(&self, slot: usize, result: i32) -> Option<Received<'_>> {
        let length = usize::try_from(result).ok()?;
        self.recvs.get(slot)?.received(length)
    }

    /// The kernel is done with send `slot`.
    pub fn finish_send(&mut self, slot: usize) {
        self.sends.finish(slot);
    }

    /// Moves up to `max` completions into `out`; true when more are waiting.
    pub fn take_completions(&mut self, max: usize, out: &mut Vec<Completion>) -> bool {
        out.clear();
        let mut queue = self.ring.completion();
        for entry in queue.by_ref().take(max) {
            let index = (entry.user_data() & INDEX_MASK) as usize;
            let result = entry.result();
            match entry.user_data() >> KIND_SHIFT {
                KIND_RECV => out.push(Completion::Recv {
                    slot: index,
                    result,
                }),
                KIND_SEND => out.push(Completion::Send {
                    slot: index,
                    result,
                }),
                KIND_WAKE => out.push(Completion::Wake),
                // Only this file writes user data, so nothing else can complete.
                _ => {}
            }
        }
        !queue.is_empty()
    }

    /// Submits what is queued; waits for a completion until `deadline` unless `busy`.
    pub fn submit_and_wait(&mut self, busy: bool, deadline: Instant) -> io::Result<()> {
        shardcast::submit_and_wait(&mut self.ring, busy, deadline)
    }

    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every SQE points into memory this struct owns and keeps in place until
            // the operation completes: receive slots and the wake buffer are boxed and live as
            // long as the ring; a send slot is reused only after its completion. The sockets
            // and the eventfd outlive the ring (the worker drops the ring first).
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }
}

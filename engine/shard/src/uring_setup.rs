//! How a shard's io_uring is made: with the cheapest way of running completion work that the
//! kernel accepts, and with the shard's socket registered as a fixed file, so that no SQE
//! pays for looking the socket up by descriptor.
//!
//! Completion work ("task work": finishing a receive the socket woke, or the wake's read) is
//! what the kernel runs on the shard's thread to post a CQE. Plainly it interrupts the thread
//! wherever it is; with COOP_TASKRUN it waits for the thread's next entry into the kernel (any
//! syscall); with DEFER_TASKRUN it waits for the next io_uring_enter that asks for events, and
//! runs there in one batch. The last is the cheapest, and it obliges the loop to ask for
//! events on every enter that should reap, which `uring::enter` does.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use io_uring::{IoUring, opcode, squeue, types};

use crate::udp::UdpSocket;

/// How the ring runs completion work, best first (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingSetup {
    /// DEFER_TASKRUN with SINGLE_ISSUER (Linux 6.1 and later).
    DeferTaskrun,
    /// COOP_TASKRUN with SINGLE_ISSUER (Linux 6.0 and later).
    CoopTaskrun,
    /// Neither: completion work interrupts the thread.
    Plain,
}

impl RingSetup {
    /// Every setup, in the order the shard tries them.
    pub const BEST_FIRST: [Self; 3] = [Self::DeferTaskrun, Self::CoopTaskrun, Self::Plain];

    pub fn name(self) -> &'static str {
        match self {
            Self::DeferTaskrun => "defer_taskrun",
            Self::CoopTaskrun => "coop_taskrun",
            Self::Plain => "plain",
        }
    }

    fn build(self, entries: u32) -> io::Result<IoUring> {
        let mut builder = IoUring::builder();
        match self {
            Self::DeferTaskrun => builder.setup_single_issuer().setup_defer_taskrun(),
            Self::CoopTaskrun => builder.setup_single_issuer().setup_coop_taskrun(),
            Self::Plain => &mut builder,
        };
        builder.build(entries)
    }
}

/// A ring of `entries` SQEs, made with the first of `setups` the kernel accepts, on the
/// calling thread: with SINGLE_ISSUER only this thread may submit to it.
pub fn build_ring(entries: u32, setups: &[RingSetup]) -> io::Result<(IoUring, RingSetup)> {
    let mut refusal = io::Error::new(io::ErrorKind::InvalidInput, "no ring setup to try");
    for &setup in setups {
        match setup.build(entries) {
            Ok(ring) => return Ok((ring, setup)),
            Err(error) => {
                tracing::debug!(setup = setup.name(), %error, "ring setup refused");
                refusal = error;
            }
        }
    }
    Err(refusal)
}

/// The shard's socket as its SQEs name it: the ring's fixed file 0, or its descriptor when
/// the kernel would not register it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketTarget {
    Fixed,
    Descriptor(RawFd),
}

/// Index of the socket in the ring's file table.
const SOCKET_FILE: u32 = 0;

impl SocketTarget {
    /// Registers `socket` as `ring`'s only fixed file, or falls back to its descriptor. The
    /// registration holds a reference to the socket until the ring is dropped.
    pub fn register(ring: &IoUring, socket: &UdpSocket) -> Self {
        match ring.submitter().register_files(&[socket.as_raw_fd()]) {
            Ok(()) => Self::Fixed,
            Err(error) => {
                tracing::warn!(%error, "cannot register the socket as a fixed file: using its descriptor");
                Self::Descriptor(socket.as_raw_fd())
            }
        }
    }

    /// A sendmsg of `header` on the socket.
    pub fn send_msg(self, header: *const libc::msghdr) -> squeue::Entry {
        match self {
            Self::Fixed => opcode::SendMsg::new(types::Fixed(SOCKET_FILE), header).build(),
            Self::Descriptor(fd) => opcode::SendMsg::new(types::Fd(fd), header).build(),
        }
    }

    /// A multishot recvmsg on the socket, into buffers of group `group` laid out as
    /// `template` says.
    pub fn recv_msg_multi(self, template: *const libc::msghdr, group: u16) -> squeue::Entry {
        match self {
            Self::Fixed => {
                opcode::RecvMsgMulti::new(types::Fixed(SOCKET_FILE), template, group).build()
            }
            Self::Descriptor(fd) => {
                opcode::RecvMsgMulti::new(types::Fd(fd), template, group).build()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wake::Waker;

    /// A read of `waker` queued on `ring`, into `buffer`.
    fn read_wake(ring: &mut IoUring, waker: &Waker, buffer: &mut u64) {
        let read =
            opcode::Read::new(types::Fd(waker.as_raw_fd()), (buffer as *mut u64).cast(), 8).build();
        // SAFETY: the buffer outlives the read, which completes within the test.
        unsafe { ring.submission().push(&read) }.unwrap();
        ring.submit().unwrap();
    }

    #[test]
    fn this_kernel_takes_the_best_setup() {
        let (_ring, setup) = build_ring(8, &RingSetup::BEST_FIRST).unwrap();
        assert_eq!(setup, RingSetup::DeferTaskrun, "Linux 6.1 or later");
        let (_ring, setup) = build_ring(8, &RingSetup::BEST_FIRST[1..]).unwrap();
        assert_eq!(setup, RingSetup::CoopTaskrun);
        assert!(build_ring(8, &[]).is_err());
    }

    #[test]
    fn when_every_setup_is_refused_the_last_refusal_is_the_error() {
        // A ring cannot have more than 32768 entries: every setup is refused at this size,
        // and the error is the last refusal's.
        let Err(error) = build_ring(1 << 20, &RingSetup::BEST_FIRST) else {
            panic!("a ring of 2^20 entries");
        };
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
        let (_ring, setup) = build_ring(8, &[RingSetup::Plain]).unwrap();
        assert_eq!(setup, RingSetup::Plain);
    }

    #[test]
    fn deferred_completions_wait_for_an_enter_that_gets_events() {
        let (mut ring, setup) = build_ring(8, &[RingSetup::DeferTaskrun]).unwrap();
        assert_eq!(setup, RingSetup::DeferTaskrun);
        let waker = Waker::new().unwrap();
        let mut buffer = 0;
        read_wake(&mut ring, &waker, &mut buffer);
        waker.wake();
        // The read's completion work is queued on the ring, not run on the way out of the
        // write, nor by a submit that does not ask for events.
        ring.submit().unwrap();
        assert_eq!(ring.completion().len(), 0);
        crate::uring::submit_and_wait(&mut ring, true, std::time::Instant::now()).unwrap();
        let completion = ring.completion().next().unwrap();
        assert_eq!((completion.result(), buffer), (8, 1));
    }

    #[test]
    fn cooperative_completions_run_on_the_next_syscall() {
        let (mut ring, _) = build_ring(8, &[RingSetup::CoopTaskrun]).unwrap();
        let waker = Waker::new().unwrap();
        let mut buffer = 0;
        read_wake(&mut ring, &waker, &mut buffer);
        // The write queues the read's completion work on this thread, which runs it on its
        // way back from the syscall.
        waker.wake();
        assert_eq!(ring.completion().len(), 1);
        assert_eq!(buffer, 1);
    }
}

//! Waking a sleeping shard: an eventfd that the shard keeps a read pending on in its io_uring.
//!
//! Other shards (a message on an empty ring), control socket threads (a request) and `stop`
//! write to it; the shard's wait returns and it looks at every input.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// A blocking eventfd: io_uring then parks the read until a wake instead of failing with
    /// EAGAIN, which it would for a non-blocking one.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and nothing else owns it.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Adds one to the counter, making the fd readable. Never blocks in practice: the counter
    /// would need 2^64 - 1 unread wakes.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
        let written = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&raw const one).cast(),
                size_of::<u64>(),
            )
        };
        if written < 0 {
            tracing::warn!(error = %io::Error::last_os_error(), "eventfd wake failed");
        }
    }

    /// Takes and resets the counter without blocking: how many wakes arrived since the last take.
    pub fn take(&self) -> u64 {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let ready = unsafe { libc::poll(&raw mut poll, 1, 0) };
        if ready <= 0 {
            return 0;
        }
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; the fd is readable so this does not block.
        let read = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&raw mut count).cast(),
                size_of::<u64>(),
            )
        };
        if read == size_of::<u64>() as isize {
            count
        } else {
            0
        }
    }
}

impl AsRawFd for Waker {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_wakes_until_taken() {
        let waker = Waker::new().unwrap();
        assert_eq!(waker.take(), 0);
        waker.wake();
        waker.wake();
        assert_eq!(waker.take(), 2);
        assert_eq!(waker.take(), 0);
    }
}

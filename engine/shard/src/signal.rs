//! SIGINT/SIGTERM as something a thread can wait on: the handler only writes to an eventfd
//! (async-signal-safe), and the main thread waits on that eventfd.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The eventfd the handler writes to; -1 until `install` runs.
static SHUTDOWN_FD: AtomicI32 = AtomicI32::new(-1);

/// Becomes readable once SIGINT or SIGTERM arrives.
pub struct ShutdownSignal {
    fd: OwnedFd,
}

extern "C" fn on_signal(_signal: libc::c_int) {
    let fd = SHUTDOWN_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: write(2) is async-signal-safe; 8 bytes from a live u64 to our eventfd. A
        // failure cannot be reported from a handler, and the counter cannot realistically fill.
        unsafe { libc::write(fd, (&raw const one).cast(), size_of::<u64>()) };
    }
}

impl ShutdownSignal {
    /// Installs the handlers for SIGINT and SIGTERM. Call once per process.
    pub fn install() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked before use.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` was just created and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        SHUTDOWN_FD.store(raw, Ordering::Relaxed);
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is valid; we set the handler and an empty mask, and
            // the handler only does async-signal-safe work.
            let installed = unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&raw mut action.sa_mask);
                libc::sigaction(signal, &raw const action, std::ptr::null_mut())
            };
            if installed != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Self { fd })
    }

    /// Waits up to `timeout` (forever when `None`); true once a signal has arrived.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let millis = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd. EINTR (our own signal arriving) shows up as readiness on
        // the next call, and callers loop.
        let ready = unsafe { libc::poll(&raw mut poll, 1, millis) };
        ready > 0 && poll.revents & libc::POLLIN != 0
    }
}

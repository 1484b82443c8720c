//! The viewers' end: one UDP socket per viewer on 127.0.0.1, all drained by one thread with
//! epoll and recvmmsg, counting what arrives so the sender's count can be checked.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::driver::this_thread_cpu_time;

/// Each socket may queue this much: a few hundred datagrams, for when the receiving thread
/// is not scheduled for a while (the kernel caps it at net.core.rmem_max).
const RECEIVE_BUFFER_BYTES: libc::c_int = 1 << 20;
/// Datagrams taken per recvmmsg call.
const BATCH: usize = 32;
/// Bytes kept of each datagram: every one is at most a 1500-byte MTU; a longer one is cut
/// but still counted whole (recvmmsg reports its full length with MSG_TRUNC).
const SLOT: usize = 1500;
const EVENTS: usize = 64;
/// How long one epoll wait lasts.
const WAIT: Duration = Duration::from_millis(20);
/// Empty waits in a row, after the sender stopped, before datagrams still missing are given
/// up as lost: loopback delivery may finish in a softirq after `sendto` has returned.
const QUIET_WAITS: u32 = 5;

/// The sender's total while it is still sending.
pub const STILL_SENDING: u64 = u64::MAX;

/// What the receivers got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    pub datagrams: u64,
    pub bytes: u64,
    /// The receiving thread's CPU time.
    pub cpu: Duration,
}

pub struct Receivers {
    sockets: Vec<UdpSocket>,
}

impl Receivers {
    /// Binds `count` sockets on 127.0.0.1, ports chosen by the kernel.
    pub fn bind(count: usize) -> io::Result<Self> {
        let sockets = (0..count)
            .map(|_| {
                let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
                socket.set_nonblocking(true)?;
                set_receive_buffer(&socket)?;
                Ok(socket)
            })
            .collect::<io::Result<_>>()?;
        Ok(Self { sockets })
    }

    pub fn addresses(&self) -> io::Result<Vec<SocketAddr>> {
        self.sockets.iter().map(UdpSocket::local_addr).collect()
    }

    /// Drains every socket on a thread of its own until `sent` (the sender's total, or
    /// [`STILL_SENDING`]) datagrams arrived, or the sender stopped and nothing more comes.
    pub fn spawn(self, sent: Arc<AtomicU64>) -> io::Result<JoinHandle<io::Result<Received>>> {
        std::thread::Builder::new()
            .name("baseline-receive".into())
            .spawn(move || self.drain(&sent))
    }

    fn drain(self, sent: &AtomicU64) -> io::Result<Received> {
        let epoll = epoll_for(&self.sockets)?;
        let mut batch = Batch::new();
        let mut received = Received::default();
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        let mut quiet_waits = 0;
        loop {
            let expected = sent.load(Ordering::Acquire);
            if received.datagrams >= expected {
                break;
            }
            let ready = wait(&epoll, &mut events)?;
            if !ready.is_empty() {
                quiet_waits = 0;
            } else if expected != STILL_SENDING {
                quiet_waits += 1;
                if quiet_waits == QUIET_WAITS {
                    break;
                }
            }
            for event in ready {
                let index = event.u64 as usize;
                if let Some(socket) = self.sockets.get(index) {
                    batch.drain(socket.as_raw_fd(), &mut received)?;
                }
            }
        }
        received.cpu = this_thread_cpu_time()?;
        Ok(received)
    }
}

fn set_receive_buffer(socket: &UdpSocket) -> io::Result<()> {
    let size = RECEIVE_BUFFER_BYTES;
    // SAFETY: passes a live c_int and its size; the socket is open for the call.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const size).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An epoll instance watching every socket for input, each tagged with its index.
fn epoll_for(sockets: &[UdpSocket]) -> io::Result<OwnedFd> {
    // SAFETY: no pointers; the result is checked before it is owned.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
    for (index, socket) in sockets.iter().enumerate() {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: index as u64,
        };
        // SAFETY: both descriptors are open; the event is a live local the kernel copies.
        let result = unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                socket.as_raw_fd(),
                &mut event,
            )
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(epoll)
}

/// The sockets with input, waiting at most [`WAIT`].
fn wait<'a>(
    epoll: &OwnedFd,
    events: &'a mut [libc::epoll_event; EVENTS],
) -> io::Result<&'a [libc::epoll_event]> {
    let timeout = WAIT.as_millis() as libc::c_int;
    // SAFETY: the kernel writes at most EVENTS entries into the array it is given.
    let count = unsafe {
        libc::epoll_wait(
            epoll.as_raw_fd(),
            events.as_mut_ptr(),
            EVENTS as libc::c_int,
            timeout,
        )
    };
    if count < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::Interrupted {
            return Ok(&[]);
        }
        return Err(error);
    }
    Ok(&events[..count as usize])
}

/// recvmmsg's buffers, set up once.
struct Batch {
    slots: Vec<u8>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Batch {
    fn new() -> Self {
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let headers = (0..BATCH)
            .map(|_| {
                // SAFETY: all-zero bytes are a valid mmsghdr (null pointers, zero lengths).
                unsafe { std::mem::zeroed() }
            })
            .collect();
        Self {
            slots: vec![0; BATCH * SLOT],
            iovecs: vec![empty; BATCH],
            headers,
        }
    }

    /// Takes everything queued on `fd`, adding it to `received`.
    fn drain(&mut self, fd: RawFd, received: &mut Received) -> io::Result<()> {
        loop {
            let slots = self.slots.chunks_exact_mut(SLOT);
            for ((header, iovec), slot) in self.headers.iter_mut().zip(&mut self.iovecs).zip(slots)
            {
                *iovec = libc::iovec {
                    iov_base: slot.as_mut_ptr().cast(),
                    iov_len: SLOT,
                };
                header.msg_hdr.msg_iov = iovec;
                header.msg_hdr.msg_iovlen = 1;
                header.msg_len = 0;
            }
            // SAFETY: each header points at one iovec of one SLOT-byte slot of `self.slots`,
            // all alive and unaliased for the call; no addresses or control data are asked for.
            let count = unsafe {
                libc::recvmmsg(
                    fd,
                    self.headers.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    std::ptr::null_mut(),
                )
            };
            if count < 0 {
                let error = io::Error::last_os_error();
                return match error.kind() {
                    io::ErrorKind::WouldBlock => Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(error),
                };
            }
            let count = count as usize;
            received.datagrams += count as u64;
            received.bytes += self.headers[..count]
                .iter()
                .map(|header| u64::from(header.msg_len))
                .sum::<u64>();
            if count < BATCH {
                return Ok(());
            }
        }
    }
}

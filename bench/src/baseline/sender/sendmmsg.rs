//! One `sendmmsg` syscall per batch of viewers: the plain-socket way to amortise syscalls.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Instant;

use shardcast_proto::media::MediaPacket;

use super::{BlockingSender, Sent, raw_destinations};
use crate::baseline::viewers::Viewers;

/// Datagrams per call, like one submit of the engine's loop.
const BATCH: usize = 64;

pub struct SendMmsg {
    socket: UdpSocket,
    destinations: Vec<(libc::sockaddr_storage, libc::socklen_t)>,
    buffers: Vec<Vec<u8>>,
    /// The viewer each filled buffer is for.
    batch_viewers: Vec<usize>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl BlockingSender for SendMmsg {
    fn new(viewers: &Viewers) -> io::Result<Self> {
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
        Ok(Self {
            socket: UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?,
            destinations: raw_destinations(viewers),
            buffers: (0..BATCH).map(|_| Vec::with_capacity(1500)).collect(),
            batch_viewers: vec![0; BATCH],
            iovecs: vec![empty; BATCH],
            headers,
        })
    }

    fn fan_out(
        &mut self,
        viewers: &mut Viewers,
        now: Instant,
        packet: &MediaPacket,
        sent: &mut Sent,
    ) {
        let mut next_viewer = 0;
        while next_viewer < self.destinations.len() {
            let mut filled = 0;
            while filled < BATCH && next_viewer < self.destinations.len() {
                if viewers.write(next_viewer, now, packet, &mut self.buffers[filled]) {
                    self.batch_viewers[filled] = next_viewer;
                    filled += 1;
                } else {
                    sent.skipped += 1;
                }
                next_viewer += 1;
            }
            self.send_batch(filled, sent);
        }
    }
}

impl SendMmsg {
    /// Sends the first `filled` buffers, calling again after a partial send; a datagram the
    /// kernel refuses is counted and passed over.
    fn send_batch(&mut self, filled: usize, sent: &mut Sent) {
        for i in 0..filled {
            let buffer = &mut self.buffers[i];
            self.iovecs[i] = libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: buffer.len(),
            };
            let (address, length) = &mut self.destinations[self.batch_viewers[i]];
            let header = &mut self.headers[i].msg_hdr;
            header.msg_name = (address as *mut libc::sockaddr_storage).cast();
            header.msg_namelen = *length;
            header.msg_iov = &mut self.iovecs[i];
            header.msg_iovlen = 1;
        }
        let fd = self.socket.as_raw_fd();
        let mut done = 0;
        while done < filled {
            let rest = &mut self.headers[done..filled];
            // SAFETY: every header points at a live iovec of a live buffer and at a live
            // address, none of which moves or is touched until the call returns.
            let count = unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), rest.len() as u32, 0) };
            if count < 0 {
                if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    sent.errors += 1;
                    done += 1;
                }
                continue;
            }
            for header in &rest[..count as usize] {
                sent.record(Ok(header.msg_len as usize));
            }
            done += count as usize;
        }
    }
}

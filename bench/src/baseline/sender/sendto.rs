//! One `sendto` syscall per datagram: what a simple UDP server does.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Instant;

use shardcast_proto::media::MediaPacket;

use super::{BlockingSender, Sent, raw_destinations};
use crate::baseline::viewers::Viewers;

pub struct SendTo {
    socket: UdpSocket,
    destinations: Vec<(libc::sockaddr_storage, libc::socklen_t)>,
    out: Vec<u8>,
}

impl BlockingSender for SendTo {
    fn new(viewers: &Viewers) -> io::Result<Self> {
        Ok(Self {
            socket: UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?,
            destinations: raw_destinations(viewers),
            out: Vec::with_capacity(1500),
        })
    }

    fn fan_out(
        &mut self,
        viewers: &mut Viewers,
        now: Instant,
        packet: &MediaPacket,
        sent: &mut Sent,
    ) {
        let fd = self.socket.as_raw_fd();
        for (viewer, (address, length)) in self.destinations.iter().enumerate() {
            if !viewers.write(viewer, now, packet, &mut self.out) {
                sent.skipped += 1;
                continue;
            }
            // SAFETY: the buffer and the address are live and unaliased for the call, with
            // their true lengths.
            let result = unsafe {
                libc::sendto(
                    fd,
                    self.out.as_ptr().cast(),
                    self.out.len(),
                    0,
                    (address as *const libc::sockaddr_storage).cast(),
                    *length,
                )
            };
            sent.record(if result < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(result as usize)
            });
        }
    }
}

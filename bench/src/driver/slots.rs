//! Memory the kernel reads or writes while a viewer's io_uring operation is in flight: one
//! receive slot per viewer socket and a pool of send slots. Each slot is boxed, so it stays
//! at one address however the collections holding it grow.

use std::net::SocketAddr;

use shardcast::udp::{sockaddr_from as to_sockaddr, socket_addr_from as from_sockaddr};

/// Larger than any datagram a WebRTC server sends (they stay under the path MTU); a longer
/// one arrives truncated and is dropped.
pub const RECV_BUFFER_BYTES: usize = 2048;

/// One pending receive: the datagram, who sent it, and the msghdr describing both.
pub struct RecvSlot {
    buffer: [u8; RECV_BUFFER_BYTES],
    source: libc::sockaddr_storage,
    iovec: libc::iovec,
    header: libc::msghdr,
}

impl RecvSlot {
    pub fn new() -> Box<Self> {
        // SAFETY: all-zero bytes are valid for these C structs (null pointers) and the byte
        // array; `prepare` sets the pointers before the kernel sees them.
        Box::new(unsafe { std::mem::zeroed() })
    }

    /// Resets the msghdr for the next RecvMsg; the kernel writes lengths and flags back.
    pub fn prepare(&mut self) -> *mut libc::msghdr {
        self.iovec = libc::iovec {
            iov_base: self.buffer.as_mut_ptr().cast(),
            iov_len: RECV_BUFFER_BYTES,
        };
        self.header.msg_name = (&raw mut self.source).cast();
        self.header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        self.header.msg_iov = &raw mut self.iovec;
        self.header.msg_iovlen = 1;
        self.header.msg_control = std::ptr::null_mut();
        self.header.msg_controllen = 0;
        self.header.msg_flags = 0;
        &raw mut self.header
    }

    /// The datagram of a receive that completed with `length` bytes; `None` when it was
    /// truncated or its source is not an IP address.
    pub fn received(&self, length: usize) -> Option<(SocketAddr, &[u8])> {
        if self.header.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let source = from_sockaddr(&self.source, self.header.msg_namelen)?;
        Some((source, self.buffer.get(..length)?))
    }
}

/// One datagram being sent: owned here until its completion arrives.
struct SendSlot {
    busy: bool,
    contents: Vec<u8>,
    destination: libc::sockaddr_storage,
    iovec: libc::iovec,
    header: libc::msghdr,
}

impl SendSlot {
    fn new() -> Box<Self> {
        // SAFETY: all-zero bytes are valid for these C structs, with null pointers; `prepare`
        // sets them before use. An empty Vec is written over the zeroed one before any read.
        let (destination, iovec, header) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed(), std::mem::zeroed()) };
        Box::new(Self {
            busy: false,
            contents: Vec::new(),
            destination,
            iovec,
            header,
        })
    }

    fn prepare(&mut self, destination: SocketAddr, contents: Vec<u8>) -> *const libc::msghdr {
        self.busy = true;
        self.contents = contents;
        let (storage, length) = to_sockaddr(destination);
        self.destination = storage;
        self.iovec = libc::iovec {
            iov_base: self.contents.as_mut_ptr().cast(),
            iov_len: self.contents.len(),
        };
        self.header.msg_name = (&raw mut self.destination).cast();
        self.header.msg_namelen = length;
        self.header.msg_iov = &raw mut self.iovec;
        self.header.msg_iovlen = 1;
        self.header.msg_control = std::ptr::null_mut();
        self.header.msg_controllen = 0;
        self.header.msg_flags = 0;
        &raw const self.header
    }
}

/// The sends in flight; slots are reused, so steady sending allocates only datagrams.
#[derive(Default)]
pub struct SendSlots {
    #[expect(
        clippy::vec_box,
        reason = "the kernel holds pointers into in-flight slots while the Vec grows"
    )]
    slots: Vec<Box<SendSlot>>,
    free: Vec<usize>,
}

impl SendSlots {
    /// Takes a slot for `contents` to `destination`: its index and the msghdr for SendMsg.
    pub fn start(
        &mut self,
        destination: SocketAddr,
        contents: Vec<u8>,
    ) -> (usize, *const libc::msghdr) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(SendSlot::new());
            self.slots.len() - 1
        });
        (index, self.slots[index].prepare(destination, contents))
    }

    /// The kernel is done with slot `index`; unknown or free indices are ignored.
    pub fn finish(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index).filter(|slot| slot.busy) {
            slot.busy = false;
            slot.contents = Vec::new();
            self.free.push(index);
        }
    }

    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_slots_are_reused_once_finished() {
        let mut slots = SendSlots::default();
        let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let (a, header) = slots.start(to, vec![1, 2, 3]);
        // SAFETY: the slot is alive and untouched by anything else here.
        let header = unsafe { &*header };
        // SAFETY: the iovec and address belong to the same live slot.
        let (iovec, name) = unsafe { (&*header.msg_iov, &*header.msg_name.cast()) };
        assert_eq!(iovec.iov_len, 3);
        assert_eq!(from_sockaddr(name, header.msg_namelen), Some(to));
        let (b, _) = slots.start(to, vec![4]);
        assert_ne!(a, b);
        slots.finish(a);
        slots.finish(a);
        slots.finish(77);
        assert_eq!(slots.in_flight(), 1);
        assert_eq!(slots.start(to, vec![5]).0, a);
    }

    #[test]
    fn a_truncated_receive_is_dropped() {
        let mut slot = RecvSlot::new();
        slot.prepare();
        let (storage, length) = to_sockaddr("10.0.0.1:5".parse().unwrap());
        slot.source = storage;
        slot.header.msg_namelen = length;
        assert_eq!(slot.received(3).map(|(_, d)| d.len()), Some(3));
        slot.header.msg_flags = libc::MSG_TRUNC;
        assert!(slot.received(3).is_none());
    }
}

//! The memory the shard receives into: one provided-buffer ring, registered with the shard's
//! io_uring once. A single multishot recvmsg takes a buffer from the ring for each datagram;
//! the kernel writes an `io_uring_recvmsg_out` header, the source address, the control
//! messages (which of our addresses it was sent to) and the payload into it. The buffer goes
//! back on the ring as soon as the core has handled the datagram.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::Submitter;
use io_uring::types::{BufRingEntry, RecvMsgOut};

use crate::addresses::unmap_v4;
use crate::pktinfo::{ControlBuffer, RECEIVE_CONTROL_BYTES};
use crate::udp::socket_addr_from;

/// One buffer: the kernel's `io_uring_recvmsg_out`, the source address, the control messages,
/// then the payload.
pub const RECV_BUFFER_BYTES: usize = 2048;

/// `io_uring_recvmsg_out`: the name, control and payload lengths and the msg flags, as u32s.
const RECVMSG_OUT_BYTES: usize = 4 * size_of::<u32>();

/// Room for the source address: the socket is IPv4 or IPv6, so a `sockaddr_in6` holds either.
const NAME_BYTES: usize = size_of::<libc::sockaddr_in6>();

/// The longest datagram a buffer holds whole, ~1,900 bytes: more than any WebRTC peer sends
/// (they stay under the path MTU). A longer one arrives truncated and is dropped.
pub const RECV_DATAGRAM_BYTES: usize =
    RECV_BUFFER_BYTES - RECVMSG_OUT_BYTES - NAME_BYTES - RECEIVE_CONTROL_BYTES;

/// The buffer group the shard's multishot receive takes from; a shard registers only this one.
const BUFFER_GROUP: u16 = 0;

/// One received datagram, with addresses as the core sees them (IPv4-mapped ones as IPv4).
#[derive(Debug, PartialEq, Eq)]
pub struct Received<'a> {
    pub source: SocketAddr,
    /// Which of our addresses it was sent to; `None` when the kernel did not say.
    pub local: Option<IpAddr>,
    pub datagram: &'a [u8],
}

/// Why a filled buffer holds nothing for the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreceivable {
    /// The datagram was longer than the buffer.
    Truncated,
    /// No IP source address, or a buffer the kernel described inconsistently.
    Malformed,
}

/// The ring of buffer descriptors the kernel takes from, and the buffers themselves.
pub struct RecvRing {
    /// The descriptors, from the start of the mapping (the kernel wants them page-aligned),
    /// then the buffers.
    memory: Mapping,
    buffers_offset: usize,
    /// A power of two, as the ring's index arithmetic requires.
    count: u16,
    /// The next descriptor we write; the kernel's tail, published after each write.
    tail: u16,
    /// What the multishot recvmsg is armed with. The kernel reads only the name and control
    /// lengths, which fix where each part lands in a buffer; boxed so its address outlives any
    /// SQE that points at it.
    template: Box<libc::msghdr>,
}

impl RecvRing {
    /// Maps `count` buffers (a power of two, at most 32768), puts them all on the ring and
    /// registers the ring with the io_uring `submitter` belongs to. The ring must be dropped
    /// after that io_uring.
    pub fn register(submitter: &Submitter<'_>, count: u16) -> io::Result<Self> {
        if !count.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the receive buffer count must be a power of two",
            ));
        }
        let buffers = usize::from(count);
        let descriptors = (buffers * size_of::<BufRingEntry>()).next_multiple_of(page_size()?);
        let memory = Mapping::new(descriptors + buffers * RECV_BUFFER_BYTES)?;
        // SAFETY: all-zero bytes are a valid msghdr: no name, no iovec, no control pointer.
        let mut template: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        template.msg_namelen = NAME_BYTES as libc::socklen_t;
        template.msg_controllen = RECEIVE_CONTROL_BYTES as _;
        let mut ring = Self {
            memory,
            buffers_offset: descriptors,
            count,
            tail: 0,
            template,
        };
        for id in 0..count {
            ring.recycle(id);
        }
        let address = ring.memory.start.as_ptr() as u64;
        // SAFETY: the descriptors start the page-aligned mapping, `count` of them fit before the
        // buffers, and the mapping lives as long as `ring`, which its owner drops only after
        // the io_uring.
        unsafe { submitter.register_buf_ring_with_flags(address, count, BUFFER_GROUP, 0)? };
        Ok(ring)
    }

    /// The msghdr and buffer group to arm a multishot recvmsg with.
    pub fn arming(&self) -> (*const libc::msghdr, u16) {
        (&raw const *self.template, BUFFER_GROUP)
    }

    /// The datagram in buffer `id`, which a completion reported holding `length` bytes.
    pub fn datagram(&self, id: u16, length: usize) -> Result<Received<'_>, Unreceivable> {
        let buffer = self.buffer(id).ok_or(Unreceivable::Malformed)?;
        let filled = &buffer[..length.min(RECV_BUFFER_BYTES)];
        let parts =
            RecvMsgOut::parse(filled, &self.template).map_err(|()| Unreceivable::Malformed)?;
        if parts.flags() & libc::MSG_TRUNC as u32 != 0 {
            return Err(Unreceivable::Truncated);
        }
        if parts.is_name_data_truncated() {
            return Err(Unreceivable::Malformed);
        }
        let source = source_address(parts.name_data()).ok_or(Unreceivable::Malformed)?;
        // The parser lends the payload only for as long as itself; find it again in `filled`.
        let payload = parts.payload_data();
        let start = payload.as_ptr().addr() - filled.as_ptr().addr();
        let datagram = filled
            .get(start..start + payload.len())
            .ok_or(Unreceivable::Malformed)?;
        Ok(Received {
            source: unmap_v4(source),
            local: ControlBuffer::local_address_in(parts.control_data()),
            datagram,
        })
    }

    /// Puts buffer `id` back on the ring for the kernel to fill again. Only for a buffer a
    /// completion handed over, once: the kernel owns every buffer on the ring.
    pub fn recycle(&mut self, id: u16) {
        let Some(buffer) = self.buffer(id) else {
            return;
        };
        let address = buffer.as_ptr() as u64;
        let slot = usize::from(self.tail & (self.count - 1));
        let descriptors = self.descriptors();
        // SAFETY: `slot` is below `count`, so the descriptor lies in the ring; it is past the
        // tail the kernel has seen, so the kernel is not reading it.
        let descriptor = unsafe { &mut *descriptors.add(slot) };
        descriptor.set_addr(address);
        descriptor.set_len(RECV_BUFFER_BYTES as u32);
        descriptor.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the aligned u16 the kernel reads in the first descriptor; it lives
        // as long as the mapping, and only this thread writes it.
        let tail = unsafe { AtomicU16::from_ptr(BufRingEntry::tail(descriptors).cast_mut()) };
        // Release: the descriptor above reaches the kernel before the tail that shows it.
        tail.store(self.tail, Ordering::Release);
    }

    fn descriptors(&self) -> *mut BufRingEntry {
        self.memory.start.as_ptr().cast()
    }

    /// Buffer `id`, whole; `None` past the last one.
    fn buffer(&self, id: u16) -> Option<&[u8]> {
        if id >= self.count {
            return None;
        }
        let offset = self.buffers_offset + usize::from(id) * RECV_BUFFER_BYTES;
        // SAFETY: buffer `id` lies inside the mapping, which lives as long as `self`. The
        // kernel writes a buffer only while it is on the ring, and callers read one only
        // between the completion that handed it over and `recycle`.
        Some(unsafe {
            std::slice::from_raw_parts(self.memory.start.as_ptr().add(offset), RECV_BUFFER_BYTES)
        })
    }
}

/// The source address in a buffer's name field, or `None` when it is not an IP address.
fn source_address(name: &[u8]) -> Option<SocketAddr> {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let length = name.len().min(size_of::<libc::sockaddr_storage>());
    // SAFETY: `length` bytes fit both the name and the storage, which do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), (&raw mut storage).cast::<u8>(), length);
    }
    socket_addr_from(&storage, length as libc::socklen_t)
}

fn page_size() -> io::Result<usize> {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).map_err(|_| io::Error::last_os_error())
}

/// Anonymous memory that never moves: the kernel keeps its address from registration on.
struct Mapping {
    start: NonNull<u8>,
    length: usize,
}

impl Mapping {
    /// `length` bytes, zeroed and page-aligned, faulted in now rather than on the first
    /// receives.
    fn new(length: usize) -> io::Result<Self> {
        // SAFETY: a fresh private anonymous mapping; nothing else refers to that memory.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let start = NonNull::new(start.cast()).ok_or_else(io::Error::last_os_error)?;
        Ok(Self { start, length })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped, once; no reference into it outlives `self`.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.length) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io_uring::IoUring;

    fn ring(count: u16) -> (IoUring, RecvRing) {
        let uring = IoUring::new(8).unwrap();
        let recv = RecvRing::register(&uring.submitter(), count).unwrap();
        (uring, recv)
    }

    /// Writes buffer `id` as the kernel would for a multishot recvmsg: the lengths and flags,
    /// the name field, the control field, then the payload. Returns the bytes used.
    fn fill(
        recv: &RecvRing,
        id: u16,
        name: &[u8],
        control: &[u8],
        payload: &[u8],
        flags: u32,
    ) -> usize {
        let mut bytes = Vec::new();
        for field in [name.len(), control.len(), payload.len()] {
            bytes.extend_from_slice(&(field as u32).to_ne_bytes());
        }
        bytes.extend_from_slice(&flags.to_ne_bytes());
        bytes.extend_from_slice(name);
        bytes.resize(RECVMSG_OUT_BYTES + NAME_BYTES, 0);
        bytes.extend_from_slice(control);
        bytes.resize(RECV_BUFFER_BYTES - RECV_DATAGRAM_BYTES, 0);
        bytes.extend_from_slice(payload);
        let used = bytes.len().min(RECV_BUFFER_BYTES);
        let start = recv.buffer(id).unwrap().as_ptr().cast_mut();
        // SAFETY: the buffer is RECV_BUFFER_BYTES long, and no receive is armed to write it.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), start, used) };
        used
    }

    fn name_of(address: &str) -> Vec<u8> {
        let (storage, length) = crate::udp::sockaddr_from(address.parse().unwrap());
        // SAFETY: `length` bytes of the storage are the sockaddr.
        let bytes = unsafe {
            std::slice::from_raw_parts((&raw const storage).cast::<u8>(), length as usize)
        };
        bytes.to_vec()
    }

    /// An IPV6_PKTINFO control message for ::ffff:127.0.0.3, as the kernel writes it.
    fn pktinfo_to_127_0_0_3() -> Vec<u8> {
        let mut message = Vec::new();
        message.extend_from_slice(&(16 + 20usize).to_ne_bytes());
        message.extend_from_slice(&libc::IPPROTO_IPV6.to_ne_bytes());
        message.extend_from_slice(&libc::IPV6_PKTINFO.to_ne_bytes());
        let mapped: std::net::Ipv6Addr = "::ffff:127.0.0.3".parse().unwrap();
        message.extend_from_slice(&mapped.octets());
        message.extend_from_slice(&1u32.to_ne_bytes());
        message.resize(40, 0);
        message
    }

    #[test]
    fn a_filled_buffer_yields_source_local_address_and_payload() {
        let (_uring, recv) = ring(2);
        let name = name_of("[::ffff:127.0.0.2]:5000");
        let used = fill(&recv, 1, &name, &pktinfo_to_127_0_0_3(), b"hello", 0);
        let received = recv.datagram(1, used).unwrap();
        assert_eq!(received.source, "127.0.0.2:5000".parse().unwrap());
        assert_eq!(received.local, Some("127.0.0.3".parse().unwrap()));
        assert_eq!(received.datagram, b"hello");
    }

    #[test]
    fn truncated_unnamed_and_unknown_buffers_are_refused() {
        let (_uring, recv) = ring(2);
        let name = name_of("127.0.0.2:5000");
        let truncated = fill(&recv, 0, &name, &[], &[1; 8], libc::MSG_TRUNC as u32);
        assert_eq!(recv.datagram(0, truncated), Err(Unreceivable::Truncated));

        let unix_family = (libc::AF_UNIX as u16).to_ne_bytes();
        let used = fill(&recv, 0, &unix_family, &[], b"x", 0);
        assert_eq!(recv.datagram(0, used), Err(Unreceivable::Malformed));

        let used = fill(&recv, 1, &name, &[], b"x", 0);
        assert_eq!(recv.datagram(1, used).unwrap().datagram, b"x");
        assert_eq!(recv.datagram(2, used), Err(Unreceivable::Malformed));
        // Shorter than the header and the fields the template reserves.
        assert_eq!(recv.datagram(1, 20), Err(Unreceivable::Malformed));
    }

    #[test]
    fn the_ring_offers_every_buffer_once_and_refuses_a_count_it_cannot_index() {
        let (_uring, mut recv) = ring(4);
        assert_eq!(recv.tail, 4);
        let descriptor = |recv: &RecvRing, slot: usize| {
            // SAFETY: slot < count, inside the ring; nothing writes it meanwhile.
            let entry = unsafe { &*recv.descriptors().add(slot) };
            (entry.bid(), entry.len(), entry.addr())
        };
        for id in 0..4 {
            let address = recv.buffer(id).unwrap().as_ptr() as u64;
            let bytes = RECV_BUFFER_BYTES as u32;
            assert_eq!(descriptor(&recv, usize::from(id)), (id, bytes, address));
        }
        // A returned buffer takes the next slot, wrapping; an unknown id is ignored.
        recv.recycle(2);
        recv.recycle(9);
        assert_eq!(recv.tail, 5);
        assert_eq!(descriptor(&recv, 0).0, 2);

        let uring = IoUring::new(8).unwrap();
        assert!(RecvRing::register(&uring.submitter(), 3).is_err());
    }
}

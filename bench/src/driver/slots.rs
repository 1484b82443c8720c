//! Memory the kernel reads or writes while a viewer's io_uring operation is in flight: one
//! receive slot per viewer socket and a pool of send slots. Each slot is boxed, so it stays
//! at one address however the collections holding it grow.

use std::net::SocketAddr;

use shardcast::udp::{sockaddr_from as to_sockaddr, socket_addr_from as from_sockaddr};

/// Room for the largest UDP payload: with UDP_GRO on (see `net::bind_like`) one receive may
/// hold a server's whole GSO send, up to 64 KB, which a smaller buffer would truncate and
/// lose. The pages past the first are touched only by such receives.
pub const RECV_BUFFER_BYTES: usize = 65_536;

/// Room for one control message carrying an int (UDP_GRO's segment size), 8-byte aligned.
const CONTROL_WORDS: usize = 4;

/// One pending receive: the datagram, who sent it, and the msghdr describing both.
pub struct RecvSlot {
    buffer: Box<[u8]>,
    source: libc::sockaddr_storage,
    control: [u64; CONTROL_WORDS],
    iovec: libc::iovec,
    header: libc::msghdr,
}

/// One receive: where it came from, its bytes, and the segment size when the kernel handed
/// over several datagrams at once (all `segment` long except the last).
pub struct Received<'a> {
    pub source: SocketAddr,
    pub bytes: &'a [u8],
    pub segment: Option<usize>,
}

impl Received<'_> {
    /// Each datagram of the receive.
    pub fn datagrams(&self) -> std::slice::Chunks<'_, u8> {
        let size = self.segment.unwrap_or(self.bytes.len()).max(1);
        self.bytes.chunks(size)
    }
}

impl RecvSlot {
    pub fn new() -> Box<Self> {
        // SAFETY: all-zero bytes are valid for these C structs (null pointers) and arrays;
        // `prepare` sets the pointers before the kernel sees them.
        let (source, control, iovec, header) = unsafe {
            (
                std::mem::zeroed(),
                std::mem::zeroed(),
                std::mem::zeroed(),
                std::mem::zeroed(),
            )
        };
        Box::new(Self {
            buffer: vec![0; RECV_BUFFER_BYTES].into_boxed_slice(),
            source,
            control,
            iovec,
            header,
        })
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
        self.header.msg_control = self.control.as_mut_ptr().cast();
        self.header.msg_controllen = size_of_val(&self.control);
        self.header.msg_flags = 0;
        &raw mut self.header
    }

    /// What a receive that completed with `length` bytes holds; `None` when it was truncated
    /// or its source is not an IP address.
    pub fn received(&self, length: usize) -> Option<Received<'_>> {
        if self.header.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        Some(Received {
            source: from_sockaddr(&self.source, self.header.msg_namelen)?,
            bytes: self.buffer.get(..length)?,
            segment: self.gro_segment(),
        })
    }

    /// The UDP_GRO control message's segment size, if the kernel wrote one.
    fn gro_segment(&self) -> Option<usize> {
        let header = &raw const self.header;
        // SAFETY: the kernel wrote `msg_controllen` bytes of well-formed control messages into
        // `control`, which `header` points to; the CMSG macros stay within that length.
        unsafe {
            let mut message = libc::CMSG_FIRSTHDR(header);
            while !message.is_null() {
                if (*message).cmsg_level == libc::SOL_UDP && (*message).cmsg_type == libc::UDP_GRO {
                    let size = libc::CMSG_DATA(message)
                        .cast::<libc::c_int>()
                        .read_unaligned();
                    return usize::try_from(size).ok().filter(|&size| size > 0);
                }
                message = libc::CMSG_NXTHDR(header, message);
            }
        }
        None
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
        assert_eq!(slot.received(3).map(|r| r.bytes.len()), Some(3));
        slot.header.msg_flags = libc::MSG_TRUNC;
        assert!(slot.received(3).is_none());
    }

    #[test]
    fn a_coalesced_receive_splits_at_its_segment_size() {
        let source = "127.0.0.1:5".parse().unwrap();
        let bytes = [7u8; 10];
        let sizes = |segment| {
            let received = Received {
                source,
                bytes: &bytes,
                segment,
            };
            received.datagrams().map(<[u8]>::len).collect::<Vec<_>>()
        };
        assert_eq!(sizes(Some(4)), [4, 4, 2]);
        assert_eq!(sizes(Some(5)), [5, 5]);
        assert_eq!(sizes(None), [10]);
    }

    /// A GSO send of three segments to a socket from `bind_like` (UDP_GRO on) arrives in one
    /// receive that names the segment size, and splits back into the three datagrams.
    #[test]
    fn a_gso_send_arrives_whole_and_splits_back_into_its_datagrams() {
        use std::os::fd::AsRawFd;

        let receiver = super::super::net::bind_like("127.0.0.1".parse().unwrap()).unwrap();
        let port = receiver.local_addr().unwrap().port();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let payload: Vec<u8> = (0..250u8).collect();
        send_with_segment_size(&sender, ("127.0.0.1", port), &payload, 100);

        let mut slot = RecvSlot::new();
        let header = slot.prepare();
        // SAFETY: a valid socket and a msghdr whose buffers live in `slot` for the call.
        let length = unsafe { libc::recvmsg(receiver.as_raw_fd(), header, 0) };
        let received = slot.received(usize::try_from(length).unwrap()).unwrap();
        assert_eq!(received.source, sender.local_addr().unwrap());
        assert_eq!(received.segment, Some(100));
        let datagrams: Vec<&[u8]> = received.datagrams().collect();
        assert_eq!(
            datagrams,
            [&payload[..100], &payload[100..200], &payload[200..]]
        );
    }

    /// Sends `payload` as one UDP GSO send cut into `segment`-byte datagrams.
    fn send_with_segment_size(
        socket: &std::net::UdpSocket,
        to: (&str, u16),
        payload: &[u8],
        segment: u16,
    ) {
        use std::os::fd::AsRawFd;

        let (mut name, name_length) = to_sockaddr(format!("{}:{}", to.0, to.1).parse().unwrap());
        let mut iovec = libc::iovec {
            iov_base: payload.as_ptr().cast_mut().cast(),
            iov_len: payload.len(),
        };
        let mut control = [0u64; CONTROL_WORDS];
        // SAFETY: all-zero is a valid msghdr; every pointer set below outlives the sendmsg.
        let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
        header.msg_name = (&raw mut name).cast();
        header.msg_namelen = name_length;
        header.msg_iov = &raw mut iovec;
        header.msg_iovlen = 1;
        header.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        header.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
        // SAFETY: the control buffer is large enough for one u16 control message, so the
        // first header and its data lie inside it.
        let sent = unsafe {
            let message = libc::CMSG_FIRSTHDR(&raw const header);
            (*message).cmsg_level = libc::SOL_UDP;
            (*message).cmsg_type = libc::UDP_SEGMENT;
            (*message).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
            libc::CMSG_DATA(message)
                .cast::<u16>()
                .write_unaligned(segment);
            libc::sendmsg(socket.as_raw_fd(), &raw const header, 0)
        };
        assert_eq!(usize::try_from(sent).unwrap(), payload.len());
    }
}

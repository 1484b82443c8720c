//! Memory the kernel reads while a send is in flight: send buffers, and the
//! msghdr/iovec/sockaddr/control messages each one needs. Every slot stays at one heap
//! address for the life of the shard, and so does its buffer: the core writes each outgoing
//! datagram straight into a free send slot, so sending allocates nothing. (Receives have their
//! own memory, in `recv_ring`.)

use std::net::SocketAddr;

use crate::pktinfo::{ControlBuffer, SourceAddress};
use crate::udp::sockaddr_from;

/// Each send buffer's starting capacity: a datagram at Ethernet MTU. A rare larger control
/// datagram grows its slot's buffer once, and the slot keeps it.
pub const SEND_BUFFER_BYTES: usize = 1500;

/// One send slot: a buffer the core writes a datagram into, and what the kernel needs to send
/// it, all kept in place until the send completes.
struct SendSlot {
    busy: bool,
    buffer: Vec<u8>,
    destination: libc::sockaddr_storage,
    control: ControlBuffer,
    iovec: libc::iovec,
    header: libc::msghdr,
}

impl SendSlot {
    fn empty(buffer_bytes: usize) -> Self {
        // SAFETY: all-zero bytes are valid for these plain C structs (null pointers included)
        // and byte arrays; the pointers are set by `prepare` before any use.
        let (destination, control, iovec, header) = unsafe {
            (
                std::mem::zeroed(),
                std::mem::zeroed(),
                std::mem::zeroed(),
                std::mem::zeroed(),
            )
        };
        Self {
            busy: false,
            buffer: Vec::with_capacity(buffer_bytes),
            destination,
            control,
            iovec,
            header,
        }
    }

    fn prepare(
        &mut self,
        destination: SocketAddr,
        source: Option<SourceAddress>,
    ) -> *const libc::msghdr {
        self.busy = true;
        let (storage, length) = sockaddr_from(destination);
        self.destination = storage;
        self.iovec = libc::iovec {
            iov_base: self.buffer.as_mut_ptr().cast(),
            iov_len: self.buffer.len(),
        };
        self.header.msg_name = (&raw mut self.destination).cast();
        self.header.msg_namelen = length;
        self.header.msg_iov = &raw mut self.iovec;
        self.header.msg_iovlen = 1;
        self.header.msg_flags = 0;
        self.control.attach_source(&mut self.header, source);
        &raw const self.header
    }
}

/// A fixed set of send slots, allocated once with their buffers.
pub struct SendSlots {
    /// Never resized: the kernel holds pointers into in-flight slots.
    slots: Box<[SendSlot]>,
    free: Vec<usize>,
}

impl SendSlots {
    /// `count` slots, each with a buffer of `buffer_bytes` capacity.
    pub fn new(count: usize, buffer_bytes: usize) -> Self {
        Self {
            slots: (0..count).map(|_| SendSlot::empty(buffer_bytes)).collect(),
            // Popped from the end: slot 0 first.
            free: (0..count).rev().collect(),
        }
    }

    /// A free slot to write a datagram into; `None` while every slot is in flight.
    pub fn vacant(&mut self) -> Option<VacantSend<'_>> {
        let index = *self.free.last()?;
        Some(VacantSend { slots: self, index })
    }

    /// The kernel is done with slot `index`: it is free again, buffer and all. Unknown or
    /// already free indices are ignored.
    pub fn finish(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if !slot.busy {
            return;
        }
        slot.busy = false;
        self.free.push(index);
    }

    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// A free send slot, taken only when `start` is called: dropping it leaves the slot free.
pub struct VacantSend<'a> {
    slots: &'a mut SendSlots,
    index: usize,
}

impl VacantSend<'_> {
    /// The slot's buffer, for the datagram (whatever it held before is stale).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.slots.slots[self.index].buffer
    }

    /// Takes the slot for the datagram in its buffer, to `destination` and from `source` when
    /// given.
    pub fn start(self, destination: SocketAddr, source: Option<SourceAddress>) -> StartedSend {
        self.slots.free.pop();
        let header = self.slots.slots[self.index].prepare(destination, source);
        StartedSend {
            index: self.index,
            header,
        }
    }
}

/// A send slot in flight: its index (for the SQE's user data) and its msghdr. Only
/// `VacantSend::start` makes one, so the header always points into a live slot.
pub struct StartedSend {
    index: usize,
    header: *const libc::msghdr,
}

impl StartedSend {
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn header(&self) -> *const libc::msghdr {
        self.header
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp::socket_addr_from;

    fn send(slots: &mut SendSlots, destination: &str, datagram: &[u8]) -> StartedSend {
        let mut vacant = slots.vacant().unwrap();
        vacant.buffer().clear();
        vacant.buffer().extend_from_slice(datagram);
        vacant.start(destination.parse().unwrap(), None)
    }

    #[test]
    fn send_slots_are_a_fixed_set_reused_with_their_buffers() {
        let mut slots = SendSlots::new(2, 1500);
        let first = send(&mut slots, "127.0.0.1:9", &[1, 2, 3]);
        let buffer = slots.slots[first.index()].buffer.as_ptr();
        let second = send(&mut slots, "127.0.0.1:9", &[4]);
        assert_ne!(first.index(), second.index());
        assert_eq!(slots.in_flight(), 2);
        assert!(slots.vacant().is_none(), "every slot is in flight");
        slots.finish(first.index());
        slots.finish(first.index());
        slots.finish(99);
        assert_eq!(slots.in_flight(), 1);
        let third = send(&mut slots, "127.0.0.1:9", &[5]);
        assert_eq!(third.index(), first.index());
        assert_eq!(slots.slots[third.index()].buffer.as_ptr(), buffer);
        assert_eq!(slots.slots[third.index()].buffer.capacity(), 1500);
    }

    #[test]
    fn a_vacant_slot_dropped_unstarted_stays_free() {
        let mut slots = SendSlots::new(1, 1500);
        slots.vacant().unwrap().buffer().push(1);
        assert_eq!(slots.in_flight(), 0);
        assert!(slots.vacant().is_some());
    }

    #[test]
    fn send_header_points_at_the_datagram_and_destination() {
        let mut slots = SendSlots::new(1, 1500);
        let started = send(&mut slots, "[2001:db8::1]:5004", &[7; 100]);
        // SAFETY: the slot is alive and nothing else touches it during the test.
        let header = unsafe { &*started.header() };
        // SAFETY: as above; the iovec belongs to the same slot.
        let iovec = unsafe { &*header.msg_iov };
        assert_eq!(iovec.iov_len, 100);
        assert_eq!(
            iovec.iov_base.cast_const(),
            slots.slots[0].buffer.as_ptr().cast()
        );
        assert!(
            header.msg_control.is_null(),
            "no source, no control message"
        );
        let name = header.msg_name.cast::<libc::sockaddr_storage>();
        // SAFETY: msg_name points at the slot's sockaddr_storage.
        let parsed = socket_addr_from(unsafe { &*name }, header.msg_namelen);
        assert_eq!(parsed, Some("[2001:db8::1]:5004".parse().unwrap()));
    }

    #[test]
    fn a_reused_slot_drops_the_previous_source() {
        let mut slots = SendSlots::new(1, 1500);
        let destination: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let source = SourceAddress::for_destination(destination, "127.0.0.2".parse().unwrap());
        let started = slots.vacant().unwrap().start(destination, source);
        // SAFETY: the slot is alive and nothing else touches it during the test.
        assert_ne!(unsafe { (*started.header()).msg_controllen }, 0);
        slots.finish(started.index());
        let again = send(&mut slots, "127.0.0.1:9", &[2]);
        // SAFETY: as above.
        assert_eq!(unsafe { (*again.header()).msg_controllen }, 0);
    }
}

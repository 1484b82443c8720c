//! Memory the kernel reads while a send is in flight: send buffers, and the
//! msghdr/iovec/sockaddr/control messages each one needs. Every slot stays at one heap
//! address for the life of the shard, and so does its buffer: the core writes each outgoing
//! datagram, or run of datagrams for one UDP GSO send, straight into a free send slot, so
//! sending allocates nothing. A run the kernel refuses to segment is sent again from the same
//! slot one datagram at a time, each after the previous one completes. (Receives have their
//! own memory, in `recv_ring`.)

use std::net::SocketAddr;

use crate::gso;
use crate::pktinfo::{ControlBuffer, SourceAddress};
use crate::udp::sockaddr_from;

/// Each send buffer's starting capacity without GSO: a datagram at Ethernet MTU. A rare
/// larger control datagram grows its slot's buffer once, and the slot keeps it. With GSO the
/// buffers hold a run ([`gso::RUN_BYTES`]).
pub const SEND_BUFFER_BYTES: usize = 1500;

/// One send slot: a buffer the core writes a datagram into, and what the kernel needs to send
/// it, all kept in place until the send completes.
struct SendSlot {
    busy: bool,
    buffer: Vec<u8>,
    destination: libc::sockaddr_storage,
    source: Option<SourceAddress>,
    /// The segment size of the run in flight, while it is one GSO send.
    segment_size: Option<u16>,
    /// While a refused run is sent again one datagram at a time: its segment size and where
    /// in the buffer the datagram in flight starts.
    resending: Option<(usize, usize)>,
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
            source: None,
            segment_size: None,
            resending: None,
            control,
            iovec,
            header,
        }
    }

    fn prepare(
        &mut self,
        destination: SocketAddr,
        source: Option<SourceAddress>,
        segment_size: Option<u16>,
    ) -> *const libc::msghdr {
        self.busy = true;
        let (storage, length) = sockaddr_from(destination);
        self.destination = storage;
        self.source = source;
        self.segment_size = segment_size;
        self.resending = None;
        self.header.msg_name = (&raw mut self.destination).cast();
        self.header.msg_namelen = length;
        self.header.msg_iov = &raw mut self.iovec;
        self.header.msg_iovlen = 1;
        self.header.msg_flags = 0;
        self.point_at(0, self.buffer.len());
        if let Some(size) = segment_size {
            gso::attach_segment_size(&mut self.control, &mut self.header, size);
        }
        &raw const self.header
    }

    /// Points the send at `len` bytes of the buffer from `start`, from the slot's source.
    fn point_at(&mut self, start: usize, len: usize) {
        let bytes = &mut self.buffer[start..start + len];
        self.iovec = libc::iovec {
            iov_base: bytes.as_mut_ptr().cast(),
            iov_len: bytes.len(),
        };
        self.control.attach_source(&mut self.header, self.source);
    }

    /// Points the send at the run's next datagram, from `start`, on its own; false when the
    /// run has no datagram there.
    fn resend_from(&mut self, segment_size: usize, start: usize) -> bool {
        let left = self.buffer.len().saturating_sub(start);
        if left == 0 || segment_size == 0 {
            self.resending = None;
            return false;
        }
        self.resending = Some((segment_size, start));
        self.point_at(start, left.min(segment_size));
        true
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

    /// The kernel is done with slot `index`'s send. A slot sending a refused run again one
    /// datagram at a time goes on to the next one, whose send this returns; otherwise the
    /// slot is free again, buffer and all. Unknown or already free indices are ignored.
    #[must_use = "a slot sending a run again goes on with the send this returns"]
    pub fn finish(&mut self, index: usize) -> Option<StartedSend> {
        let slot = self.slots.get_mut(index).filter(|slot| slot.busy)?;
        if let Some((segment_size, start)) = slot.resending
            && slot.resend_from(segment_size, start + segment_size)
        {
            return Some(StartedSend {
                index,
                header: &raw const slot.header,
            });
        }
        slot.busy = false;
        self.free.push(index);
        None
    }

    /// True when slot `index` is in flight as one GSO send of a run.
    pub fn is_run(&self, index: usize) -> bool {
        self.slots
            .get(index)
            .is_some_and(|slot| slot.busy && slot.segment_size.is_some())
    }

    /// The kernel refused to segment slot `index`'s run: sends it again one datagram at a
    /// time, from the slot's buffer, starting with the first, whose send this returns. `None`,
    /// and the slot freed, when the slot held no run.
    #[must_use = "the first datagram's send must be queued"]
    pub fn resend_singly(&mut self, index: usize) -> Option<StartedSend> {
        if !self.is_run(index) {
            return self.finish(index);
        }
        let slot = &mut self.slots[index];
        let segment_size = slot.segment_size.take().map_or(0, usize::from);
        if slot.resend_from(segment_size, 0) {
            return Some(StartedSend {
                index,
                header: &raw const slot.header,
            });
        }
        self.finish(index)
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
    /// given; with a `segment_size`, the buffer is a run the kernel cuts into datagrams of
    /// that size (see [`shardcast_proto::shard::TransmitMeta::segment_size`]).
    pub fn start(
        self,
        destination: SocketAddr,
        source: Option<SourceAddress>,
        segment_size: Option<u16>,
    ) -> StartedSend {
        self.slots.free.pop();
        let header = self.slots.slots[self.index].prepare(destination, source, segment_size);
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
        vacant.start(destination.parse().unwrap(), None, None)
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
        assert!(slots.finish(first.index()).is_none());
        assert!(slots.finish(first.index()).is_none());
        assert!(slots.finish(99).is_none());
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
        let started = slots.vacant().unwrap().start(destination, source, None);
        // SAFETY: the slot is alive and nothing else touches it during the test.
        assert_ne!(unsafe { (*started.header()).msg_controllen }, 0);
        assert!(slots.finish(started.index()).is_none());
        let again = send(&mut slots, "127.0.0.1:9", &[2]);
        // SAFETY: as above.
        assert_eq!(unsafe { (*again.header()).msg_controllen }, 0);
    }

    /// The buffer and length a started send points at.
    fn sent_bytes(started: &StartedSend) -> (*const u8, usize) {
        // SAFETY: the slot is alive and nothing else touches it during the test.
        let iovec = unsafe { &*(*started.header()).msg_iov };
        (iovec.iov_base.cast::<u8>().cast_const(), iovec.iov_len)
    }

    #[test]
    fn a_run_carries_its_segment_size_and_a_refused_one_is_sent_again_datagram_by_datagram() {
        let mut slots = SendSlots::new(1, gso::RUN_BYTES);
        let mut vacant = slots.vacant().unwrap();
        vacant.buffer().extend_from_slice(&[1; 250]);
        let start = vacant.buffer().as_ptr();
        let run = vacant.start("127.0.0.1:9".parse().unwrap(), None, Some(100));
        assert!(slots.is_run(run.index()));
        // SAFETY: the slot is alive and nothing else touches it during the test.
        assert_ne!(unsafe { (*run.header()).msg_controllen }, 0, "UDP_SEGMENT");
        assert_eq!(sent_bytes(&run), (start, 250));

        let mut sent = Vec::new();
        let mut next = slots.resend_singly(run.index());
        while let Some(single) = next {
            assert!(!slots.is_run(single.index()));
            // SAFETY: as above.
            assert_eq!(unsafe { (*single.header()).msg_controllen }, 0, "no cmsg");
            let (at, len) = sent_bytes(&single);
            // SAFETY: both pointers lie in the slot's buffer.
            sent.push((unsafe { at.offset_from(start) }, len));
            next = slots.finish(single.index());
        }
        assert_eq!(sent, [(0, 100), (100, 100), (200, 50)]);
        assert_eq!(slots.in_flight(), 0);
    }

    #[test]
    fn a_plain_datagram_is_never_resent() {
        let mut slots = SendSlots::new(1, 1500);
        let started = send(&mut slots, "127.0.0.1:9", &[1; 200]);
        assert!(!slots.is_run(started.index()));
        assert!(slots.resend_singly(started.index()).is_none());
        assert_eq!(slots.in_flight(), 0);
    }
}

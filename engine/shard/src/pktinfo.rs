//! The local address of a datagram, carried in control messages: the kernel reports which of
//! our addresses a datagram was sent to (IP_PKTINFO / IPV6_PKTINFO, enabled in `udp`), and a
//! send names the address it must leave from the same way, since the sockets are bound to the
//! wildcard.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Room for one IPV6_PKTINFO and one IP_PKTINFO message: everything a receive can carry with
/// the options `udp` sets, and what a send attaches (its source, and a UDP_SEGMENT for a run).
pub const CONTROL_BYTES: usize =
    control_space(size_of::<libc::in6_pktinfo>()) + control_space(size_of::<libc::in_pktinfo>());

/// What CMSG_ALIGN rounds control messages up to.
const CONTROL_ALIGN: usize = size_of::<libc::size_t>();

/// CMSG_SPACE: the bytes one control message with a `payload`-byte body takes, padding included.
pub const fn control_space(payload: usize) -> usize {
    // SAFETY: CMSG_SPACE is arithmetic on its argument; it touches no memory.
    unsafe { libc::CMSG_SPACE(payload as libc::c_uint) as usize }
}

/// CMSG_LEN: the `cmsg_len` of a control message with a `payload`-byte body.
const fn control_len(payload: usize) -> usize {
    // SAFETY: CMSG_LEN is arithmetic on its argument; it touches no memory.
    unsafe { libc::CMSG_LEN(payload as libc::c_uint) as usize }
}

/// Control-message bytes, aligned for `cmsghdr` as CMSG_FIRSTHDR requires. All-zero bytes
/// are a valid (empty) buffer.
#[repr(C)]
pub struct ControlBuffer {
    _align: [libc::cmsghdr; 0],
    bytes: [u8; CONTROL_BYTES],
}

/// The room a receive leaves for control messages.
pub const RECEIVE_CONTROL_BYTES: usize = CONTROL_BYTES;

impl ControlBuffer {
    /// The destination address in control messages the kernel wrote into `received` (at most
    /// [`RECEIVE_CONTROL_BYTES`] of them are read). They are copied here first: a multishot
    /// receive writes them at an offset that need not be aligned for `cmsghdr`.
    pub fn local_address_in(received: &[u8]) -> Option<IpAddr> {
        let used = received.len().min(CONTROL_BYTES);
        // SAFETY: all-zero bytes are a valid buffer and a valid msghdr (null pointers included).
        let (mut control, mut header): (Self, libc::msghdr) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        control.bytes[..used].copy_from_slice(&received[..used]);
        header.msg_controllen = used as _;
        control.local_address(&header)
    }

    /// The destination address from the first IPV6_PKTINFO or IP_PKTINFO message the kernel
    /// wrote, going by the control length it wrote back into `header`. An IPv4 datagram on a
    /// dual-stack socket comes as IPV6_PKTINFO with a v4-mapped address, returned here as
    /// IPv4. Messages too short for their type are skipped.
    fn local_address(&self, header: &libc::msghdr) -> Option<IpAddr> {
        // The kernel wrote back how much of the buffer it used; never trust more than we gave.
        let mut header = *header;
        let used = header.msg_controllen.min(CONTROL_BYTES);
        header.msg_control = (&raw const *self).cast_mut().cast();
        header.msg_controllen = used;
        let start = header.msg_control as usize;

        // SAFETY: `header` describes `used` bytes of this buffer, which outlives the loop;
        // CMSG_FIRSTHDR only reads msg_control and msg_controllen.
        let mut message = unsafe { libc::CMSG_FIRSTHDR(&raw const header) };
        while !message.is_null() {
            // SAFETY: CMSG_FIRSTHDR and CMSG_NXTHDR return only headers that are aligned and
            // lie wholly within the `used` bytes; `message` is one of those.
            let (length, level, kind) = unsafe {
                (
                    (*message).cmsg_len as usize,
                    (*message).cmsg_level,
                    (*message).cmsg_type,
                )
            };
            // The body must lie within what the kernel wrote, whatever cmsg_len claims.
            let fits = |payload: usize| {
                length >= control_len(payload)
                    && (message as usize - start).saturating_add(length) <= used
            };
            // SAFETY: CMSG_DATA is pointer arithmetic past the header; it is only read from
            // below after `fits` showed the body lies inside the buffer.
            let data = unsafe { libc::CMSG_DATA(message) };
            if level == libc::IPPROTO_IPV6
                && kind == libc::IPV6_PKTINFO
                && fits(size_of::<libc::in6_pktinfo>())
            {
                // SAFETY: the body holds an in6_pktinfo (checked above); it may be unaligned.
                let info = unsafe { data.cast::<libc::in6_pktinfo>().read_unaligned() };
                return Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)).to_canonical());
            }
            if level == libc::IPPROTO_IP
                && kind == libc::IP_PKTINFO
                && fits(size_of::<libc::in_pktinfo>())
            {
                // SAFETY: the body holds an in_pktinfo (checked above); it may be unaligned.
                let info = unsafe { data.cast::<libc::in_pktinfo>().read_unaligned() };
                // ipi_addr is the header's destination, as IPV6_PKTINFO reports it.
                return Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    info.ipi_addr.s_addr,
                ))));
            }
            // SAFETY: `header` and `message` are as above; CMSG_NXTHDR returns null rather than
            // a header that would run past the `used` bytes.
            message = unsafe { libc::CMSG_NXTHDR(&raw const header, message) };
        }
        None
    }

    /// Makes `header` carry `source` as its only control message, in this buffer, or no
    /// control message at all.
    pub fn attach_source(&mut self, header: &mut libc::msghdr, source: Option<SourceAddress>) {
        header.msg_control = std::ptr::null_mut();
        header.msg_controllen = 0;
        match source {
            Some(SourceAddress::V4(ip)) => self.push(
                header,
                libc::IPPROTO_IP,
                libc::IP_PKTINFO,
                libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(ip).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                },
            ),
            Some(SourceAddress::V6(ip)) => self.push(
                header,
                libc::IPPROTO_IPV6,
                libc::IPV6_PKTINFO,
                libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: ip.octets(),
                    },
                    ipi6_ifindex: 0,
                },
            ),
            None => {}
        }
    }

    /// Adds `body` as one more control message of `header`, in this buffer after the ones
    /// `header` already carries from it. A send carries its source and at most one small
    /// message besides (`gso` asserts that this fits); a message that would not fit is not
    /// written.
    pub fn push<T>(
        &mut self,
        header: &mut libc::msghdr,
        level: libc::c_int,
        kind: libc::c_int,
        body: T,
    ) {
        let start: *mut Self = self;
        let offset = if header.msg_control == start.cast() {
            header.msg_controllen.next_multiple_of(CONTROL_ALIGN)
        } else {
            0
        };
        let space = control_space(size_of::<T>());
        let Some(room) = self.bytes.get_mut(offset..offset + space) else {
            return;
        };
        room.fill(0);
        let message = room.as_mut_ptr().cast::<libc::cmsghdr>();
        header.msg_control = start.cast();
        // A lone message goes without its tail padding: sendmsg copies up to 36 bytes of
        // control onto the kernel's stack and allocates for more, and IPV6_PKTINFO is 36
        // bytes before padding, 40 after. A message after another keeps the padding of both,
        // which CMSG_NXTHDR checks for.
        header.msg_controllen = if offset == 0 {
            control_len(size_of::<T>())
        } else {
            offset + space
        };
        // SAFETY: `message` starts `offset` bytes into this buffer, which is aligned for
        // cmsghdr, and `offset` is a sum of CMSG_SPACE values, which keep that alignment;
        // `room` holds the header and, after it, a `T`-sized body (CMSG_SPACE of it), which
        // may be unaligned.
        unsafe {
            (*message).cmsg_len = control_len(size_of::<T>()) as _;
            (*message).cmsg_level = level;
            (*message).cmsg_type = kind;
            libc::CMSG_DATA(message).cast::<T>().write_unaligned(body);
        }
    }
}

/// The local address a send must leave from, in the control message the socket's family takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceAddress {
    /// IP_PKTINFO on an IPv4 socket.
    V4(Ipv4Addr),
    /// IPV6_PKTINFO on an IPv6 socket; v4-mapped when the destination is.
    V6(Ipv6Addr),
}

impl SourceAddress {
    /// How to send from `source` to `destination`, given in the form the socket sends to
    /// (`UdpSocket::destination_for`). `None` when the two cannot meet: an IPv4 source for an
    /// IPv6 peer or the other way round.
    pub fn for_destination(destination: SocketAddr, source: IpAddr) -> Option<Self> {
        match (destination, source.to_canonical()) {
            (SocketAddr::V4(_), IpAddr::V4(v4)) => Some(Self::V4(v4)),
            (SocketAddr::V6(peer), IpAddr::V4(v4)) if peer.ip().to_ipv4_mapped().is_some() => {
                Some(Self::V6(v4.to_ipv6_mapped()))
            }
            (SocketAddr::V6(peer), IpAddr::V6(v6)) if peer.ip().to_ipv4_mapped().is_none() => {
                Some(Self::V6(v6))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zeroed buffer and a header with no control message.
    fn empty() -> (Box<ControlBuffer>, libc::msghdr) {
        // SAFETY: all-zero bytes are valid for the byte array and the plain C msghdr.
        unsafe { (Box::new(std::mem::zeroed()), std::mem::zeroed()) }
    }

    /// The single control message `header` carries: level, type and body bytes.
    fn only_control_message(header: &libc::msghdr) -> (libc::c_int, libc::c_int, Vec<u8>) {
        // SAFETY: the header describes a live control buffer.
        let message = unsafe { libc::CMSG_FIRSTHDR(header) };
        assert!(!message.is_null());
        // SAFETY: as above; CMSG_FIRSTHDR returned a header inside the buffer.
        let (length, level, kind) = unsafe {
            (
                (*message).cmsg_len as usize,
                (*message).cmsg_level,
                (*message).cmsg_type,
            )
        };
        // SAFETY: the body of `length - control_len(0)` bytes follows the header in the buffer.
        let body = unsafe {
            std::slice::from_raw_parts(libc::CMSG_DATA(message), length - control_len(0))
        };
        // SAFETY: as above.
        assert!(unsafe { libc::CMSG_NXTHDR(header, message) }.is_null());
        (level, kind, body.to_vec())
    }

    #[test]
    fn an_ipv4_source_is_attached_as_ip_pktinfo() {
        let (mut control, mut header) = empty();
        let source = SourceAddress::V4(Ipv4Addr::new(127, 0, 0, 2));
        control.attach_source(&mut header, Some(source));
        let (level, kind, body) = only_control_message(&header);
        assert_eq!((level, kind), (libc::IPPROTO_IP, libc::IP_PKTINFO));
        assert_eq!(body.len(), size_of::<libc::in_pktinfo>());
        // ipi_ifindex 0, then ipi_spec_dst, then ipi_addr left empty.
        assert_eq!(body, [0, 0, 0, 0, 127, 0, 0, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn an_ipv6_source_is_attached_as_ipv6_pktinfo_and_none_clears_it() {
        let (mut control, mut header) = empty();
        let destination: SocketAddr = "[::ffff:127.0.0.1]:9".parse().unwrap();
        let source = SourceAddress::for_destination(destination, "127.0.0.2".parse().unwrap());
        control.attach_source(&mut header, source);
        let (level, kind, body) = only_control_message(&header);
        assert_eq!((level, kind), (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO));
        assert_eq!(body.len(), size_of::<libc::in6_pktinfo>());
        let mapped = Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped().octets();
        assert_eq!(body[..16], mapped);
        assert_eq!(body[16..], [0; 4]);

        control.attach_source(&mut header, None);
        assert!(header.msg_control.is_null());
        assert_eq!(header.msg_controllen, 0);
    }

    #[test]
    fn a_lone_source_fits_the_control_bytes_sendmsg_keeps_on_its_stack() {
        // The kernel's sendmsg copies up to a cmsghdr and 20 bytes without allocating.
        let on_stack = size_of::<libc::cmsghdr>() + 20;
        let ip = Ipv4Addr::new(127, 0, 0, 2);
        for source in [
            SourceAddress::V4(ip),
            SourceAddress::V6(ip.to_ipv6_mapped()),
        ] {
            let (mut control, mut header) = empty();
            control.attach_source(&mut header, Some(source));
            assert!(header.msg_controllen <= on_stack, "{source:?}");
            only_control_message(&header);
        }
    }

    #[test]
    fn source_address_follows_the_destination_family() {
        let v4_peer: SocketAddr = "192.0.2.1:5".parse().unwrap();
        let mapped_peer: SocketAddr = "[::ffff:192.0.2.1]:5".parse().unwrap();
        let v6_peer: SocketAddr = "[2001:db8::1]:5".parse().unwrap();
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v4_as_mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::2".parse().unwrap();
        let ten = Ipv4Addr::new(10, 0, 0, 1);

        let cases = [
            (v4_peer, v4, Some(SourceAddress::V4(ten))),
            (v4_peer, v4_as_mapped, Some(SourceAddress::V4(ten))),
            (v4_peer, v6, None),
            (
                mapped_peer,
                v4,
                Some(SourceAddress::V6(ten.to_ipv6_mapped())),
            ),
            (mapped_peer, v6, None),
            (
                v6_peer,
                v6,
                Some(SourceAddress::V6("2001:db8::2".parse().unwrap())),
            ),
            (v6_peer, v4, None),
        ];
        for (destination, source, expected) in cases {
            assert_eq!(
                SourceAddress::for_destination(destination, source),
                expected,
                "{source} to {destination}"
            );
        }
    }

    /// Writes control messages as the kernel would, one byte off alignment as a multishot
    /// receive can leave them, then parses them.
    fn local_from(messages: &[(libc::c_int, libc::c_int, &[u8], usize)]) -> Option<IpAddr> {
        let mut written = [0; 1 + 2 * CONTROL_BYTES];
        let mut offset = 1;
        for &(level, kind, body, claimed_length) in messages {
            // cmsghdr on Linux/glibc: a size_t length, then the level and type as c_ints.
            let at = &mut written[offset..];
            let word = size_of::<usize>();
            at[..word].copy_from_slice(&claimed_length.to_ne_bytes());
            at[word..word + 4].copy_from_slice(&level.to_ne_bytes());
            at[word + 4..word + 8].copy_from_slice(&kind.to_ne_bytes());
            let data = control_len(0);
            at[data..data + body.len()].copy_from_slice(body);
            offset += control_space(body.len());
        }
        ControlBuffer::local_address_in(&written[1..offset])
    }

    fn in6_body(ip: Ipv6Addr) -> Vec<u8> {
        let mut body = ip.octets().to_vec();
        body.extend_from_slice(&[1, 0, 0, 0]);
        body
    }

    #[test]
    fn local_address_comes_from_either_pktinfo_unmapped() {
        let v6 = in6_body("2001:db8::7".parse().unwrap());
        let mapped = in6_body(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
        let v4: &[u8] = &[1, 0, 0, 0, 10, 0, 0, 9, 10, 0, 0, 1];
        let (ip6, info6) = (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO);
        let (ip4, info4) = (libc::IPPROTO_IP, libc::IP_PKTINFO);
        let len = |body: &[u8]| control_len(body.len());

        assert_eq!(
            local_from(&[(ip6, info6, &v6, len(&v6))]),
            Some("2001:db8::7".parse().unwrap())
        );
        assert_eq!(
            local_from(&[(ip6, info6, &mapped, len(&mapped))]),
            Some("127.0.0.1".parse().unwrap())
        );
        // IP_PKTINFO's ipi_addr (the header's destination), not ipi_spec_dst.
        assert_eq!(
            local_from(&[(ip4, info4, v4, len(v4))]),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(local_from(&[]), None);
    }

    #[test]
    fn local_address_skips_short_unknown_and_overlong_messages() {
        let mapped = in6_body(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
        let v4: &[u8] = &[1, 0, 0, 0, 10, 0, 0, 9, 10, 0, 0, 1];
        let (ip6, info6) = (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO);
        let (ip4, info4) = (libc::IPPROTO_IP, libc::IP_PKTINFO);

        // A body shorter than an in6_pktinfo, or a message of another type, is skipped.
        let short = &mapped[..8];
        let ttl: &[u8] = &[64, 0, 0, 0];
        for (level, kind, body) in [(ip6, info6, short), (ip4, libc::IP_TTL, ttl)] {
            assert_eq!(
                local_from(&[
                    (level, kind, body, control_len(body.len())),
                    (ip4, info4, v4, control_len(v4.len())),
                ]),
                Some("10.0.0.1".parse().unwrap())
            );
        }
        // A length claiming more than the kernel wrote, or too little for a header: nothing.
        assert_eq!(local_from(&[(ip6, info6, &mapped, 4096)]), None);
        assert_eq!(local_from(&[(ip6, info6, &mapped, 3)]), None);
    }
}

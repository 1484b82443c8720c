//! A shard's UDP socket: created with libc because the options (dual-stack, buffer sizes, local
//! address reports) must be set around `bind`, and the raw sockaddr conversions io_uring's
//! msghdr needs.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::addresses::{map_v4, unmap_v4};

/// Asked of the kernel for both directions; it caps this at net.core.{r,w}mem_max.
const SOCKET_BUFFER_BYTES: libc::c_int = 4 * 1024 * 1024;

pub struct UdpSocket {
    fd: OwnedFd,
    local: SocketAddr,
}

impl UdpSocket {
    /// Binds `port` on `address`, or on `[::]` dual-stack (falling back to `0.0.0.0` when the
    /// host has no IPv6) when no address is given. Port 0 lets the kernel pick.
    pub fn bind(address: Option<IpAddr>, port: u16) -> io::Result<Self> {
        match address {
            Some(ip) => Self::bind_exact(SocketAddr::new(ip, port)),
            None => Self::bind_exact(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))
                .or_else(|error| {
                    tracing::info!(%error, "no IPv6, binding IPv4 only");
                    Self::bind_exact(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
                }),
        }
    }

    fn bind_exact(address: SocketAddr) -> io::Result<Self> {
        let family = match address {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        let kind = libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: plain syscall; the result is checked before use.
        let raw = unsafe { libc::socket(family, kind, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` was just created and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if family == libc::AF_INET6 {
            // Dual-stack: IPv4 peers arrive as ::ffff:a.b.c.d on the same port.
            set_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
            // Report each datagram's destination address, so answers can leave from it. Linux
            // reports IPv4 datagrams on this socket as IPV6_PKTINFO too, v4-mapped.
            set_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        } else {
            set_option(&fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
        }
        // IPv4 datagrams (v4-mapped ones too) are never fragmented here, whatever path MTU the
        // kernel has cached (as QUIC stacks do): ours are sized under any real MTU. The
        // default also sets Don't Fragment but keeps fragmenting allowed, so the kernel draws
        // every datagram an IP ID from its shared table (an atomic and a hash, ~1% of a
        // shard's samples); under PROBE an unconnected socket's datagrams carry ID 0.
        set_option(
            &fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_PROBE,
        )?;
        size_buffers(&fd);
        let (storage, length) = sockaddr_from(address);
        // SAFETY: `storage` holds a sockaddr of `length` bytes for this socket's family.
        let bound = unsafe { libc::bind(raw, (&raw const storage).cast(), length) };
        if bound != 0 {
            return Err(io::Error::last_os_error());
        }
        let local = local_address(&fd)?;
        Ok(Self { fd, local })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// True when the socket is `[::]` with IPV6_V6ONLY off, so it serves both families.
    pub fn is_dual_stack(&self) -> bool {
        self.local.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    }

    /// True when the socket is bound to no particular address (`[::]` or `0.0.0.0`): a send
    /// must then name the address its peer knows us by, or the kernel picks one by route.
    /// Bound to one address, the socket always sends from it.
    pub fn is_wildcard(&self) -> bool {
        self.local.ip().is_unspecified()
    }

    /// The form of `peer` this socket can send to, or `None` when the families cannot meet
    /// (an IPv6 peer on an IPv4 socket).
    pub fn destination_for(&self, peer: SocketAddr) -> Option<SocketAddr> {
        match (self.local, unmap_v4(peer)) {
            (SocketAddr::V6(_), peer) => Some(map_v4(peer)),
            (SocketAddr::V4(_), peer @ SocketAddr::V4(_)) => Some(peer),
            (SocketAddr::V4(_), SocketAddr::V6(_)) => None,
        }
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Asks for `SOCKET_BUFFER_BYTES` each way: past net.core.{r,w}mem_max when the process may
/// (CAP_NET_ADMIN), else up to it. The kernel caps a plain request without an error, so what
/// was granted is read back and a shortfall logged: it costs drops under bursts.
fn size_buffers(fd: &OwnedFd) {
    let directions = [
        (
            libc::SO_RCVBUFFORCE,
            libc::SO_RCVBUF,
            "receive",
            "net.core.rmem_max",
        ),
        (
            libc::SO_SNDBUFFORCE,
            libc::SO_SNDBUF,
            "send",
            "net.core.wmem_max",
        ),
    ];
    for (forced, plain, direction, limit) in directions {
        let asked = set_option(fd, libc::SOL_SOCKET, forced, SOCKET_BUFFER_BYTES)
            .or_else(|_| set_option(fd, libc::SOL_SOCKET, plain, SOCKET_BUFFER_BYTES));
        if let Err(error) = asked {
            tracing::warn!(%error, direction, "cannot size the socket buffer");
            continue;
        }
        // The kernel reports twice what it grants (the doubling covers its bookkeeping).
        match get_option(fd, libc::SOL_SOCKET, plain) {
            Ok(reported) if reported / 2 < SOCKET_BUFFER_BYTES => tracing::warn!(
                direction,
                granted = reported / 2,
                asked = SOCKET_BUFFER_BYTES,
                "socket buffer smaller than asked: raise {limit} (kernel-tuning/README.md)"
            ),
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, direction, "cannot read the socket buffer size"),
        }
    }
}

fn get_option(fd: &OwnedFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut length = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `length` bytes into the live c_int.
    let result = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &raw mut length,
        )
    };
    if result == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a live c_int and its exact size.
    let result = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn local_address(fd: &OwnedFd) -> io::Result<SocketAddr> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut length = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `length` bytes into `storage`.
    let result =
        unsafe { libc::getsockname(fd.as_raw_fd(), storage.as_mut_ptr().cast(), &raw mut length) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed storage is a valid sockaddr_storage; the kernel filled the prefix.
    let storage = unsafe { storage.assume_init() };
    socket_addr_from(&storage, length)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected socket family"))
}

/// `address` as the raw sockaddr the kernel takes, with its length.
pub fn sockaddr_from(address: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let length = match address {
        SocketAddr::V4(v4) => {
            let raw = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(raw) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let raw = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(raw) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, length as libc::socklen_t)
}

/// The address in a raw sockaddr the kernel filled in; `None` for a family other than IPv4/6
/// or a length too short for its family.
pub fn socket_addr_from(
    storage: &libc::sockaddr_storage,
    length: libc::socklen_t,
) -> Option<SocketAddr> {
    let length = length as usize;
    match i32::from(storage.ss_family) {
        libc::AF_INET if length >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family and length say the storage holds a sockaddr_in.
            let raw =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(raw.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(raw.sin_port),
            )))
        }
        libc::AF_INET6 if length >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family and length say the storage holds a sockaddr_in6.
            let raw = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(raw.sin6_addr.s6_addr),
                u16::from_be(raw.sin6_port),
                raw.sin6_flowinfo,
                raw.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trips_both_families() {
        for text in [
            "192.0.2.1:4000",
            "[2001:db8::5]:65535",
            "[::ffff:10.0.0.1]:1",
        ] {
            let address: SocketAddr = text.parse().unwrap();
            let (storage, length) = sockaddr_from(address);
            assert_eq!(socket_addr_from(&storage, length), Some(address));
        }
    }

    #[test]
    fn rejects_a_truncated_sockaddr() {
        let (storage, _) = sockaddr_from("[2001:db8::5]:1".parse().unwrap());
        assert_eq!(socket_addr_from(&storage, 8), None);
    }

    #[test]
    fn ipv4_datagrams_leave_with_dont_fragment_whatever_the_family() {
        for address in [Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), None] {
            let socket = UdpSocket::bind(address, 0).unwrap();
            let mode = get_option(&socket.fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER).unwrap();
            assert_eq!(mode, libc::IP_PMTUDISC_PROBE, "{}", socket.local_addr());
        }
    }

    #[test]
    fn only_a_socket_bound_to_one_address_sends_from_it_unasked() {
        let wildcards = [None, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))];
        for address in wildcards {
            assert!(
                UdpSocket::bind(address, 0).unwrap().is_wildcard(),
                "{address:?}"
            );
        }
        let bound = UdpSocket::bind(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0).unwrap();
        assert!(!bound.is_wildcard());
    }

    #[test]
    fn default_bind_serves_both_families_when_the_host_has_ipv6() {
        let socket = UdpSocket::bind(None, 0).unwrap();
        assert_ne!(socket.local_addr().port(), 0);
        let v4_peer: SocketAddr = "192.0.2.9:7".parse().unwrap();
        if socket.is_dual_stack() {
            assert_eq!(socket.destination_for(v4_peer), Some(map_v4(v4_peer)));
        } else {
            assert_eq!(socket.destination_for(v4_peer), Some(v4_peer));
        }
    }

    #[test]
    fn buffers_get_what_was_asked_up_to_the_cap_and_past_it_as_root() {
        let socket = UdpSocket::bind(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0).unwrap();
        for (option, limit) in [
            (libc::SO_RCVBUF, "/proc/sys/net/core/rmem_max"),
            (libc::SO_SNDBUF, "/proc/sys/net/core/wmem_max"),
        ] {
            let granted = get_option(&socket.fd, libc::SOL_SOCKET, option).unwrap() / 2;
            let cap: libc::c_int = std::fs::read_to_string(limit)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            assert!(granted >= SOCKET_BUFFER_BYTES.min(cap), "{granted} < {cap}");
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                assert!(granted >= SOCKET_BUFFER_BYTES, "{granted} as root");
            }
        }
    }

    #[test]
    fn v4_socket_cannot_reach_a_v6_peer_but_can_reach_a_mapped_one() {
        let socket = UdpSocket::bind(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0).unwrap();
        assert!(!socket.is_dual_stack());
        assert_eq!(
            socket.destination_for("[2001:db8::1]:5".parse().unwrap()),
            None
        );
        assert_eq!(
            socket.destination_for("[::ffff:127.0.0.1]:5".parse().unwrap()),
            Some("127.0.0.1:5".parse().unwrap())
        );
    }
}

//! Sockets and addresses: binding a peer's UDP socket, finding the address to offer as a
//! candidate, and waiting for a datagram with a precise timeout.

use std::io;
use std::net::UdpSocket;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Receive buffer per peer socket. A 720p keyframe is ~90 datagrams sent back to back; with
/// the kernel's default (~208 KiB, charged at ~2x the payload per datagram) one keyframe can
/// overflow it while the worker serves other viewers, and the loss would be the bench's own.
const RECEIVE_BUFFER_BYTES: libc::c_int = 2 << 20;

/// A UDP socket bound to an ephemeral port on the wildcard address of `family`'s family.
pub fn bind_like(family: IpAddr) -> io::Result<UdpSocket> {
    let wildcard = match family {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind((wildcard, 0))?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    set_int_option(
        &socket,
        libc::SOL_SOCKET,
        libc::SO_RCVBUF,
        RECEIVE_BUFFER_BYTES,
    );
    // Best effort too: a server's GSO send then arrives in one receive (split by the worker)
    // instead of being cut into datagrams on loopback, a cost that a real network puts on the
    // NIC, not on the server's CPU that the bench measures.
    set_int_option(&socket, libc::SOL_UDP, libc::UDP_GRO, 1);
    Ok(socket)
}

fn set_int_option(socket: &UdpSocket, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
    // SAFETY: a valid socket fd, a pointer to a c_int that outlives the call, and its size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The local address this host sends from towards the host of `url` (an `http://` or
/// `https://` URL): the address to put in an offer's host candidate.
pub fn local_ip_towards(url: &str) -> io::Result<IpAddr> {
    let (host, port) = url_host(url).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("no host in {url:?}"))
    })?;
    let remote = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")))?;
    // Connecting a UDP socket sends nothing; it only asks the kernel for a route.
    let probe = bind_like(remote.ip())?;
    probe.connect(remote)?;
    Ok(probe.local_addr()?.ip())
}

/// The host (without IPv6 brackets) and port of an HTTP(S) URL.
fn url_host(url: &str) -> Option<(&str, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then_some((host, port))
}

/// Waits until `socket` has a datagram or `timeout` passed; true when one is waiting.
pub fn wait_readable(socket: &UdpSocket, timeout: Duration) -> io::Result<bool> {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: one live pollfd and a live timespec; no signal mask is passed.
    let ready = unsafe { libc::ppoll(&raw mut poll, 1, &raw const timeout, std::ptr::null()) };
    match ready {
        0 => Ok(false),
        1.. => Ok(true),
        _ => {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts_and_ports() {
        assert_eq!(
            url_host("http://127.0.0.1:8080/whep/x"),
            Some(("127.0.0.1", 8080))
        );
        assert_eq!(
            url_host("https://example.com/whep"),
            Some(("example.com", 443))
        );
        assert_eq!(url_host("http://[::1]/a?b"), Some(("::1", 80)));
        assert_eq!(url_host("http://user@[::1]:9/"), Some(("::1", 9)));
        assert_eq!(url_host("http://:80/"), None);
        assert_eq!(url_host("http://host:port/"), None);
        assert_eq!(url_host("no scheme"), None);
    }

    #[test]
    fn loopback_route_and_a_timed_wait() {
        assert_eq!(
            local_ip_towards("http://127.0.0.1:1/").unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        let socket = bind_like(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert!(!wait_readable(&socket, Duration::from_millis(1)).unwrap());
        let port = socket.local_addr().unwrap().port();
        socket.send_to(b"x", (Ipv4Addr::LOCALHOST, port)).unwrap();
        assert!(wait_readable(&socket, Duration::from_secs(5)).unwrap());
    }
}

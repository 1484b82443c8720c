//! Which addresses the engine advertises, and the IPv4-mapped form a dual-stack socket uses.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// `[::ffff:a.b.c.d]:p` as `a.b.c.d:p`, so the core sees one address per peer whichever
/// socket family received it.
pub fn unmap_v4(address: SocketAddr) -> SocketAddr {
    match address {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => address,
        },
        SocketAddr::V4(_) => address,
    }
}

/// `a.b.c.d:p` as `[::ffff:a.b.c.d]:p`: the only way to reach an IPv4 peer from an IPv6 socket.
pub fn map_v4(address: SocketAddr) -> SocketAddr {
    match address {
        SocketAddr::V4(v4) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        SocketAddr::V6(_) => address,
    }
}

/// Addresses of the interfaces that are up: non-loopback ones first, then loopback. IPv6
/// link-local addresses are left out (they need a scope id no remote peer can use).
pub fn interface_addresses() -> io::Result<Vec<IpAddr>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below.
    if unsafe { libc::getifaddrs(&raw mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, not yet freed.
        let interface = unsafe { &*entry };
        entry = interface.ifa_next;
        if interface.ifa_flags & libc::IFF_UP as u32 == 0 || interface.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: `ifa_addr` is non-null and points at a sockaddr whose family says its size.
        if let Some(ip) = unsafe { ip_of_sockaddr(interface.ifa_addr) } {
            found.push(ip);
        }
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };

    let mut seen = HashSet::new();
    found.retain(|ip| !is_link_local_v6(ip) && seen.insert(*ip));
    found.sort_by_key(|ip| ip.is_loopback());
    Ok(found)
}

/// The IP of an AF_INET or AF_INET6 sockaddr; `None` for other families.
///
/// # Safety
/// `address` must point at a valid sockaddr of the size its family implies.
unsafe fn ip_of_sockaddr(address: *const libc::sockaddr) -> Option<IpAddr> {
    // SAFETY: the caller guarantees a valid sockaddr; the family says which struct it is.
    unsafe {
        match i32::from((*address).sa_family) {
            libc::AF_INET => {
                let v4 = &*address.cast::<libc::sockaddr_in>();
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))))
            }
            libc::AF_INET6 => {
                let v6 = &*address.cast::<libc::sockaddr_in6>();
                Some(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

/// The IPs to advertise for a socket bound to `bound`: the explicit list when given, else the
/// bound address itself when it is specific, else every interface address of the families the
/// socket can serve.
pub fn advertised_ips(
    explicit: &[IpAddr],
    bound: IpAddr,
    dual_stack: bool,
) -> io::Result<Vec<IpAddr>> {
    if !explicit.is_empty() {
        return Ok(explicit.to_vec());
    }
    if !bound.is_unspecified() {
        return Ok(vec![bound]);
    }
    let mut ips = interface_addresses()?;
    ips.retain(|ip| dual_stack || ip.is_ipv4() == bound.is_ipv4());
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmaps_v4_mapped_v6_and_leaves_others_alone() {
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:5000".parse().unwrap();
        assert_eq!(unmap_v4(mapped), "192.0.2.7:5000".parse().unwrap());
        let native: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        assert_eq!(unmap_v4(native), native);
        let v4: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        assert_eq!(unmap_v4(v4), v4);
    }

    #[test]
    fn maps_v4_for_a_v6_socket_and_round_trips() {
        let v4: SocketAddr = "198.51.100.1:443".parse().unwrap();
        let mapped = map_v4(v4);
        assert_eq!(mapped, "[::ffff:198.51.100.1]:443".parse().unwrap());
        assert_eq!(unmap_v4(mapped), v4);
        let v6: SocketAddr = "[2001:db8::2]:9".parse().unwrap();
        assert_eq!(map_v4(v6), v6);
    }

    #[test]
    fn interface_addresses_include_loopback_last_and_no_link_local() {
        let ips = interface_addresses().unwrap();
        assert!(ips.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{ips:?}");
        assert!(!ips.iter().any(is_link_local_v6), "{ips:?}");
        let first_loopback = ips.iter().position(IpAddr::is_loopback).unwrap();
        assert!(ips[first_loopback..].iter().all(IpAddr::is_loopback));
    }

    #[test]
    fn advertises_explicit_then_specific_then_interfaces_of_the_socket_family() {
        let explicit: Vec<IpAddr> = vec!["203.0.113.5".parse().unwrap()];
        let any_v4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        assert_eq!(advertised_ips(&explicit, any_v4, false).unwrap(), explicit);

        let specific: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(advertised_ips(&[], specific, false).unwrap(), [specific]);

        let v4_only = advertised_ips(&[], any_v4, false).unwrap();
        assert!(v4_only.iter().all(IpAddr::is_ipv4));
        assert!(v4_only.contains(&specific));
    }

    #[test]
    fn recognises_link_local_v6() {
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(is_link_local_v6(&"febf::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"::1".parse().unwrap()));
    }
}

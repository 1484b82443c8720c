//! UDP generic segmentation offload for the shard's sends: one sendmsg carries a run of
//! datagrams for one peer, written back to back, and the kernel cuts it into datagrams at the
//! segment size a UDP_SEGMENT control message names (Linux 4.18 and later). A viewer's
//! packets of one frame then cost one send, one SQE and one pass through routing and the
//! socket instead of one each.
//!
//! Whether to try is decided once, when the shard starts, by asking its socket for the
//! option. A kernel, device or route that refuses a GSO send all the same (one of the errors
//! in [`is_refusal`]) turns GSO off for that shard, and the refused run is sent again one
//! datagram at a time (`io_slots`).

use std::os::fd::AsRawFd;

use shardcast_proto::shard::RunLimits;

use crate::pktinfo::{CONTROL_BYTES, ControlBuffer, control_space};
use crate::udp::UdpSocket;

/// Datagrams per run, at most: a frame's packets for one viewer are rarely more (a 1080p
/// delta frame is 2-8 packets), and a few runs per turn keep the turn's clock checks close.
pub const RUN_SEGMENTS: usize = 8;

/// Bytes per run, at most: `RUN_SEGMENTS` datagrams at Ethernet MTU. Each send slot's buffer
/// holds this much, so a run never grows it.
pub const RUN_BYTES: usize = RUN_SEGMENTS * 1500;

/// What the core may put in one run when GSO is on.
pub const RUN_LIMITS: RunLimits = RunLimits {
    segments: RUN_SEGMENTS,
    bytes: RUN_BYTES,
};

// A run's send carries its source and its segment size in one control buffer.
const _: () = assert!(
    control_space(size_of::<libc::in6_pktinfo>()) + control_space(size_of::<u16>())
        <= CONTROL_BYTES
);

/// True when the kernel knows UDP_SEGMENT on this socket, so the shard may send runs.
pub fn supported(socket: &UdpSocket) -> bool {
    let mut value: libc::c_int = 0;
    let mut length = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a live c_int and its size; the kernel writes at most that much.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&raw mut value).cast(),
            &raw mut length,
        )
    };
    result == 0
}

/// Makes `header` cut its data into datagrams of `segment_size` bytes (the last may be
/// shorter), with a UDP_SEGMENT message after the source message it may carry.
pub fn attach_segment_size(
    control: &mut ControlBuffer,
    header: &mut libc::msghdr,
    segment_size: u16,
) {
    control.push(header, libc::SOL_UDP, libc::UDP_SEGMENT, segment_size);
}

/// True when a GSO send failed because the kernel, the device or the route will not
/// segment it (rather than for a reason that would fail the datagrams one by one too): the
/// shard stops sending runs and sends this one again one datagram at a time.
pub fn is_refusal(errno: i32) -> bool {
    matches!(
        errno,
        libc::EIO | libc::EINVAL | libc::EMSGSIZE | libc::EOPNOTSUPP | libc::ENOPROTOOPT
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_segment_size_follows_the_source_message() {
        // SAFETY: all-zero bytes are valid for the byte buffer and the plain C msghdr.
        let (mut control, mut header): (Box<ControlBuffer>, libc::msghdr) =
            unsafe { (Box::new(std::mem::zeroed()), std::mem::zeroed()) };
        let source = crate::pktinfo::SourceAddress::V4("127.0.0.2".parse().unwrap());
        control.attach_source(&mut header, Some(source));
        attach_segment_size(&mut control, &mut header, 1_216);

        let mut messages = Vec::new();
        // SAFETY: the header describes the live control buffer; CMSG_FIRSTHDR and CMSG_NXTHDR
        // return only headers inside it, whose bodies lie inside it too.
        unsafe {
            let mut message = libc::CMSG_FIRSTHDR(&raw const header);
            while !message.is_null() {
                let body_len = (*message).cmsg_len as usize - control_space(0);
                let body = std::slice::from_raw_parts(libc::CMSG_DATA(message), body_len);
                messages.push(((*message).cmsg_level, (*message).cmsg_type, body.to_vec()));
                message = libc::CMSG_NXTHDR(&raw const header, message);
            }
        }
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(
            (messages[0].0, messages[0].1),
            (libc::IPPROTO_IP, libc::IP_PKTINFO)
        );
        assert_eq!(
            messages[1],
            (
                libc::SOL_UDP,
                libc::UDP_SEGMENT,
                1_216u16.to_ne_bytes().to_vec()
            )
        );
        assert_eq!(
            header.msg_controllen,
            control_space(size_of::<libc::in_pktinfo>()) + control_space(2)
        );
    }

    #[test]
    fn refusals_are_the_errors_gso_alone_causes() {
        for errno in [libc::EIO, libc::EINVAL, libc::EMSGSIZE, libc::EOPNOTSUPP] {
            assert!(is_refusal(errno), "{errno}");
        }
        for errno in [
            libc::ECONNREFUSED,
            libc::ENETUNREACH,
            libc::EAGAIN,
            libc::ENOBUFS,
        ] {
            assert!(!is_refusal(errno), "{errno}");
        }
    }
}

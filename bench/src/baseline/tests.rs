use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::receivers::Received;
use super::sender::Sent;
use super::stream::{Pacer, Step};
use super::viewers::Viewers;
use super::*;

fn config(sender: SenderKind, viewers: usize, millis: u64) -> BaselineConfig {
    BaselineConfig {
        viewers,
        duration: Duration::from_millis(millis),
        sender,
        cpu: None,
    }
}

#[test]
fn figures_per_viewer_packet_come_from_the_sender_counts() {
    let sent = Sent {
        publisher_packets: 500,
        datagrams: 100_000,
        bytes: 90_000_000,
        errors: 1,
        skipped: 3,
        cpu: Duration::from_millis(250),
        elapsed: Duration::from_secs(5),
    };
    let received = Received {
        datagrams: 99_990,
        bytes: 89_000_000,
        cpu: Duration::from_millis(40),
    };
    let report = BaselineReport::new(&config(SenderKind::Sendto, 200, 5000), &sent, &received);
    assert_eq!(report.sender, "sendto");
    assert_eq!(report.datagrams_lost, 10);
    assert_eq!(report.cpu_us_per_viewer_packet, Some(2.5));
    assert_eq!(report.viewer_packets_per_second, 20_000.0);
    assert_eq!(report.viewer_packets_per_cpu_second, Some(400_000.0));
    assert_eq!(report.sender_cpu_percent, 5.0);
    assert_eq!(report.receiver_cpu_seconds, 0.04);
    let table = report.table();
    assert!(table.contains("sendto (unpinned)"), "{table}");
    assert!(table.contains("2.500"), "{table}");
}

#[test]
fn nothing_sent_has_no_cost_per_packet() {
    let report = BaselineReport::new(
        &config(SenderKind::Glommio, 1, 10),
        &Sent::default(),
        &Received::default(),
    );
    assert_eq!(report.cpu_us_per_viewer_packet, None);
    assert_eq!(report.viewer_packets_per_cpu_second, None);
    assert_eq!(report.viewer_packets_per_second, 0.0);
    let table = report.table();
    let cost = table
        .lines()
        .find(|line| line.contains("us / viewer-packet"));
    assert!(cost.is_some_and(|line| line.ends_with(" -")), "{table}");
}

#[test]
fn the_stream_starts_with_a_keyframe_and_ends_on_time() {
    let start = Instant::now();
    let mut pacer = Pacer::new(start, Duration::from_secs(1)).unwrap();
    let Step::Send(first) = pacer.next(start) else {
        panic!("nothing due at the start");
    };
    assert!(first.origin.keyframe);
    let size = first.payload().len();
    assert!(
        (1000..=1200).contains(&size),
        "a keyframe fills its packets: {size}"
    );
    while let Step::Send(_) = pacer.next(start) {}
    let Step::Wait(wait) = pacer.next(start) else {
        panic!("the stream ended at once");
    };
    assert!(wait > Duration::ZERO && wait <= Duration::from_millis(40));
    assert!(matches!(
        pacer.next(start + Duration::from_secs(1)),
        Step::Done
    ));
}

#[test]
fn each_viewer_gets_its_own_ssrc_and_an_srtp_tag() {
    let destinations = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, 1000)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 1001)),
    ];
    let mut viewers = Viewers::new(&destinations, 1).unwrap();
    let start = Instant::now();
    let Step::Send(packet) = Pacer::new(start, Duration::from_secs(1))
        .unwrap()
        .next(start)
    else {
        panic!("nothing due at the start");
    };
    let mut datagrams = Vec::new();
    for viewer in 0..2 {
        let mut out = Vec::new();
        assert!(viewers.write(viewer, start, &packet, &mut out));
        datagrams.push(out);
    }
    let ssrc = |datagram: &[u8]| datagram[8..12].to_vec();
    assert_ne!(ssrc(&datagrams[0]), ssrc(&datagrams[1]));
    let payload = packet.payload();
    for datagram in &datagrams {
        // 12-byte header, mid and capture-time extensions (16 bytes), payload, GCM tag.
        assert_eq!(datagram.len(), 12 + 16 + payload.len() + 16);
        assert_eq!(datagram[1] & 0x7f, 96);
        let encrypted = &datagram[28..28 + payload.len()];
        assert_ne!(encrypted, payload, "the payload is encrypted");
    }
}

fn assert_all_arrived(sender: SenderKind) {
    let report = run(&config(sender, 2, 200)).unwrap();
    assert!(report.publisher_packets > 0);
    assert_eq!(report.datagrams_sent, 2 * report.publisher_packets);
    assert_eq!(report.datagrams_received, report.datagrams_sent);
    assert_eq!(report.bytes_received, report.bytes_sent);
    assert_eq!((report.send_errors, report.viewer_packets_skipped), (0, 0));
    assert!(report.sender_cpu_seconds > 0.0);
}

#[test]
fn sendto_delivers_every_datagram_to_two_viewers() {
    assert_all_arrived(SenderKind::Sendto);
}

#[test]
fn sendmmsg_delivers_every_datagram_to_two_viewers() {
    assert_all_arrived(SenderKind::Sendmmsg);
}

#[test]
fn glommio_delivers_every_datagram_to_two_viewers() {
    assert_all_arrived(SenderKind::Glommio);
}

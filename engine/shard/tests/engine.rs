//! A real engine in-process: control sockets answer, datagrams reach the shards, stop cleans up.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use shardcast_control::{
    EngineInfo, ErrorKind, Request, Response, control_socket_path, decode, encode, engine_info_path,
};

mod common;
use common::{start, temp_dir};

/// Upper bound for conditions that normally hold within milliseconds.
const PATIENCE: Duration = Duration::from_secs(10);

fn exchange(path: &Path, bytes: &[u8]) -> Response {
    let mut stream = UnixStream::connect(path).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert_eq!(answer.last(), Some(&b'\n'), "answer is one line");
    decode(&answer).unwrap()
}

fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + PATIENCE;
    while Instant::now() < give_up {
        if condition() {
            return true;
        }
        std::thread::yield_now();
    }
    condition()
}

#[test]
fn control_socket_reaches_the_core_and_rejects_garbage() {
    let dir = temp_dir("control");
    let engine = start(&dir, 2);

    let info: EngineInfo = decode(&std::fs::read(engine_info_path(&dir)).unwrap()).unwrap();
    assert_eq!(info.shards, 2);
    assert_eq!(info.pid, std::process::id());

    for shard in 0..2 {
        let path = control_socket_path(&dir, shard);
        let request = Request::DeleteSession {
            session: "nobody".into(),
        };
        // Whatever the core answers today, it must be a decodable Response that came from it.
        exchange(&path, &encode(&request));
        assert_eq!(
            engine.counters(shard).unwrap().snapshot().control_requests,
            1
        );

        let garbage = exchange(&path, b"this is not json\n");
        assert!(
            matches!(
                garbage,
                Response::Error {
                    kind: ErrorKind::BadRequest,
                    ..
                }
            ),
            "{garbage:?}"
        );
        assert_eq!(
            engine.counters(shard).unwrap().snapshot().control_requests,
            1
        );
    }

    engine.stop();
    assert!(!engine_info_path(&dir).exists());
    assert!(!control_socket_path(&dir, 0).exists());
    assert!(!control_socket_path(&dir, 1).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn datagrams_reach_the_shard_they_are_sent_to() {
    let dir = temp_dir("udp");
    let engine = start(&dir, 2);
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();

    let port = |shard: usize| engine.local_addr(shard).unwrap().port();
    let target = |shard: usize| SocketAddr::from((Ipv4Addr::LOCALHOST, port(shard)));
    for _ in 0..3 {
        client.send_to(b"\x00\x01hello", target(1)).unwrap();
    }
    client.send_to(&[0x80; 100], target(0)).unwrap();

    let received = |shard: usize| engine.counters(shard).unwrap().snapshot().datagrams_in;
    assert!(wait_until(|| received(1) == 3 && received(0) == 1));
    assert_eq!(engine.counters(1).unwrap().snapshot().receive_errors, 0);
    assert!(engine.is_running());

    // The stats answer carries the runtime's counters, filled in by the shard's loop.
    let stats = exchange(&control_socket_path(&dir, 1), &encode(&Request::Stats));
    let Response::Stats(stats) = stats else {
        panic!("not a stats answer: {stats:?}");
    };
    assert_eq!(stats.runtime.datagrams_in, 3);
    assert_eq!(stats.runtime.receive_completions, 3);
    assert_eq!(stats.runtime.control_requests, 1);
    assert!(stats.runtime.submit_syscalls > 0);
    // Every turn's timer check split the gap since the one before.
    assert!(stats.check_gaps_on_cpu.firings > 0);
    assert_eq!(
        stats.check_gaps_off_cpu.firings,
        stats.check_gaps_on_cpu.firings
    );

    engine.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = temp_dir("stale");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(control_socket_path(&dir, 0), b"left over").unwrap();
    let engine = start(&dir, 1);
    let request = Request::DeleteSession {
        session: "x".into(),
    };
    exchange(&control_socket_path(&dir, 0), &encode(&request));
    engine.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

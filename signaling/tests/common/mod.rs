//! Test helpers: an in-process server, a fake engine playing the shards, and a tiny HTTP/1.1
//! client (signaling itself has no HTTP client dependency).

// Setup helpers outside #[test] functions fail the test by panicking, like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shardcast_control::{
    BandwidthEstimates, CoreCounters, EngineInfo, ErrorKind, Fingerprint, LATENESS_BUCKETS,
    LatenessHistogram, MediaAnswer, Request, Response, Role, RuntimeCounters, SessionAnswer,
    ShardStats, control_socket_path, decode, encode, engine_info_path,
};
use shardcast_signaling::{Config, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixListener};

/// A fresh, empty control directory for one test.
pub fn temp_control_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "shardcast-signaling-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts signaling on 127.0.0.1:0 and returns its address.
pub async fn start_server(control_dir: PathBuf, token: Option<&str>) -> SocketAddr {
    let server = Server::bind(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        control_dir,
        tls: None,
        token: token.map(str::to_owned),
        cors_origin: "*".into(),
    })
    .await
    .unwrap();
    let address = server.local_addr().unwrap();
    tokio::spawn(server.run());
    address
}

/// Plays `shards` engine shards: records every request and answers like a real shard would.
pub struct FakeEngine {
    pub requests: Arc<Mutex<Vec<(usize, Request)>>>,
}

impl FakeEngine {
    pub async fn start(dir: &std::path::Path, shards: usize) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let live = Arc::new(Mutex::new(HashSet::<String>::new()));
        let publishing = Arc::new(Mutex::new(HashSet::<String>::new()));
        for shard in 0..shards {
            let listener = UnixListener::bind(control_socket_path(dir, shard)).unwrap();
            let (requests, live, publishing) = (requests.clone(), live.clone(), publishing.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let mut reader = BufReader::new(stream);
                    let mut line = Vec::new();
                    reader.read_until(b'\n', &mut line).await.unwrap();
                    let request: Request = decode(&line).unwrap();
                    requests.lock().unwrap().push((shard, request.clone()));
                    let response = respond(shard, request, &live, &publishing);
                    reader
                        .get_mut()
                        .write_all(&encode(&response))
                        .await
                        .unwrap();
                }
            });
        }
        let info = EngineInfo { shards, pid: 1 };
        std::fs::write(engine_info_path(dir), serde_json::to_vec(&info).unwrap()).unwrap();
        FakeEngine { requests }
    }
}

fn respond(
    shard: usize,
    request: Request,
    live: &Mutex<HashSet<String>>,
    publishing: &Mutex<HashSet<String>>,
) -> Response {
    match request {
        Request::CreateSession(session) => {
            if session.role == Role::Publish
                && !publishing.lock().unwrap().insert(session.stream.clone())
            {
                return Response::Error {
                    kind: ErrorKind::Conflict,
                    reason: format!("stream {} already has a publisher", session.stream),
                };
            }
            live.lock().unwrap().insert(session.session.clone());
            let play = session.role == Role::Play;
            Response::Session(SessionAnswer {
                session: session.session,
                ice_ufrag: format!("shard{shard}"),
                ice_pwd: "enginepassword0123456789".into(),
                fingerprint: Fingerprint {
                    algorithm: "sha-256".into(),
                    value: (0..32).collect(),
                },
                candidates: vec![
                    format!("127.0.0.1:{}", 40000 + shard).parse().unwrap(),
                    format!("[::1]:{}", 40000 + shard).parse().unwrap(),
                ],
                media: session
                    .media
                    .iter()
                    .enumerate()
                    .map(|(i, m)| MediaAnswer {
                        mid: m.mid.clone(),
                        ssrc: play.then_some(1000 + i as u32),
                        rtx_ssrc: (play && m.codecs.iter().any(|c| c.rtx_payload_type.is_some()))
                            .then_some(2000 + i as u32),
                    })
                    .collect(),
                cname: "shardcast".into(),
            })
        }
        Request::DeleteSession { session } => {
            if live.lock().unwrap().remove(&session) {
                Response::Ok
            } else {
                Response::Error {
                    kind: ErrorKind::NotFound,
                    reason: "no such session".into(),
                }
            }
        }
        Request::AddCandidates { .. } => Response::Ok,
        Request::Stats => Response::Stats(fake_stats(shard, live.lock().unwrap().len())),
    }
}

/// Figures a shard could report: the probe fired 100 times (shard 1's one 3 ms late); shard
/// `n` sent 1,000 (n + 1) datagrams in 10 (n + 1) submits and dropped n truncated ones; its
/// two viewers estimate 0.5 and (n + 1) Mbps.
fn fake_stats(shard: usize, sessions: usize) -> ShardStats {
    let mut probe = [0; LATENESS_BUCKETS];
    probe[0] = 100 - shard as u64;
    probe[2] = shard as u64;
    ShardStats {
        shard,
        sessions,
        session_timers: LatenessHistogram::default(),
        probe: LatenessHistogram {
            buckets: probe,
            firings: 100,
            sum_us: 3_000 * shard as u64,
            max_us: 3_000 * shard as u64,
        },
        probe_period_us: 20_000,
        probe_skipped_periods: 0,
        counters: CoreCounters {
            retransmissions_sent: 7 * (shard as u64 + 1),
            packets_recovered: shard as u64,
            ..CoreCounters::default()
        },
        bandwidth: BandwidthEstimates {
            viewers: 2,
            transport_cc_viewers: 1,
            min_bps: 500_000,
            median_bps: 500_000,
            max_bps: 1_000_000 * (shard as u64 + 1),
            sum_bps: 500_000 + 1_000_000 * (shard as u64 + 1),
        },
        layers: Default::default(),
        runtime: RuntimeCounters {
            datagrams_out: 1_000 * (shard as u64 + 1),
            submit_syscalls: 10 * (shard as u64 + 1),
            gso_sends: 100 * (shard as u64 + 1),
            gso_segments: 500 * (shard as u64 + 1),
            receive_truncated: shard as u64,
            ..RuntimeCounters::default()
        },
        check_gaps_on_cpu: LatenessHistogram::default(),
        check_gaps_off_cpu: LatenessHistogram::default(),
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a fresh connection and reads the whole response.
pub async fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpResponse {
    tokio::time::timeout(
        Duration::from_secs(10),
        exchange(address, method, path, headers, body),
    )
    .await
    .expect("the server answers within 10 s")
}

async fn exchange(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpResponse {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    // The server may answer and close before reading an oversized body; the answer still arrives.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("a complete response head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

pub const SDP: (&str, &str) = ("Content-Type", "application/sdp");

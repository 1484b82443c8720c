//! The HTTP API end to end: in-process server, fake engine shards on Unix sockets. Sessions
//! first, then `GET /metrics`.

// Setup helpers outside #[test] functions fail the test by panicking, like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FakeEngine, SDP, fixture, http, start_server, temp_control_dir};
use shardcast_control::{
    LayerPreference, Request, Role, SessionRequest, control_socket_path, shard_for,
};

const FRAGMENT: (&str, &str) = ("Content-Type", "application/trickle-ice-sdpfrag");

#[tokio::test]
async fn publish_trickle_and_delete() {
    let dir = temp_control_dir();
    let engine = FakeEngine::start(&dir, 2).await;
    let server = start_server(dir, None).await;

    let created = http(
        server,
        "POST",
        "/whip/live",
        &[SDP],
        &fixture("chrome_publish.sdp"),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("content-type"), Some("application/sdp"));
    assert_eq!(
        created.header("accept-patch"),
        Some("application/trickle-ice-sdpfrag")
    );
    let location = created.header("location").unwrap().to_owned();
    let session = location.strip_prefix("/whip/live/").unwrap().to_owned();
    assert_eq!(session.len(), 32);
    let etag = created.header("etag").unwrap().to_owned();
    assert!(created.body.contains("a=ice-ufrag:shard"));
    let home = shard_for("live", 2);
    assert!(created.body.contains(&format!("m=video {} ", 40000 + home)));

    let requests = engine.requests.lock().unwrap().clone();
    let (shard, Request::CreateSession(create)) = &requests[0] else {
        panic!("expected CreateSession, got {requests:?}");
    };
    assert_eq!(*shard, home);
    assert_eq!(
        (create.role, create.session.as_str(), create.stream.as_str()),
        (Role::Publish, session.as_str(), "live")
    );
    assert_eq!(create.media.len(), 2);

    let candidate = "a=ice-ufrag:Hk3x\r\na=ice-pwd:k2hJd83jdkeLk2mdk38fkeo1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n\
        a=candidate:2 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.168.1.20 rport 54400\r\n";
    let patched = http(
        server,
        "PATCH",
        &location,
        &[FRAGMENT, ("If-Match", &etag)],
        candidate,
    )
    .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    let requests = engine.requests.lock().unwrap().clone();
    let Some((
        shard,
        Request::AddCandidates {
            session: target,
            candidates,
        },
    )) = requests.last()
    else {
        panic!("expected AddCandidates, got {requests:?}");
    };
    assert_eq!((*shard, target), (home, &session));
    assert_eq!(candidates.len(), 1);
    assert!(candidates[0].starts_with("candidate:2 1 udp"));

    let stale = http(
        server,
        "PATCH",
        &location,
        &[FRAGMENT, ("If-Match", "\"other\"")],
        candidate,
    )
    .await;
    assert_eq!(stale.status, 412);
    let restart = http(
        server,
        "PATCH",
        &location,
        &[FRAGMENT],
        &candidate.replace("Hk3x", "NeW1"),
    )
    .await;
    assert_eq!(restart.status, 422);
    assert!(restart.body.contains("ICE restart"));

    let deleted = http(server, "DELETE", &location, &[], "").await;
    assert_eq!(deleted.status, 200);
    assert!(
        matches!(engine.requests.lock().unwrap().clone().last(), Some((s, Request::DeleteSession { session: d })) if *s == home && *d == session)
    );
    assert_eq!(http(server, "DELETE", &location, &[], "").await.status, 404);
    assert_eq!(
        http(server, "PATCH", &location, &[FRAGMENT], candidate)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn viewers_rotate_across_shards() {
    let dir = temp_control_dir();
    let engine = FakeEngine::start(&dir, 2).await;
    let server = start_server(dir, None).await;
    let mut placed = Vec::new();
    for _ in 0..4 {
        let created = http(
            server,
            "POST",
            "/whep/live",
            &[SDP],
            &fixture("chrome_whep.sdp"),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let session = created
            .header("location")
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        placed.push(shard_for(&session, 2));
        assert!(created.body.contains("a=sendonly"));
        assert!(created.body.contains("a=ssrc-group:FID"));
    }
    assert_eq!(placed, vec![0, 1, 0, 1]);
    let shards: Vec<usize> = engine
        .requests
        .lock()
        .unwrap()
        .clone()
        .iter()
        .map(|(shard, _)| *shard)
        .collect();
    assert_eq!(shards, placed);
}

#[tokio::test]
async fn viewer_codecs_follow_the_publisher() {
    let dir = temp_control_dir();
    let engine = FakeEngine::start(&dir, 1).await;
    let server = start_server(dir, None).await;
    assert_eq!(
        http(
            server,
            "POST",
            "/whip/cam",
            &[SDP],
            &fixture("obs_whip.sdp")
        )
        .await
        .status,
        201
    );

    let viewer = http(
        server,
        "POST",
        "/whep/cam",
        &[SDP],
        &fixture("chrome_whep.sdp"),
    )
    .await;
    assert_eq!(viewer.status, 201, "{}", viewer.body);
    let Some((_, Request::CreateSession(create))) =
        engine.requests.lock().unwrap().clone().last().cloned()
    else {
        panic!("expected CreateSession");
    };
    let video: Vec<u8> = create.media[1]
        .codecs
        .iter()
        .map(|c| c.payload_type)
        .collect();
    assert_eq!(
        video,
        vec![106],
        "only Constrained Baseline mode 1 matches OBS"
    );

    let vp8_only = fixture("aiortc_whep.sdp")
        .replace("a=rtpmap:99 H264", "a=rtpmap:99 VP9")
        .replace("a=rtpmap:101 H264", "a=rtpmap:101 VP9");
    let refused = http(server, "POST", "/whep/cam", &[SDP], &vp8_only).await;
    assert_eq!(refused.status, 406);
    assert_eq!(
        refused.body.trim(),
        "no common codec: stream sends H264 (profile-level-id=42e01f), offer has VP8, VP9"
    );

    let second = http(
        server,
        "POST",
        "/whip/cam",
        &[SDP],
        &fixture("obs_whip.sdp"),
    )
    .await;
    assert_eq!(second.status, 409, "the engine's conflict maps to 409");
}

/// The CreateSession requests the engine received, in order.
fn created_sessions(engine: &FakeEngine) -> Vec<SessionRequest> {
    engine
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, request)| match request {
            Request::CreateSession(create) => Some(create.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn simulcast_publisher_and_viewer_layer_preferences() {
    let dir = temp_control_dir();
    let engine = FakeEngine::start(&dir, 1).await;
    let server = start_server(dir, None).await;
    let publisher = http(
        server,
        "POST",
        "/whip/sim",
        &[SDP],
        &fixture("chrome_simulcast_publish.sdp"),
    )
    .await;
    assert_eq!(publisher.status, 201, "{}", publisher.body);
    assert!(
        publisher.body.contains("a=simulcast:recv q;h;f\r\n"),
        "{}",
        publisher.body
    );
    for (path, layer) in [
        ("/whep/sim", None),
        ("/whep/sim?layer=low", Some(LayerPreference::Low)),
        ("/whep/sim?token=x&layer=mid", Some(LayerPreference::Mid)),
        ("/whep/sim?layer=high&other", Some(LayerPreference::High)),
    ] {
        let viewer = http(server, "POST", path, &[SDP], &fixture("chrome_whep.sdp")).await;
        assert_eq!(viewer.status, 201, "{path}: {}", viewer.body);
        let create = created_sessions(&engine).pop().unwrap();
        assert_eq!((create.role, create.layer), (Role::Play, layer), "{path}");
        assert!(create.media.iter().all(|m| m.simulcast.is_empty()));
    }
    let created = created_sessions(&engine);
    assert_eq!(created[0].media[1].simulcast, ["q", "h", "f"]);
    assert_eq!(created[0].layer, None);
}

#[tokio::test]
async fn every_shard_is_scraped_into_one_exposition() {
    let dir = temp_control_dir();
    let engine = FakeEngine::start(&dir, 2).await;
    let server = start_server(dir, None).await;

    let metrics = http(server, "GET", "/metrics", &[], "").await;
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let requests = engine.requests.lock().unwrap().clone();
    assert_eq!(requests, [(0, Request::Stats), (1, Request::Stats)]);

    let lines: Vec<&str> = metrics.body.lines().collect();
    for expected in [
        "# TYPE shardcast_timer_lateness_seconds histogram",
        "shardcast_timer_lateness_seconds_bucket{shard=\"0\",timer=\"probe\",le=\"0.001\"} 100",
        "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.001\"} 99",
        "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.002\"} 99",
        "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.005\"} 100",
        "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"+Inf\"} 100",
        "shardcast_timer_lateness_seconds_sum{shard=\"1\",timer=\"probe\"} 0.003",
        "shardcast_timer_lateness_seconds_count{shard=\"1\",timer=\"probe\"} 100",
        "shardcast_timer_lateness_seconds_count{shard=\"0\",timer=\"session\"} 0",
        "shardcast_timer_lateness_max_seconds{shard=\"1\",timer=\"probe\"} 0.003",
        "# TYPE shardcast_sessions gauge",
        "shardcast_sessions{shard=\"0\"} 0",
        "# TYPE shardcast_sessions_created_total counter",
        "shardcast_datagrams_out_total{shard=\"1\"} 2000",
        "shardcast_submit_syscalls_total{shard=\"1\"} 20",
        "shardcast_gso_sends_total{shard=\"1\"} 200",
        "shardcast_gso_segments_total{shard=\"1\"} 1000",
        "shardcast_gso_fallbacks_total{shard=\"0\"} 0",
        "shardcast_receive_drops_total{shard=\"1\",reason=\"truncated\"} 1",
        "shardcast_receive_drops_total{shard=\"0\",reason=\"truncated\"} 0",
        "# TYPE shardcast_retransmissions_sent_total counter",
        "shardcast_retransmissions_sent_total{shard=\"1\"} 14",
        "shardcast_packets_recovered_total{shard=\"1\"} 1",
        "shardcast_viewers_bandwidth_estimated{shard=\"0\"} 2",
        "shardcast_viewer_bandwidth_estimate_bits_per_second{shard=\"1\",stat=\"max\"} 2000000",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected} missing:\n{}",
            metrics.body
        );
    }
    // Shard 0's samples of a family come before shard 1's, within the family.
    let position = |line: &str| lines.iter().position(|l| l.starts_with(line)).unwrap();
    assert!(
        position("shardcast_sessions{shard=\"0\"}") < position("shardcast_sessions{shard=\"1\"}")
    );
}

#[tokio::test]
async fn the_token_guards_metrics_like_the_api() {
    let dir = temp_control_dir();
    let _engine = FakeEngine::start(&dir, 1).await;
    let server = start_server(dir, Some("s3cret")).await;

    let anonymous = http(server, "GET", "/metrics", &[], "").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    let wrong = [("Authorization", "Bearer nope")];
    assert_eq!(
        http(server, "GET", "/metrics", &wrong, "").await.status,
        401
    );
    let right = [("Authorization", "Bearer s3cret")];
    let metrics = http(server, "GET", "/metrics", &right, "").await;
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert!(metrics.body.contains("shardcast_sessions{shard=\"0\"} 0"));

    let post = http(server, "POST", "/metrics", &right, "").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, OPTIONS"));
}

#[tokio::test]
async fn a_shard_that_does_not_answer_fails_the_whole_scrape() {
    let dir = temp_control_dir();
    let _engine = FakeEngine::start(&dir, 2).await;
    std::fs::remove_file(control_socket_path(&dir, 1)).unwrap();
    let server = start_server(dir.clone(), None).await;

    let metrics = http(server, "GET", "/metrics", &[], "").await;
    assert_eq!(metrics.status, 503);
    assert_eq!(metrics.body, "shard 1 did not answer\n");
    assert!(!metrics.body.contains("shardcast_"));

    std::fs::remove_dir_all(&dir).unwrap();
    let no_engine = http(server, "GET", "/metrics", &[], "").await;
    assert_eq!(no_engine.status, 503);
    assert!(
        no_engine.body.contains("engine not reachable"),
        "{}",
        no_engine.body
    );
}

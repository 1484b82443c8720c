//! The HTTP API end to end: in-process server, fake engine shards on Unix sockets.

// Setup helpers outside #[test] functions fail the test by panicking, like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FakeEngine, SDP, fixture, http, start_server, temp_control_dir};
use shardcast_control::{Request, Role, shard_for};

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

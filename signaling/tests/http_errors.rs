//! HTTP errors, the engine being down, bearer tokens, CORS and the built-in pages.

// Setup helpers outside #[test] functions fail the test by panicking, like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FakeEngine, SDP, fixture, http, start_server, temp_control_dir};

#[tokio::test]
async fn request_errors_have_status_and_reason() {
    let dir = temp_control_dir();
    let engine = FakeEngine::start(&dir, 1).await;
    let server = start_server(dir, None).await;
    let offer = fixture("chrome_publish.sdp");

    let wrong_type = http(
        server,
        "POST",
        "/whip/s",
        &[("Content-Type", "text/plain")],
        &offer,
    )
    .await;
    assert_eq!(wrong_type.status, 415);
    assert!(wrong_type.body.contains("application/sdp"));

    let huge = format!("{offer}{}", "a=x-padding:0123456789abcdef\r\n".repeat(2500));
    let too_large = http(server, "POST", "/whip/s", &[SDP], &huge).await;
    assert_eq!(too_large.status, 400);
    assert!(too_large.body.contains("too large"), "{}", too_large.body);

    let garbage = http(
        server,
        "POST",
        "/whip/s",
        &[SDP],
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nnot sdp at all\r\n",
    )
    .await;
    assert_eq!(garbage.status, 400);
    assert!(garbage.body.contains("line 3"), "{}", garbage.body);

    let no_ufrag = http(
        server,
        "POST",
        "/whip/s",
        &[SDP],
        &offer.replace("a=ice-ufrag:Hk3x\r\n", ""),
    )
    .await;
    assert_eq!(no_ufrag.status, 400);
    assert!(no_ufrag.body.contains("ice-ufrag"));

    let no_bundle = http(
        server,
        "POST",
        "/whip/s",
        &[SDP],
        &offer.replace("a=group:BUNDLE 0 1\r\n", ""),
    )
    .await;
    assert_eq!(no_bundle.status, 400);
    assert!(no_bundle.body.contains("BUNDLE"));

    let no_codec = fixture("obs_whip.sdp")
        .replace("opus/48000/2", "PCMU/8000")
        .replace("H264/90000", "H265/90000");
    let not_acceptable = http(server, "POST", "/whip/s", &[SDP], &no_codec).await;
    assert_eq!(not_acceptable.status, 406);
    assert!(not_acceptable.body.contains("no common codec"));

    assert_eq!(
        http(server, "POST", "/whip/bad%21name", &[SDP], &offer)
            .await
            .status,
        400
    );
    let unknown = http(server, "GET", "/nothing/here", &[], "").await;
    assert_eq!(unknown.status, 404);
    assert!(!unknown.body.is_empty());
    let wrong_method = http(server, "GET", "/whip/s", &[], "").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("POST, OPTIONS"));
    let missing = http(
        server,
        "DELETE",
        "/whep/s/0123456789abcdef0123456789abcdef",
        &[],
        "",
    )
    .await;
    assert_eq!(missing.status, 404);
    // Every request above was refused before a shard was asked.
    assert!(engine.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bad_layers_and_simulcast_lines_are_400_with_the_reason() {
    let dir = temp_control_dir();
    let engine = FakeEngine::start(&dir, 1).await;
    let server = start_server(dir, None).await;
    let viewer = fixture("chrome_whep.sdp");
    let publisher = fixture("chrome_simulcast_publish.sdp");

    let ultra = http(server, "POST", "/whep/s?layer=ultra", &[SDP], &viewer).await;
    assert_eq!(ultra.status, 400);
    assert_eq!(
        ultra.body.trim(),
        "invalid layer \"ultra\": use low, mid or high"
    );
    let twice = http(
        server,
        "POST",
        "/whep/s?layer=low&layer=mid",
        &[SDP],
        &viewer,
    )
    .await;
    assert_eq!(twice.status, 400);
    assert_eq!(twice.body.trim(), "layer is given more than once");
    let on_whip = http(server, "POST", "/whip/s?layer=high", &[SDP], &publisher).await;
    assert_eq!(on_whip.status, 400);
    assert_eq!(
        on_whip.body.trim(),
        "layer=\"high\" is for WHEP viewers; a WHIP publisher takes no layer"
    );

    let unknown_rid = publisher.replace("a=simulcast:send q;h;f", "a=simulcast:send q;h;x");
    let refused = http(server, "POST", "/whip/s", &[SDP], &unknown_rid).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("a=simulcast names rid \"x\", which has no a=rid:x send line"),
        "{}",
        refused.body
    );
    let long_rid = publisher.replace("a=rid:f send", "a=rid:f0123456789abcdef send");
    let refused = http(server, "POST", "/whip/s", &[SDP], &long_rid).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("is longer than 16 characters"),
        "{}",
        refused.body
    );
    assert!(engine.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn engine_not_reachable_is_503() {
    let dir = temp_control_dir();
    let server = start_server(dir.clone(), None).await;
    let no_engine = http(server, "POST", "/whip/s", &[SDP], &fixture("obs_whip.sdp")).await;
    assert_eq!(no_engine.status, 503);
    assert_eq!(no_engine.body.trim(), "engine not reachable");

    // engine.json present but nobody listens on the shard socket.
    std::fs::write(
        shardcast_control::engine_info_path(&dir),
        br#"{"shards":1,"pid":1}"#,
    )
    .unwrap();
    let refused = http(server, "POST", "/whip/s", &[SDP], &fixture("obs_whip.sdp")).await;
    assert_eq!(refused.status, 503);

    // The engine comes up after signaling: the next request finds it.
    std::fs::remove_file(shardcast_control::engine_info_path(&dir)).unwrap();
    let _engine = FakeEngine::start(&dir, 1).await;
    assert_eq!(
        http(server, "POST", "/whip/s", &[SDP], &fixture("obs_whip.sdp"))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn bearer_token_guards_whip_and_whep() {
    let dir = temp_control_dir();
    let _engine = FakeEngine::start(&dir, 1).await;
    let server = start_server(dir, Some("s3cret")).await;
    let offer = fixture("obs_whip.sdp");
    let missing = http(server, "POST", "/whip/s", &[SDP], &offer).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let wrong = http(
        server,
        "POST",
        "/whip/s",
        &[SDP, ("Authorization", "Bearer nope")],
        &offer,
    )
    .await;
    assert_eq!(wrong.status, 401);
    let good = http(
        server,
        "POST",
        "/whip/s",
        &[SDP, ("Authorization", "Bearer s3cret")],
        &offer,
    )
    .await;
    assert_eq!(good.status, 201);
    let location = good.header("location").unwrap().to_owned();
    assert_eq!(http(server, "DELETE", &location, &[], "").await.status, 401);
    assert_eq!(
        http(
            server,
            "DELETE",
            &location,
            &[("Authorization", "Bearer s3cret")],
            ""
        )
        .await
        .status,
        200
    );
    // Pages and preflights stay open: browsers send no credentials there.
    assert_eq!(http(server, "GET", "/watch/s", &[], "").await.status, 200);
    assert_eq!(
        http(server, "OPTIONS", "/whep/s", &[], "").await.status,
        204
    );
}

#[tokio::test]
async fn cors_preflight_and_headers() {
    let dir = temp_control_dir();
    let server = start_server(dir, None).await;
    let preflight = http(
        server,
        "OPTIONS",
        "/whip/s",
        &[
            ("Origin", "https://example.com"),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(preflight.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("Authorization, Content-Type, If-Match")
    );
    let session = http(
        server,
        "OPTIONS",
        "/whep/s/0123456789abcdef0123456789abcdef",
        &[],
        "",
    )
    .await;
    assert_eq!(
        session.header("access-control-allow-methods"),
        Some("PATCH, DELETE, OPTIONS")
    );
    let error = http(server, "GET", "/nowhere", &[], "").await;
    assert_eq!(
        error.header("access-control-expose-headers"),
        Some("Location, ETag, Link, Accept-Patch")
    );
}

#[tokio::test]
async fn pages_are_served() {
    let server = start_server(temp_control_dir(), None).await;
    let publish = http(server, "GET", "/publish/s?codec=vp9", &[], "").await;
    assert_eq!(publish.status, 200);
    assert_eq!(
        publish.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(publish.body.contains("\"/whip/\""));
    let watch = http(server, "GET", "/watch/s", &[], "").await;
    assert!(watch.body.contains("\"/whep/\""));
}

//! `POST /whip/{stream}` and `POST /whep/{stream}`: negotiate the offer, place the session on
//! a shard, and answer 201 with the SDP answer.

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use shardcast_control::{LayerPreference, Request, Response, Role, SessionRequest, shard_for};

use super::AppState;
use super::reply::{ApiError, Reply, with_body};
use super::route::session_location;
use crate::sdp::answer::{AnswerInput, write_answer};
use crate::sdp::negotiate::{Refusal, negotiate};
use crate::sdp::offer::Offer;
use crate::sessions::{SessionEntry, random_session_id};

/// `layer` is a viewer's `?layer=` preference.
pub async fn create_session(
    state: &AppState,
    (role, stream, layer): (Role, &str, Option<LayerPreference>),
    offer_text: &str,
) -> Result<Reply, ApiError> {
    let offer = Offer::parse(offer_text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let publisher = match role {
        Role::Publish => None,
        Role::Play => state.sessions.publisher_codecs(stream),
    };
    let negotiated =
        negotiate(&offer, role, publisher.as_ref()).map_err(|refusal| match refusal {
            Refusal::BadOffer(reason) => ApiError::bad_request(reason),
            Refusal::NoCommonCodec(reason) => ApiError::new(StatusCode::NOT_ACCEPTABLE, reason),
        })?;
    let shards = state.engine.shards().await?;
    let (session, shard) = match role {
        Role::Publish => (random_session_id(), shard_for(stream, shards)),
        Role::Play => {
            let session = state.sessions.viewer_session_id(shards);
            let shard = shard_for(&session, shards);
            (session, shard)
        }
    };
    let request = Request::CreateSession(SessionRequest {
        session: session.clone(),
        role,
        stream: stream.to_owned(),
        remote_ufrag: negotiated.remote_ufrag.clone(),
        remote_pwd: negotiated.remote_pwd.clone(),
        remote_fingerprint: negotiated.remote_fingerprint.clone(),
        dtls_role: negotiated.dtls_role,
        media: negotiated.media_sections(),
        layer,
    });
    let engine_answer = match state.engine.call(shard, &request).await? {
        Response::Session(answer) => answer,
        Response::Error { kind, reason } => return Err(ApiError::from_engine(kind, reason)),
        Response::Ok | Response::Stats(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "the engine created no session",
            ));
        }
    };
    let answer = write_answer(&AnswerInput {
        negotiated: &negotiated,
        engine: &engine_answer,
        role,
        stream,
        origin_id: rand::random::<u64>() >> 1,
    });
    let etag = format!("\"{:016x}\"", rand::random::<u64>());
    state.sessions.insert(
        session.clone(),
        SessionEntry {
            role,
            stream: stream.to_owned(),
            shard,
            etag: etag.clone(),
            remote_ufrag: negotiated.remote_ufrag.clone(),
        },
    );
    if role == Role::Publish {
        state
            .sessions
            .set_publisher(stream, &session, negotiated.chosen_codecs());
    }
    tracing::info!(%stream, %session, shard, ?role, "session created");
    let location = session_location(role, stream, &session);
    let mut reply = with_body(StatusCode::CREATED, "application/sdp", Bytes::from(answer));
    let headers = reply.headers_mut();
    // Our own ids and validated stream names are plain ASCII, so these always convert.
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        "accept-patch",
        HeaderValue::from_static("application/trickle-ice-sdpfrag"),
    );
    Ok(reply)
}

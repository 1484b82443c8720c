//! `PATCH` (trickle ICE) and `DELETE` on a session's Location.

use hyper::StatusCode;
use hyper::header::{self, HeaderMap};
use shardcast_control::{Request, Response, Role};

use super::AppState;
use super::reply::{ApiError, Reply, empty};
use crate::sdp::fragment::parse_fragment;
use crate::sessions::SessionEntry;

/// Finds the session named in the path; it must belong to that endpoint and stream.
fn lookup(
    state: &AppState,
    role: Role,
    stream: &str,
    session: &str,
) -> Result<SessionEntry, ApiError> {
    state
        .sessions
        .get(session)
        .filter(|entry| entry.role == role && entry.stream == stream)
        .ok_or_else(|| ApiError::not_found("no such session"))
}

/// Sends trickled candidates to the session's shard. ICE restarts are not supported: a
/// fragment with new credentials is answered 422 (Unprocessable Content), as RFC 9725 allows.
pub async fn trickle(
    state: &AppState,
    headers: &HeaderMap,
    (role, stream, session): (Role, &str, &str),
    fragment_text: &str,
) -> Result<Reply, ApiError> {
    let entry = lookup(state, role, stream, session)?;
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    if let Some(tag) = if_match
        && tag != "*"
        && tag != entry.etag
    {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "If-Match does not match the session's ETag",
        ));
    }
    let fragment =
        parse_fragment(fragment_text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if fragment
        .ice_ufrag
        .as_ref()
        .is_some_and(|ufrag| *ufrag != entry.remote_ufrag)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ICE restart is not supported",
        ));
    }
    if fragment.candidates.is_empty() {
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    let request = Request::AddCandidates {
        session: session.to_owned(),
        candidates: fragment.candidates,
    };
    match state.engine.call(entry.shard, &request).await? {
        Response::Ok | Response::Session(_) | Response::Stats(_) => {
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Response::Error { kind, reason } => Err(ApiError::from_engine(kind, reason)),
    }
}

/// Ends the session on its shard and forgets it.
pub async fn delete(
    state: &AppState,
    (role, stream, session): (Role, &str, &str),
) -> Result<Reply, ApiError> {
    let entry = lookup(state, role, stream, session)?;
    let request = Request::DeleteSession {
        session: session.to_owned(),
    };
    match state.engine.call(entry.shard, &request).await? {
        Response::Ok | Response::Session(_) | Response::Stats(_) => {
            state.sessions.remove(session);
            tracing::info!(%stream, %session, "session deleted");
            Ok(empty(StatusCode::OK))
        }
        Response::Error { kind, reason } => {
            if kind == shardcast_control::ErrorKind::NotFound {
                // The shard already dropped it (consent expired); nothing is left to free.
                state.sessions.remove(session);
            }
            Err(ApiError::from_engine(kind, reason))
        }
    }
}

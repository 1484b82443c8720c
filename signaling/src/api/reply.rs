//! Building responses: plain-text errors, and the CORS headers every response carries.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use shardcast_control::ErrorKind;

use crate::engine::EngineError;

pub type Reply = Response<Full<Bytes>>;

/// An error answered as `text/plain` with a human-readable reason.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: String,
    /// For 405: the methods the resource does take.
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            allow: None,
        }
    }

    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason)
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            reason: format!("method not allowed; allowed: {allow}"),
            allow: Some(allow),
        }
    }

    /// A shard's refusal, in HTTP terms.
    pub fn from_engine(kind: ErrorKind, reason: String) -> Self {
        let status = match kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, reason)
    }

    pub fn into_reply(self) -> Reply {
        let mut reply = text(self.status, format!("{}\n", self.reason));
        if let Some(allow) = self.allow {
            reply
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            reply
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        reply
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Unreachable(detail) => {
                tracing::warn!(%detail, "engine not reachable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "engine not reachable")
            }
            EngineError::Malformed(detail) => {
                tracing::error!(%detail, "bad response from the engine");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "the engine sent a malformed response",
                )
            }
        }
    }
}

pub fn text(status: StatusCode, body: String) -> Reply {
    with_body(status, "text/plain; charset=utf-8", Bytes::from(body))
}

pub fn with_body(status: StatusCode, content_type: &'static str, body: Bytes) -> Reply {
    let mut reply = Response::new(Full::new(body));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

pub fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

/// Browsers' WHIP/WHEP clients run on other origins; let them read our headers.
pub fn add_cors(reply: &mut Reply, origin: &HeaderValue) {
    let headers = reply.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, ETag, Link, Accept-Patch"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, If-Match"),
    );
}

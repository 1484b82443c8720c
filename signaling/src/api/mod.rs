//! The HTTP API: one entry point that routes, checks and answers every request.

mod metrics;
mod offer;
mod query;
pub mod reply;
mod request;
pub mod route;
mod session;

use bytes::Bytes;
use hyper::body::Body;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};

use crate::engine::EngineClient;
use crate::pages;
use crate::sessions::Sessions;
use reply::{ApiError, Reply, add_cors, empty};
use route::Route;

pub use request::MAX_BODY;

/// Everything the handlers share.
pub struct AppState {
    pub engine: EngineClient,
    pub sessions: Sessions,
    pub token: Option<String>,
    pub cors_origin: HeaderValue,
}

/// Answers one request; never fails (errors become text/plain responses).
pub async fn handle<B>(state: &AppState, request: Request<B>) -> Reply
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut reply = match dispatch(state, request).await {
        Ok(reply) => reply,
        Err(error) => {
            tracing::debug!(%method, %path, status = %error.status, reason = %error.reason, "request refused");
            error.into_reply()
        }
    };
    add_cors(&mut reply, &state.cors_origin);
    reply
}

async fn dispatch<B>(state: &AppState, request: Request<B>) -> Result<Reply, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let route = Route::parse(request.uri().path())?;
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let token = state.token.as_deref();
    match (&route, &parts.method) {
        (_, &Method::OPTIONS) => Ok(preflight(&route)),
        (Route::Page { page, .. }, &Method::GET) => Ok(pages::serve(*page)),
        (Route::Metrics, &Method::GET) => {
            // The figures describe the service's load and viewers: no more public than the API.
            request::authorize(headers, token)?;
            metrics::scrape(state).await
        }
        (Route::Endpoint { role, stream }, &Method::POST) => {
            request::authorize(headers, token)?;
            request::require_content_type(headers, "application/sdp")?;
            let layer = query::layer_preference(*role, parts.uri.query())?;
            let offer = request::read_text(headers, body).await?;
            offer::create_session(state, (*role, stream, layer), &offer).await
        }
        (
            Route::Session {
                role,
                stream,
                session,
            },
            &Method::PATCH,
        ) => {
            request::authorize(headers, token)?;
            request::require_content_type(headers, "application/trickle-ice-sdpfrag")?;
            let fragment = request::read_text(headers, body).await?;
            session::trickle(state, headers, (*role, stream, session), &fragment).await
        }
        (
            Route::Session {
                role,
                stream,
                session,
            },
            &Method::DELETE,
        ) => {
            request::authorize(headers, token)?;
            session::delete(state, (*role, stream, session)).await
        }
        _ => Err(ApiError::method_not_allowed(route.allowed_methods())),
    }
}

/// The CORS preflight: which methods and headers a browser may use here.
fn preflight(route: &Route) -> Reply {
    let mut reply = empty(StatusCode::NO_CONTENT);
    let methods = HeaderValue::from_static(route.allowed_methods());
    let headers = reply.headers_mut();
    headers.insert(header::ALLOW, methods.clone());
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    if matches!(route, Route::Endpoint { .. }) {
        headers.insert("accept-post", HeaderValue::from_static("application/sdp"));
    }
    reply
}

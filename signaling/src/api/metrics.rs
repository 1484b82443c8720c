//! `GET /metrics`: asks every shard for its figures and answers them for Prometheus.
//!
//! All shards or nothing: a scrape that silently left a shard out would look like that
//! shard's counters going back to zero, so a shard that does not answer makes the whole
//! answer a 503 naming it.

use bytes::Bytes;
use hyper::StatusCode;
use shardcast_control::{Request, Response};

use super::AppState;
use super::reply::{ApiError, Reply, with_body};
use crate::engine::EngineError;
use crate::prometheus;

pub async fn scrape(state: &AppState) -> Result<Reply, ApiError> {
    let shards = state.engine.shards().await?;
    let mut figures = Vec::with_capacity(shards);
    // One shard after the other: each answers from its own loop within a turn, and a scrape
    // every few seconds does not need them in parallel.
    for index in 0..shards {
        match state.engine.call(index, &Request::Stats).await {
            Ok(Response::Stats(stats)) => figures.push(stats),
            Ok(other) => {
                tracing::warn!(shard = index, response = ?other, "shard has no stats");
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("shard {index} did not answer with its stats"),
                ));
            }
            Err(error) => {
                let detail = match error {
                    EngineError::Unreachable(detail) | EngineError::Malformed(detail) => detail,
                };
                tracing::warn!(shard = index, %detail, "no stats from the shard");
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("shard {index} did not answer"),
                ));
            }
        }
    }
    let text = prometheus::render(&figures);
    Ok(with_body(
        StatusCode::OK,
        prometheus::CONTENT_TYPE,
        Bytes::from(text),
    ))
}

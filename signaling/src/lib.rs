//! shardcast's signaling server: WHIP (RFC 9725) for publishers and WHEP for viewers. It
//! negotiates SDP, asks an engine shard over its control socket for the session, and
//! writes the answer. It never touches media. `GET /metrics` gathers every shard's figures
//! for Prometheus.

pub mod api;
pub mod cli;
pub mod engine;
pub mod pages;
pub mod prometheus;
pub mod sdp;
pub mod server;
pub mod sessions;
pub mod tls;

pub use server::{Config, Server};

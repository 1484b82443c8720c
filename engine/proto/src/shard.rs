//! One shard's whole protocol state: its sessions, its streams and its share of the fan-out.
//!
//! The runtime owns one `ShardCore` per pinned thread and drives it:
//! datagrams in through [`ShardCore::handle_receive`], control requests through
//! [`ShardCore::handle_control`], messages from other shards through
//! [`ShardCore::handle_message`], and the clock through [`ShardCore::handle_timeout`].
//! It then drains [`ShardCore::poll_transmit`] (datagrams to send),
//! [`ShardCore::poll_message`] (messages for other shards) and sleeps no later than
//! [`ShardCore::poll_timeout`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use shardcast_control::{ErrorKind, Request, Response};

use crate::dtls::Certificate;
use crate::router::ShardMessage;

/// What a shard needs to know about itself.
#[derive(Clone)]
pub struct ShardConfig {
    pub index: usize,
    pub shards: usize,
    /// Host candidates: the shard's UDP port on every advertised address.
    pub candidates: Vec<SocketAddr>,
    pub certificate: Arc<Certificate>,
    /// Seeds ICE credentials and SSRCs; tests pass a fixed one.
    pub seed: u64,
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

pub struct ShardCore {
    config: ShardConfig,
    transmits: VecDeque<Transmit>,
    messages: VecDeque<(usize, ShardMessage)>,
}

impl ShardCore {
    pub fn new(config: ShardConfig, _now: Instant) -> Self {
        Self {
            config,
            transmits: VecDeque::new(),
            messages: VecDeque::new(),
        }
    }

    pub fn index(&self) -> usize {
        self.config.index
    }

    /// A datagram that arrived on this shard's socket from `source`.
    pub fn handle_receive(&mut self, _now: Instant, _source: SocketAddr, _datagram: &[u8]) {}

    /// A request from signaling; the answer goes straight back.
    pub fn handle_control(&mut self, _now: Instant, _request: Request) -> Response {
        Response::Error {
            kind: ErrorKind::Unavailable,
            reason: "not ready".into(),
        }
    }

    /// A message another shard sent this one.
    pub fn handle_message(&mut self, _now: Instant, _from_shard: usize, _message: ShardMessage) {}

    pub fn handle_timeout(&mut self, _now: Instant) {}

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next message for another shard: (destination shard, message).
    pub fn poll_message(&mut self) -> Option<(usize, ShardMessage)> {
        self.messages.pop_front()
    }

    /// The earliest deadline; the runtime must call `handle_timeout` no later than this.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

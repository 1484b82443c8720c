//! shardcast-bench: plays one publisher and many viewers against any WHIP/WHEP server.
//!
//! Like the engine, the protocol parts are sans-IO state machines driven with an explicit
//! `now`, so the accounting and the peers are tested with simulated time.

pub mod accounting;
pub mod baseline;
pub mod compare;
pub mod driver;
pub mod host_steal;
pub mod media;
pub mod peer;
pub mod plot;
pub mod report;
pub mod server_metrics;
pub mod server_usage;
pub mod whip_client;

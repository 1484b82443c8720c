//! shardcast's protocol core.
//!
//! Everything here is a state machine driven from outside: input arrives through
//! `handle_*` calls carrying an explicit `now`, output leaves through `poll_*` calls. Nothing
//! in this crate reads the clock, spawns, locks or touches a socket, so all of it runs under
//! simulated time in tests. The modules are in the order a packet meets them.

#[cfg(test)]
mod alloc_count;
pub mod bwe;
pub mod clock;
pub mod codec;
pub mod counter_hash;
pub mod demux;
pub mod dtls;
pub mod egress;
pub mod ice;
pub mod ingress;
pub mod layers;
pub mod media;
mod prefetch;
pub mod repair;
pub mod router;
pub mod rtcp;
pub mod rtp;
pub mod rtt;
pub mod session;
pub mod shard;
pub mod srtp;
pub mod timer;

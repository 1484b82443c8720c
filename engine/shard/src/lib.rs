//! shardcast's runtime: thin glue that drives the protocol core (`shardcast_proto`) from pinned
//! threads, each with its own io_uring and UDP socket.
//!
//! In the order a packet meets them: [`udp`] (the socket), [`recv_ring`] (the buffers io_uring
//! receives into) with [`pktinfo`] (which local address), [`event_loop`] (one shard's loop
//! around its `ShardCore`), [`io_slots`] (the memory io_uring sends from) with [`gso`] (a
//! viewer's packets of one frame as one send),
//! [`mesh`] over [`ring`] and [`wake`] (what shards hand each other), [`control_socket`]
//! (signaling's requests), and [`engine`] which starts all of it.

pub mod addresses;
pub mod cli;
pub mod control_socket;
pub mod cores;
pub mod counters;
pub mod engine;
pub mod event_loop;
pub mod gso;
pub mod io_slots;
pub mod mesh;
pub mod pktinfo;
pub mod recv_ring;
pub mod ring;
pub mod signal;
pub mod thread_clock;
pub mod udp;
pub mod up;
mod uring;
mod uring_setup;
pub mod wake;

pub use engine::{Engine, EngineConfig};
pub use uring::submit_and_wait;

//! ICE-lite (RFC 8445, section 2.5) with consent freshness (RFC 7675).
//!
//! The engine never gathers or checks anything itself: it is always the lite, controlled
//! side. The browser (a full agent, controlling) sends STUN Binding requests to our host
//! candidate; [`IceLite`] answers the authentic ones, learns which addresses are verified,
//! follows the browser's nomination and notices when the browser stops checking.
//!
//! [`local_ufrag`] is the cheap look-up the shard uses to find the session of a STUN packet
//! from an address it has not seen yet; the session's [`IceLite`] then does the real checks.

mod check;
mod consent;
mod credentials;
mod error;
mod lite;
mod username;

#[cfg(any(test, feature = "bench-support"))]
#[allow(clippy::unwrap_used, reason = "test scaffolding")]
#[cfg_attr(not(test), allow(dead_code, reason = "benches use only the requests"))]
pub(crate) mod test_peer;
#[cfg(test)]
mod tests;

pub use credentials::IceCredentials;
pub use error::IceError;
pub use lite::{IceConfig, IceEvent, IceLite};
pub use username::local_ufrag;

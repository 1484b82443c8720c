//! What every peer of one bench process shares.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use shardcast_proto::dtls::{Certificate, DtlsConfig};

#[derive(Clone)]
pub struct PeerConfig {
    /// One certificate for all peers: generating a key pair per peer costs more than the
    /// whole rest of a session's setup.
    pub certificate: Arc<Certificate>,
    pub dtls: DtlsConfig,
    /// Host candidates written into the offer. Empty leaves them out, which some ICE-lite
    /// servers need: they drop sessions whose offer lists addresses they cannot reach.
    pub host_candidates: Vec<SocketAddr>,
    /// `Some(n)`: authenticate and decrypt only every n-th RTP packet (and every video frame
    /// start, for keyframe detection); read the others' sequence numbers from the clear
    /// header. Lets one core play many more viewers.
    pub lite: Option<NonZeroU32>,
    /// Consent freshness checks once connected (RFC 7675 asks for about 5 s, randomized).
    pub consent_interval: Duration,
    /// Without a consent response for this long, the session counts as lost (RFC 7675: 30 s).
    pub consent_timeout: Duration,
    /// Receiver reports for what we receive, every this often.
    pub report_interval: Duration,
}

impl PeerConfig {
    /// Browser-like timings, host candidates left out, every packet verified.
    pub fn new(certificate: Arc<Certificate>, dtls: DtlsConfig) -> Self {
        Self {
            certificate,
            dtls,
            host_candidates: Vec::new(),
            lite: None,
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            report_interval: Duration::from_secs(1),
        }
    }
}

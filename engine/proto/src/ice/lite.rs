//! One session's ICE-lite agent: answers checks, tracks verified and selected addresses.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::check::{CheckVerifier, Inbound};
use super::consent::Consent;
use super::credentials::IceCredentials;
use super::error::IceError;
use crate::prefetch::prefetch;
use crate::shard::Transmit;

/// How many verified addresses one session remembers. A browser checks from a handful of
/// candidates; the least recently checked one is forgotten first.
const MAX_VERIFIED: usize = 8;

/// Nominations this close together belong to one round of checks (aggressive nomination
/// nominates every pair that works): the highest-priority pair among them wins, as RFC 8445
/// 8.1.1 asks. A nomination later than this is the controlling agent moving to another pair,
/// and media follows it whatever its priority.
const NOMINATION_ROUND: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceConfig {
    /// Consent lasts this long after the last authentic check (RFC 7675 uses 30 s).
    pub consent_timeout: Duration,
}

impl Default for IceConfig {
    fn default() -> Self {
        Self {
            consent_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceEvent {
    /// Media and DTLS now go to this address.
    Selected(SocketAddr),
    /// The peer stopped checking; the session must end. Emitted once.
    ConsentExpired,
}

/// A USE-CANDIDATE check that selected its source.
#[derive(Debug, Clone, Copy)]
struct Nomination {
    source: SocketAddr,
    priority: u32,
    at: Instant,
}

pub struct IceLite {
    local: IceCredentials,
    verifier: CheckVerifier,
    consent: Consent,
    /// Addresses that sent an authentic check, least recently checked first.
    verified: VecDeque<SocketAddr>,
    /// The nominated pair media goes to, if any.
    nominated: Option<Nomination>,
    /// The selection last reported through [`IceEvent::Selected`].
    reported: Option<SocketAddr>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<IceEvent>,
}

impl IceLite {
    pub fn new(local: IceCredentials, remote_ufrag: String, now: Instant) -> Self {
        Self::with_config(local, remote_ufrag, IceConfig::default(), now)
    }

    pub fn with_config(
        local: IceCredentials,
        remote_ufrag: String,
        config: IceConfig,
        now: Instant,
    ) -> Self {
        let verifier = CheckVerifier::new(&local.ufrag, &local.pwd, &remote_ufrag);
        Self {
            local,
            verifier,
            consent: Consent::new(now, config.consent_timeout),
            verified: VecDeque::with_capacity(MAX_VERIFIED),
            nominated: None,
            reported: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// A STUN datagram from `source`. An error means it was refused and nothing changed
    /// (apart from noticing an expiry that was already due).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), IceError> {
        self.handle_timeout(now);
        if self.consent.is_expired() {
            return Err(IceError::ConsentExpired);
        }
        let (transaction_id, use_candidate, priority) = match self.verifier.verify(datagram)? {
            Inbound::Check {
                transaction_id,
                use_candidate,
                priority,
            } => (transaction_id, use_candidate, priority),
            Inbound::Indication => return Ok(()),
        };
        // Build the answer first so that a failure leaves the state untouched.
        let response = self.verifier.success_response(transaction_id, source)?;
        self.transmits.push_back(Transmit {
            source: None,
            destination: source,
            contents: response,
        });
        self.consent.refresh(now);
        self.mark_verified(source);
        if use_candidate {
            self.nominate(now, source, priority);
        }
        self.report_selection();
        Ok(())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.consent.expire_if_due(now) {
            self.events.push_back(IceEvent::ConsentExpired);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When consent expires unless a check arrives first; `None` once it has.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.consent.expires_at()
    }

    /// Where media goes: the nominated address, or, while nothing is nominated (some peers
    /// never nominate), the most recently verified one.
    pub fn selected(&self) -> Option<SocketAddr> {
        self.nominated
            .map(|nomination| nomination.source)
            .or_else(|| self.verified.back().copied())
    }

    /// Starts loading what [`Self::selected`] reads.
    pub fn prefetch_selected(&self) {
        prefetch(&self.nominated);
        prefetch(&self.verified);
    }

    /// Media and DTLS are only sent to, and accepted from, verified addresses.
    pub fn is_verified(&self, addr: SocketAddr) -> bool {
        self.verified.contains(&addr)
    }

    pub fn local_credentials(&self) -> &IceCredentials {
        &self.local
    }

    /// A USE-CANDIDATE check from `source`: within a round of nominations the highest
    /// priority pair keeps the selection; after it, the latest nomination takes it.
    fn nominate(&mut self, now: Instant, source: SocketAddr, priority: u32) {
        let takes_over = match self.nominated {
            None => true,
            // Nominated again: the round still counts from its first nomination.
            Some(current) if current.source == source => false,
            Some(current) => {
                priority > current.priority
                    || now.saturating_duration_since(current.at) >= NOMINATION_ROUND
            }
        };
        if takes_over {
            self.nominated = Some(Nomination {
                source,
                priority,
                at: now,
            });
        }
    }

    fn mark_verified(&mut self, source: SocketAddr) {
        self.verified.retain(|addr| *addr != source);
        self.verified.push_back(source);
        if self.verified.len() > MAX_VERIFIED {
            // Forget the stalest address, but never the nominated one.
            let nominated = self.nominated.map(|nomination| nomination.source);
            if let Some(stalest) = self
                .verified
                .iter()
                .position(|addr| Some(*addr) != nominated)
            {
                self.verified.remove(stalest);
            }
        }
    }

    fn report_selection(&mut self) {
        let selected = self.selected();
        if selected != self.reported {
            self.reported = selected;
            if let Some(addr) = selected {
                self.events.push_back(IceEvent::Selected(addr));
            }
        }
    }
}

//! ICE as the controlling agent (RFC 8445) with aggressive nomination, then consent freshness
//! (RFC 7675).
//!
//! We check every remote candidate at once with USE-CANDIDATE set, so the first pair that
//! answers is both valid and nominated, as browsers did before regular nomination: a lite
//! server nominates what we nominate, a full one accepts it. We do not gather: a datagram
//! leaves from whatever socket the driver owns, and the server learns that address from our
//! checks as a peer-reflexive candidate.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stun_rs::TransactionId;

use super::stun::{CheckRequest, Inbound, success_response, verify};

/// First retransmission timeout of a check; doubles after each send (RFC 8489 6.2.1).
const INITIAL_RTO: Duration = Duration::from_millis(250);
/// Longest wait between two sends of one check.
const MAX_RTO: Duration = Duration::from_secs(3);
/// Sends of one check before its pair counts as failed (Rc in RFC 8489 6.2.1).
const MAX_SENDS: u32 = 7;
/// PRIORITY of the peer-reflexive candidate our checks create (RFC 8445 5.1.2.1, type
/// preference 110, highest local preference, component 1).
const PEER_REFLEXIVE_PRIORITY: u32 = (110 << 24) | (65535 << 8) | 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceEvent {
    /// A nominated pair answered: media goes to this address.
    Selected(SocketAddr),
    /// Every candidate failed to answer.
    Failed,
    /// The selected pair stopped answering consent checks.
    ConsentLost,
}

pub struct IceTimings {
    pub consent_interval: Duration,
    pub consent_timeout: Duration,
}

/// One check in flight.
struct Transaction {
    id: TransactionId,
    destination: SocketAddr,
    sends: u32,
    rto: Duration,
    next_send: Instant,
}

pub struct ControllingIce {
    /// USERNAME of our checks: "<remote ufrag>:<local ufrag>".
    outbound_username: String,
    /// USERNAME the server's checks must carry: "<local ufrag>:<remote ufrag>".
    inbound_username: String,
    remote_pwd: String,
    local_pwd: String,
    tie_breaker: u64,
    timings: IceTimings,
    rng: StdRng,
    checks: Vec<Transaction>,
    /// The server's candidates, all checked with USE-CANDIDATE.
    candidates: Vec<SocketAddr>,
    selected: Option<SocketAddr>,
    consent: Option<Transaction>,
    next_consent: Option<Instant>,
    last_consent: Instant,
    done: bool,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<IceEvent>,
}

pub struct IceParameters<'a> {
    pub local_ufrag: &'a str,
    pub local_pwd: &'a str,
    pub remote_ufrag: &'a str,
    pub remote_pwd: &'a str,
    pub candidates: &'a [SocketAddr],
}

impl ControllingIce {
    /// Starts checking every candidate at `now`.
    pub fn new(
        parameters: &IceParameters<'_>,
        timings: IceTimings,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let checks = parameters
            .candidates
            .iter()
            .map(|&destination| Transaction::new(&mut rng, destination, now))
            .collect();
        Self {
            outbound_username: format!("{}:{}", parameters.remote_ufrag, parameters.local_ufrag),
            inbound_username: format!("{}:{}", parameters.local_ufrag, parameters.remote_ufrag),
            remote_pwd: parameters.remote_pwd.to_owned(),
            local_pwd: parameters.local_pwd.to_owned(),
            tie_breaker: rng.random(),
            timings,
            rng,
            checks,
            candidates: parameters.candidates.to_vec(),
            selected: None,
            consent: None,
            next_consent: None,
            last_consent: now,
            done: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn selected(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// The server sent from `source`, one of its candidates, after we selected another. Every
    /// check carried USE-CANDIDATE, so each pair that answered is nominated on its side, and
    /// a lite server sends on the one it saw nominated last: use that pair too, as a browser
    /// takes traffic on any valid pair. True when the selection moved.
    pub fn follow(&mut self, source: SocketAddr) -> bool {
        let moves = self.selected.is_some_and(|selected| selected != source)
            && self.candidates.contains(&source);
        if moves {
            self.selected = Some(source);
        }
        moves
    }

    /// Feeds one datagram whose first byte said STUN.
    pub fn handle_stun(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        if self.done {
            return;
        }
        let inbound = verify(
            datagram,
            &self.remote_pwd,
            &self.local_pwd,
            &self.inbound_username,
        );
        match inbound {
            Some(Inbound::Request { transaction_id }) => {
                if let Some(response) = success_response(transaction_id, source, &self.local_pwd) {
                    self.transmits.push_back((source, response));
                }
            }
            Some(Inbound::Response {
                transaction_id,
                success,
            }) => self.on_response(now, source, transaction_id, success),
            None => {}
        }
    }

    fn on_response(&mut self, now: Instant, source: SocketAddr, id: TransactionId, success: bool) {
        // A response counts only from where the request went (RFC 8445 7.2.5.2.1).
        let matches = |t: &Transaction| t.id == id && t.destination == source;
        if self.consent.as_ref().is_some_and(matches) {
            self.consent = None;
            if success {
                self.last_consent = now;
            }
            return;
        }
        let Some(index) = self.checks.iter().position(matches) else {
            return;
        };
        if !success {
            // An error (a role conflict, a stale ufrag) will not change by resending.
            self.checks.swap_remove(index);
            self.fail_if_nothing_left();
            return;
        }
        self.checks.clear();
        self.selected = Some(source);
        self.last_consent = now;
        self.next_consent = Some(now + self.consent_spacing());
        self.events.push_back(IceEvent::Selected(source));
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        // The last send's timeout ran out without an answer: that pair failed.
        self.checks
            .retain(|t| t.sends < MAX_SENDS || t.next_send > now);
        for index in 0..self.checks.len() {
            if self.checks[index].next_send <= now {
                self.send_check(index, now);
            }
        }
        self.fail_if_nothing_left();
        self.refresh_consent(now);
    }

    fn send_check(&mut self, index: usize, now: Instant) {
        let Some(check) = self.checks.get_mut(index) else {
            return;
        };
        let request = CheckRequest {
            transaction_id: check.id,
            username: &self.outbound_username,
            remote_pwd: &self.remote_pwd,
            priority: PEER_REFLEXIVE_PRIORITY,
            tie_breaker: self.tie_breaker,
            use_candidate: true,
        };
        if let Some(datagram) = request.encode() {
            self.transmits.push_back((check.destination, datagram));
        }
        check.sent(now);
    }

    fn refresh_consent(&mut self, now: Instant) {
        let Some(selected) = self.selected else {
            return;
        };
        if now.saturating_duration_since(self.last_consent) >= self.timings.consent_timeout {
            self.done = true;
            self.events.push_back(IceEvent::ConsentLost);
            return;
        }
        if self.next_consent.is_none_or(|at| at > now) {
            return;
        }
        // Each consent check is a fresh transaction; an unanswered one is simply replaced.
        let mut check = Transaction::new(&mut self.rng, selected, now);
        let request = CheckRequest {
            transaction_id: check.id,
            username: &self.outbound_username,
            remote_pwd: &self.remote_pwd,
            priority: PEER_REFLEXIVE_PRIORITY,
            tie_breaker: self.tie_breaker,
            use_candidate: false,
        };
        if let Some(datagram) = request.encode() {
            self.transmits.push_back((selected, datagram));
        }
        check.sent(now);
        self.consent = Some(check);
        self.next_consent = Some(now + self.consent_spacing());
    }

    fn fail_if_nothing_left(&mut self) {
        if self.selected.is_none() && self.checks.is_empty() && !self.done {
            self.done = true;
            self.events.push_back(IceEvent::Failed);
        }
    }

    /// RFC 7675 section 5.1: randomize each interval to 0.8-1.2 of the nominal one, so
    /// thousands of peers started together do not check in lockstep.
    fn consent_spacing(&mut self) -> Duration {
        self.timings
            .consent_interval
            .mul_f64(self.rng.random_range(0.8..1.2))
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        let consent_deadline = self
            .selected
            .map(|_| self.last_consent + self.timings.consent_timeout);
        self.checks
            .iter()
            .map(|t| t.next_send)
            .chain(self.next_consent)
            .chain(consent_deadline)
            .min()
    }
}

impl Transaction {
    fn new(rng: &mut StdRng, destination: SocketAddr, now: Instant) -> Self {
        Self {
            id: TransactionId::from(rng.random::<[u8; 12]>()),
            destination,
            sends: 0,
            rto: INITIAL_RTO,
            next_send: now,
        }
    }

    fn sent(&mut self, now: Instant) {
        self.sends += 1;
        self.next_send = now + self.rto;
        self.rto = (self.rto * 2).min(MAX_RTO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(candidates: &[SocketAddr], now: Instant) -> ControllingIce {
        let parameters = IceParameters {
            local_ufrag: "local",
            local_pwd: "localpassword0123456789",
            remote_ufrag: "remote",
            remote_pwd: "remotepassword012345678",
            candidates,
        };
        let timings = IceTimings {
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
        };
        ControllingIce::new(&parameters, timings, 3, now)
    }

    #[test]
    fn follows_the_server_only_to_another_of_its_candidates_and_only_once_selected() {
        let now = Instant::now();
        let first: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let second: SocketAddr = "10.78.0.1:5000".parse().unwrap();
        let stranger: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let mut ice = agent(&[first, second], now);
        assert!(!ice.follow(second), "nothing selected yet");
        ice.selected = Some(first);
        assert!(!ice.follow(stranger));
        assert!(!ice.follow(first));
        assert_eq!(ice.selected(), Some(first));
        assert!(ice.follow(second));
        assert_eq!(ice.selected(), Some(second));
    }
}

//! The signaling thread: posts one WHEP offer after another at the ramp rate (blocking
//! HTTP), accepts each answer and hands the viewer to a worker; failures are counted per
//! viewer, never fatal.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use shardcast_control::Role;

use crate::peer::{ClientPeer, PeerConfig, PeerError};
use crate::whip_client::{ClientTls, WhipError, delete_session, post_offer};

use super::live::LiveCounters;
use super::net::bind_like;
use super::viewer::NewViewer;
use super::wake::EventFd;

/// The longest wait for one HTTP exchange.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a sleep before the next post looks at `stopping`.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Why one viewer could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("cannot bind a UDP socket: {0}")]
    Bind(#[source] io::Error),
    #[error("WHEP offer refused: {0}")]
    Post(#[source] WhipError),
    #[error("the WHEP answer cannot be used: {0}")]
    Answer(#[source] PeerError),
}

/// When each viewer's offer is posted.
#[derive(Debug, Clone, Copy)]
pub struct Ramp {
    pub start: Instant,
    pub per_second: f64,
}

impl Ramp {
    pub fn post_time(&self, index: usize) -> Instant {
        self.start + Duration::from_secs_f64(index as f64 / self.per_second)
    }

    /// When the last of `viewers` is posted: the end of the ramp.
    pub fn end(&self, viewers: usize) -> Instant {
        self.post_time(viewers.saturating_sub(1))
    }
}

/// A worker's inbox.
pub struct WorkerInbox {
    pub sender: Sender<NewViewer>,
    pub waker: Arc<EventFd>,
}

pub struct JoinPlan {
    pub whep_url: String,
    pub token: Option<String>,
    pub tls: ClientTls,
    pub viewers: usize,
    pub ramp: Ramp,
    pub peer_config: PeerConfig,
    /// The address to offer as a host candidate, when offers carry one.
    pub candidate_ip: Option<IpAddr>,
    pub seed: u64,
    pub workers: Vec<WorkerInbox>,
    pub stopping: Arc<AtomicBool>,
    /// Counts offers posted and refused, for the progress display.
    pub live: Arc<LiveCounters>,
}

/// What the signaling thread did.
#[derive(Debug, Default)]
pub struct JoinOutcome {
    pub first_failure: Option<String>,
    /// The resource URL of every session created, to DELETE at the end.
    pub sessions: Vec<String>,
}

/// Posts every viewer at its time, or until `stopping`.
pub fn run(plan: &JoinPlan) -> JoinOutcome {
    let mut outcome = JoinOutcome::default();
    for index in 0..plan.viewers {
        if !sleep_until(plan.ramp.post_time(index), &plan.stopping) {
            break;
        }
        plan.live.on_posted();
        if let Err(error) = join(plan, index, &mut outcome.sessions) {
            plan.live.on_refused();
            outcome
                .first_failure
                .get_or_insert_with(|| format!("viewer {index}: {error}"));
        }
    }
    outcome
}

fn join(plan: &JoinPlan, index: usize, sessions: &mut Vec<String>) -> Result<(), JoinError> {
    let posted = Instant::now();
    let mut config = plan.peer_config.clone();
    let early_socket = match plan.candidate_ip {
        Some(ip) => {
            let socket = bind_like(ip).map_err(JoinError::Bind)?;
            let port = socket.local_addr().map_err(JoinError::Bind)?.port();
            config.host_candidates = vec![SocketAddr::new(ip, port)];
            Some(socket)
        }
        None => None,
    };
    let seed = plan.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut peer = ClientPeer::new(Role::Play, &config, seed, posted);
    let token = plan.token.as_deref();
    let negotiated = post_offer(
        &plan.whep_url,
        token,
        peer.offer_sdp(),
        HTTP_TIMEOUT,
        &plan.tls,
    )
    .map_err(JoinError::Post)?;
    sessions.push(negotiated.resource_url);
    peer.accept_answer(Instant::now(), &negotiated.answer_sdp)
        .map_err(JoinError::Answer)?;
    let socket = match early_socket {
        Some(socket) => socket,
        None => bind_for_answer(&peer)?,
    };
    let inbox = &plan.workers[index % plan.workers.len()];
    let new = NewViewer {
        peer,
        socket,
        posted,
    };
    // A worker that is gone has stopped: the run is ending, so the viewer is not missed.
    if inbox.sender.send(new).is_ok() {
        inbox.waker.wake();
    }
    Ok(())
}

/// A socket of the family of the server's best candidate.
fn bind_for_answer(peer: &ClientPeer) -> Result<UdpSocket, JoinError> {
    let first = peer
        .remote()
        .and_then(|remote| remote.candidates.first())
        .ok_or(JoinError::Answer(PeerError::NoCandidate))?;
    bind_like(first.ip()).map_err(JoinError::Bind)
}

/// Sleeps until `at`; false when `stopping` was set first.
pub fn sleep_until(at: Instant, stopping: &AtomicBool) -> bool {
    loop {
        if stopping.load(Ordering::Acquire) {
            return false;
        }
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(STOP_CHECK));
    }
}

/// Ends every session. A failure is not the run's: a server also ends a session whose
/// viewer went silent, so the rest are still tried and the measurements stand.
pub fn delete_all(sessions: &[String], token: Option<&str>, tls: &ClientTls) {
    for session in sessions {
        let _ended = delete_session(session, token, HTTP_TIMEOUT, tls);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_spaces_posts_evenly_and_ends_at_the_last() {
        let start = Instant::now();
        let ramp = Ramp {
            start,
            per_second: 4.0,
        };
        assert_eq!(ramp.post_time(0), start);
        assert_eq!(ramp.post_time(2), start + Duration::from_millis(500));
        assert_eq!(ramp.end(5), start + Duration::from_secs(1));
        assert_eq!(ramp.end(0), start);
    }

    #[test]
    fn sleep_returns_early_when_stopping() {
        let stopping = AtomicBool::new(true);
        assert!(!sleep_until(
            Instant::now() + Duration::from_secs(60),
            &stopping
        ));
        stopping.store(false, Ordering::Release);
        assert!(sleep_until(Instant::now(), &stopping));
    }
}

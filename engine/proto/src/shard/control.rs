//! Control requests from signaling: create and delete sessions, report the shard's figures.

use std::time::Instant;

use rand::Rng;
use shardcast_control::{
    ErrorKind, MediaAnswer, Request, Response, Role, SessionAnswer, SessionRequest, shard_for,
};
use tracing::{info, warn};

use super::ShardCore;
use crate::ice::IceCredentials;
use crate::router::{SessionKey, ShardMessage};
use crate::session::{CloseReason, Session, SessionSetup};

fn error(kind: ErrorKind, reason: impl Into<String>) -> Response {
    Response::Error {
        kind,
        reason: reason.into(),
    }
}

impl ShardCore {
    /// A request from signaling; the answer goes straight back.
    pub fn handle_control(&mut self, now: Instant, request: Request) -> Response {
        self.advance(now);
        match request {
            Request::CreateSession(request) => self.create_session(now, request),
            Request::DeleteSession { session } => match self.by_id.get(&session).copied() {
                Some(key) => {
                    if let Some(session) = self.sessions.get_mut(&key) {
                        session.close(CloseReason::Deleted);
                    }
                    self.after_session(now, key);
                    Response::Ok
                }
                None => error(ErrorKind::NotFound, format!("no session {session}")),
            },
            Request::AddCandidates {
                session,
                candidates,
            } => {
                if !self.by_id.contains_key(&session) {
                    return error(ErrorKind::NotFound, format!("no session {session}"));
                }
                // ICE-lite learns the peer's addresses from its checks (peer-reflexive
                // included), so trickled candidates are only worth a log line.
                info!(%session, count = candidates.len(), "trickled candidates");
                Response::Ok
            }
            Request::Stats => Response::Stats(self.stats()),
        }
    }

    fn create_session(&mut self, now: Instant, request: SessionRequest) -> Response {
        if let Err(reason) = self.validate(&request) {
            warn!(session = %request.session, %reason, "session refused");
            return error(ErrorKind::BadRequest, reason);
        }
        let key = SessionKey(self.next_key);
        self.next_key += 1;
        let credentials = IceCredentials::random(&mut self.rng);
        let ssrcs: Vec<u32> = match request.role {
            Role::Play => request.media.iter().map(|_| self.random_ssrc()).collect(),
            Role::Publish => Vec::new(),
        };
        // A viewer that negotiated RTX for a section gets its resends in a stream of their own.
        let rtx_ssrcs: Vec<Option<u32>> = match request.role {
            Role::Play => request
                .media
                .iter()
                .map(|section| {
                    let rtx = section.codecs.iter().any(|c| c.rtx_payload_type.is_some());
                    rtx.then(|| self.random_ssrc())
                })
                .collect(),
            Role::Publish => Vec::new(),
        };
        self.next_source += 1;
        let source = ((self.config.index as u64) << 48) | self.next_source;
        let cname = format!("shardcast-{:08x}", self.rng.random::<u32>());
        let local_ssrc = self.random_ssrc();
        let (first_seq, first_ts, first_rtx_seq) =
            (self.rng.random(), self.rng.random(), self.rng.random());
        let setup = SessionSetup {
            certificate: &self.config.certificate,
            dtls: &self.config.dtls,
            credentials: credentials.clone(),
            ssrcs: ssrcs.clone(),
            rtx_ssrcs: rtx_ssrcs.clone(),
            source,
            local_ssrc,
            first_seq,
            first_ts,
            first_rtx_seq,
            cname: cname.clone(),
            wall_clock: self.config.wall_clock,
            keyframe_interval: self.config.keyframe_interval,
            report_ticks: self.probe.slots(),
        };
        let session = match Session::new(&request, setup, now) {
            Ok(session) => session,
            Err(reason) => return error(ErrorKind::BadRequest, reason.to_string()),
        };
        let answer = SessionAnswer {
            session: request.session.clone(),
            ice_ufrag: credentials.ufrag.clone(),
            ice_pwd: credentials.pwd.clone(),
            fingerprint: self.config.certificate.fingerprint().clone(),
            candidates: self.config.candidates.clone(),
            media: request
                .media
                .iter()
                .enumerate()
                .map(|(i, section)| MediaAnswer {
                    mid: section.mid.clone(),
                    ssrc: ssrcs.get(i).copied(),
                    rtx_ssrc: rtx_ssrcs.get(i).copied().flatten(),
                })
                .collect(),
            cname,
        };

        self.by_id.insert(request.session.clone(), key);
        self.by_ufrag.insert(credentials.ufrag, key);
        self.timers.set(key, session.poll_timeout());
        self.sessions.insert(key, Box::new(session));
        self.counters.sessions_created += 1;
        match request.role {
            Role::Publish => {
                if let Some(old) = self.streams.set_publisher(&request.stream, key) {
                    info!(stream = %request.stream, "new publisher replaces the old one");
                    if let Some(session) = self.sessions.get_mut(&old) {
                        session.close(CloseReason::Replaced);
                    }
                    self.after_session(now, old);
                }
            }
            Role::Play => {
                let (stream, first) = self.streams.add_viewer(&request.stream, key);
                let home = self.home_of(&stream);
                if first && home != self.config.index {
                    self.messages.push_back((
                        home,
                        ShardMessage::Subscribe {
                            stream: stream.clone(),
                        },
                    ));
                }
                let clocks = self
                    .streams
                    .get(&stream)
                    .map(|route| route.clocks.clone())
                    .unwrap_or_default();
                if let Some(session) = self.sessions.get_mut(&key) {
                    for clock in clocks {
                        session.set_clock(clock);
                    }
                }
            }
        }
        info!(
            session = %request.session,
            stream = %request.stream,
            role = ?request.role,
            shard = self.config.index,
            "session created"
        );
        Response::Session(answer)
    }

    fn validate(&self, request: &SessionRequest) -> Result<(), String> {
        if self.by_id.contains_key(&request.session) {
            return Err(format!("session {} already exists", request.session));
        }
        let expected = match request.role {
            Role::Publish => shard_for(&request.stream, self.config.shards),
            Role::Play => shard_for(&request.session, self.config.shards),
        };
        if expected != self.config.index {
            return Err(format!(
                "session belongs on shard {expected}, not {}",
                self.config.index
            ));
        }
        if request.media.is_empty() {
            return Err("no media sections".into());
        }
        for section in &request.media {
            if section.codecs.is_empty() {
                return Err(format!("media section {} has no codec", section.mid));
            }
            for codec in &section.codecs {
                let bad = |pt: u8| pt > 127 || (64..=95).contains(&pt);
                if bad(codec.payload_type) || codec.rtx_payload_type.is_some_and(bad) {
                    return Err(format!(
                        "payload type {} cannot be used with RTCP multiplexing",
                        codec.payload_type
                    ));
                }
                if codec.clock_rate == 0 {
                    return Err(format!("codec {:?} has clock rate 0", codec.name));
                }
            }
            if let Some(ext) = section.extensions.iter().find(|e| e.id == 0) {
                return Err(format!("header extension id 0 for {}", ext.uri));
            }
        }
        Ok(())
    }

    fn random_ssrc(&mut self) -> u32 {
        loop {
            let ssrc: u32 = self.rng.random();
            if ssrc != 0 {
                return ssrc;
            }
        }
    }
}

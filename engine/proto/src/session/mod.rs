//! One peer: a publisher or a viewer, with its ICE, DTLS and SRTP state and its media.
//!
//! Input arrives through `handle_receive` (one datagram, already known to be this
//! session's) and `handle_timeout`; the session answers through `poll_transmit` and
//! reports what the shard must act on through `poll_event`. A viewer's media goes out when the
//! shard's fan-out gets to it: `write_media_onto` rewrites it straight onto the end of the
//! caller's send buffer and encrypts it there.

mod feedback;
#[cfg(test)]
mod keyframe_request_tests;
mod media;
mod retransmit;
mod rtp;
mod transport_feedback;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shardcast_control::{LayerPreference, Role, SessionRequest};
use tracing::{debug, info};

pub use media::{DEFAULT_KEYFRAME_INTERVAL, SessionMedia};

use crate::clock::WallClock;
use crate::demux::{DatagramKind, classify, is_rtcp};
use crate::dtls::{Certificate, DtlsConfig, DtlsError, DtlsEvent, DtlsTransport};
use crate::egress::LayerSwitches;
use crate::ice::{IceCredentials, IceEvent, IceLite};
use crate::media::MediaPacket;
use crate::router::SenderClock;
use crate::shard::Transmit;
use crate::srtp::SrtpSession;
use crate::timer::TickGrid;

/// How often we send RTCP reports (RFC 3550 allows 5 s; browsers report every ~1 s and
/// use ours for RTT and loss estimates). Each one falls due on the shard's next tick after
/// the interval, up to a tick late, so the shard's sessions report together.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Peer addresses whose local counterpart we remember (one per candidate pair tried).
const MAX_LOCALS: usize = 8;

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    ConsentExpired,
    DtlsFailed(String),
    DtlsClosed,
    Deleted,
    Replaced,
}

/// What the shard must act on.
#[derive(Debug)]
pub enum SessionEvent {
    /// This peer now sends from / receives at this address: route its datagrams here.
    AddressVerified(SocketAddr),
    /// DTLS finished and SRTP keys are in place.
    Connected,
    /// A publisher's media packet to route.
    Media(MediaPacket),
    /// A publisher's clock mapping for one track.
    SenderClock(SenderClock),
    /// A viewer needs a keyframe of this simulcast layer (0 without simulcast).
    KeyframeRequest {
        layer: u8,
    },
    /// A viewer has retransmissions the pace lets go now: the shard should poll
    /// [`Session::write_retransmission`].
    RetransmitReady,
    Closed(CloseReason),
}

/// Counters for what the session threw away.
#[derive(Debug, Default, Clone, Copy)]
pub struct SessionDrops {
    pub unverified_source: u64,
    pub stun: u64,
    pub srtp: u64,
    pub rtcp: u64,
    pub media: u64,
}

pub struct Session {
    id: String,
    stream: Arc<str>,
    ice: IceLite,
    dtls: DtlsTransport,
    srtp: Option<SrtpSession>,
    media: SessionMedia,
    verified: Vec<SocketAddr>,
    /// (peer address, our address it sends to).
    locals: Vec<(SocketAddr, IpAddr)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SessionEvent>,
    next_report: Option<Instant>,
    report_ticks: TickGrid,
    closed: bool,
    drops: SessionDrops,
    wall_clock: WallClock,
    /// Reused for each retransmission before encryption.
    plaintext: Vec<u8>,
}

/// What a session is made from, besides the request.
pub struct SessionSetup<'a> {
    pub certificate: &'a Certificate,
    pub dtls: &'a DtlsConfig,
    pub credentials: IceCredentials,
    /// For viewers: the SSRC of each media section.
    pub ssrcs: Vec<u32>,
    /// For viewers: the RTX SSRC of each media section that negotiated RTX.
    pub rtx_ssrcs: Vec<Option<u32>>,
    /// For publishers: this publishing's source id.
    pub source: u64,
    /// Our SSRC in RTCP we send as a receiver, and the start of viewers' sequence numbers and
    /// timestamps.
    pub local_ssrc: u32,
    pub first_seq: u16,
    pub first_ts: u32,
    /// The start of viewers' RTX sequence numbers.
    pub first_rtx_seq: u16,
    pub cname: String,
    pub wall_clock: WallClock,
    /// The shortest time between two keyframe requests to a publisher.
    pub keyframe_interval: Duration,
    /// The shard's grid that RTCP reports fall due on.
    pub report_ticks: TickGrid,
}

impl Session {
    /// Fails when the offer's fingerprint uses a hash we cannot check.
    pub fn new(
        request: &SessionRequest,
        setup: SessionSetup<'_>,
        now: Instant,
    ) -> Result<Self, DtlsError> {
        let dtls = DtlsTransport::new(
            setup.dtls,
            setup.certificate,
            request.dtls_role,
            request.remote_fingerprint.clone(),
            now,
        )?;
        let media = match request.role {
            Role::Publish => SessionMedia::publisher(
                &request.media,
                setup.source,
                setup.local_ssrc,
                setup.keyframe_interval,
            ),
            Role::Play => SessionMedia::viewer(
                &request.media,
                request.layer.unwrap_or(LayerPreference::High),
                &setup,
            ),
        };
        let ice = IceLite::new(setup.credentials, request.remote_ufrag.clone(), now);
        Ok(Self {
            id: request.session.clone(),
            stream: Arc::from(request.stream.as_str()),
            ice,
            dtls,
            srtp: None,
            media,
            verified: Vec::new(),
            locals: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_report: None,
            report_ticks: setup.report_ticks,
            closed: false,
            drops: SessionDrops::default(),
            wall_clock: setup.wall_clock,
            plaintext: vec![0; 1500],
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn stream(&self) -> &Arc<str> {
        &self.stream
    }

    /// The simulcast layer a viewer's video wants keyframes of (0 for publishers).
    pub fn wanted_layer(&self) -> u8 {
        match &self.media {
            SessionMedia::Viewer(viewer) => viewer.egress.wanted_layer(),
            SessionMedia::Publisher(_) => 0,
        }
    }

    /// A viewer's simulcast layer: the one its video forwards (None while it waits for a
    /// keyframe, and for publishers), and the switches it made.
    pub fn viewer_layer(&self) -> Option<(Option<u8>, LayerSwitches)> {
        match &self.media {
            SessionMedia::Viewer(viewer) => Some((
                viewer.egress.forwarded_layer(),
                viewer.egress.layer_switches(),
            )),
            SessionMedia::Publisher(_) => None,
        }
    }

    pub fn is_publisher(&self) -> bool {
        matches!(self.media, SessionMedia::Publisher(_))
    }

    pub fn is_connected(&self) -> bool {
        self.srtp.is_some() && !self.closed
    }

    pub fn ice_ufrag(&self) -> &str {
        &self.ice.local_credentials().ufrag
    }

    pub fn addresses(&self) -> &[SocketAddr] {
        &self.verified
    }

    pub fn drops(&self) -> SessionDrops {
        self.drops
    }

    /// One datagram from `source`, sent to our address `local` when known. An SRTP packet is
    /// decrypted into `media_buffer`, which a publisher's packet then takes (leaving it empty)
    /// for its [`SessionEvent::Media`]: the caller recycles buffers instead of this allocating.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: Option<IpAddr>,
        datagram: &[u8],
        media_buffer: &mut Vec<u8>,
    ) {
        if self.closed {
            return;
        }
        if let Some(local) = local {
            self.note_local(source, local);
        }
        match classify(datagram) {
            DatagramKind::Stun => self.handle_stun(now, source, datagram),
            DatagramKind::Dtls if self.ice.is_verified(source) => {
                let result = self.dtls.handle_receive(now, datagram);
                self.after_dtls(now, result);
            }
            DatagramKind::Rtp if self.ice.is_verified(source) => {
                if is_rtcp(datagram) {
                    self.handle_srtcp(now, datagram);
                } else {
                    self.handle_srtp(now, datagram, media_buffer);
                }
            }
            _ => self.drops.unverified_source += 1,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.ice.handle_timeout(now);
        self.drain_ice();
        if self.closed {
            return;
        }
        let result = self.dtls.handle_timeout(now);
        self.after_dtls(now, result);
        if self.next_report.is_some_and(|at| at <= now) {
            self.next_report = Some(self.report_ticks.at_or_after(now + REPORT_INTERVAL));
            self.send_reports(now);
        }
        self.media_timeout(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [
            self.ice.poll_timeout(),
            self.dtls.poll_timeout(),
            self.next_report,
            self.media_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(transmit) = self.ice.poll_transmit() {
            return Some(self.sent_from_local(transmit));
        }
        if let Some(destination) = self.ice.selected()
            && let Some(contents) = self.dtls.poll_transmit()
        {
            return Some(self.sent_from_local(Transmit {
                destination,
                source: None,
                contents,
            }));
        }
        let transmit = self.transmits.pop_front()?;
        Some(self.sent_from_local(transmit))
    }

    /// Sends from the local address the peer reached us at.
    fn sent_from_local(&self, mut transmit: Transmit) -> Transmit {
        transmit.source = self.local_for(transmit.destination);
        transmit
    }

    fn local_for(&self, destination: SocketAddr) -> Option<IpAddr> {
        self.locals
            .iter()
            .find(|(remote, _)| *remote == destination)
            .map(|&(_, local)| local)
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Ends the session (DELETE, replacement); it sends close_notify if it can.
    pub fn close(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        self.dtls.close();
        if let Some(destination) = self.ice.selected() {
            while let Some(contents) = self.dtls.poll_transmit() {
                self.transmits.push_back(Transmit {
                    destination,
                    source: None,
                    contents,
                });
            }
        }
        self.closed = true;
        info!(session = %self.id, stream = %self.stream, ?reason, "session closed");
        self.events.push_back(SessionEvent::Closed(reason));
    }

    /// Remembers which of our addresses `remote` talks to (a few entries per session).
    fn note_local(&mut self, remote: SocketAddr, local: IpAddr) {
        if let Some(entry) = self.locals.iter_mut().find(|(r, _)| *r == remote) {
            entry.1 = local;
        } else if self.locals.len() < MAX_LOCALS {
            self.locals.push((remote, local));
        }
    }

    fn handle_stun(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        if let Err(error) = self.ice.handle_receive(now, source, datagram) {
            self.drops.stun += 1;
            debug!(session = %self.id, %source, %error, "STUN dropped");
            return;
        }
        if self.ice.is_verified(source) && !self.verified.contains(&source) {
            self.verified.push(source);
            self.events.push_back(SessionEvent::AddressVerified(source));
        }
        self.drain_ice();
    }

    fn drain_ice(&mut self) {
        while let Some(event) = self.ice.poll_event() {
            match event {
                IceEvent::Selected(address) => {
                    debug!(session = %self.id, %address, "ICE selected");
                }
                IceEvent::ConsentExpired => self.close(CloseReason::ConsentExpired),
            }
        }
    }

    fn after_dtls(&mut self, now: Instant, result: Result<(), DtlsError>) {
        if let Err(error) = result {
            self.close(CloseReason::DtlsFailed(error.to_string()));
            return;
        }
        while let Some(event) = self.dtls.poll_event() {
            match event {
                DtlsEvent::Connected(keys) => match SrtpSession::new(&keys) {
                    Ok(srtp) => {
                        info!(session = %self.id, stream = %self.stream, "connected");
                        self.srtp = Some(srtp);
                        self.events.push_back(SessionEvent::Connected);
                        self.next_report =
                            Some(self.report_ticks.at_or_after(now + REPORT_INTERVAL));
                    }
                    Err(error) => self.close(CloseReason::DtlsFailed(error.to_string())),
                },
                DtlsEvent::Closed => self.close(CloseReason::DtlsClosed),
            }
        }
    }
}

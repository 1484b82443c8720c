//! One browser-like session against a WHIP/WHEP server: offer, answer, ICE, DTLS, SRTP.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use shardcast_control::Role;
use shardcast_proto::demux::{DatagramKind, classify, is_rtcp};
use shardcast_proto::dtls::{DtlsEvent, DtlsTransport};
use shardcast_proto::rtcp::{write_nack, write_pli, write_receiver_report, write_sdes_cname};
use shardcast_proto::rtp::{ExtensionKind, ExtensionMap, FIXED_HEADER_LEN, RtpHeader, write_rtp};
use shardcast_proto::srtp::SrtpSession;

use super::answer::RemoteDescription;
use super::ice::{ControllingIce, IceEvent, IceParameters, IceTimings};
use super::offer::LocalDescription;
use super::receive::MediaReceiver;
use super::{PeerConfig, PeerError, PeerEvent};

/// Room for the header extensions we write (mid and abs-capture-time) with their padding.
const EXTENSIONS_CAPACITY: usize = 32;

/// What the peer threw away, for the bench's error accounting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PeerCounters {
    /// Datagrams that arrived before they could be handled, or were not WebRTC at all.
    pub unexpected_datagrams: u64,
    /// SRTP/SRTCP packets that failed authentication or replay checks, or did not parse.
    pub undecryptable_packets: u64,
}

pub struct ClientPeer {
    config: PeerConfig,
    local: LocalDescription,
    offer: String,
    seed: u64,
    remote: Option<RemoteDescription>,
    ice: Option<ControllingIce>,
    dtls: Option<DtlsTransport>,
    srtp: Option<SrtpSession>,
    receiver: Option<MediaReceiver>,
    next_report: Option<Instant>,
    disconnected: bool,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<PeerEvent>,
    counters: PeerCounters,
}

impl ClientPeer {
    /// A peer with fresh credentials and SSRCs drawn from `seed`, and its offer written.
    pub fn new(role: Role, config: &PeerConfig, seed: u64, _now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let fingerprint = config.certificate.fingerprint().clone();
        let local = LocalDescription::generate(role, fingerprint, &mut rng);
        let offer = local.offer_sdp(&config.host_candidates);
        Self {
            config: config.clone(),
            local,
            offer,
            seed,
            remote: None,
            ice: None,
            dtls: None,
            srtp: None,
            receiver: None,
            next_report: None,
            disconnected: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: PeerCounters::default(),
        }
    }

    pub fn offer_sdp(&self) -> &str {
        &self.offer
    }

    pub fn local(&self) -> &LocalDescription {
        &self.local
    }

    pub fn remote(&self) -> Option<&RemoteDescription> {
        self.remote.as_ref()
    }

    pub fn counters(&self) -> PeerCounters {
        self.counters
    }

    /// True once SRTP is keyed and until the session is lost.
    pub fn is_connected(&self) -> bool {
        self.srtp.is_some() && !self.disconnected
    }

    /// Takes the server's answer and starts connectivity checks at `now`.
    pub fn accept_answer(&mut self, now: Instant, sdp: &str) -> Result<(), PeerError> {
        if self.remote.is_some() {
            return Err(PeerError::AnswerAlreadyAccepted);
        }
        let remote = RemoteDescription::parse(sdp)?;
        let parameters = IceParameters {
            local_ufrag: &self.local.credentials.ufrag,
            local_pwd: &self.local.credentials.pwd,
            remote_ufrag: &remote.ice_ufrag,
            remote_pwd: &remote.ice_pwd,
            candidates: &remote.candidates,
        };
        let timings = IceTimings {
            consent_interval: self.config.consent_interval,
            consent_timeout: self.config.consent_timeout,
        };
        // A different stream of randomness than the one that made our credentials.
        let mut ice = ControllingIce::new(&parameters, timings, !self.seed, now);
        ice.handle_timeout(now);
        self.ice = Some(ice);
        self.receiver = Some(MediaReceiver::new(&remote.media, self.config.lite));
        self.remote = Some(remote);
        self.drain_ice(now);
        Ok(())
    }

    pub fn handle_receive(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        match classify(datagram) {
            DatagramKind::Stun => match self.ice.as_mut() {
                Some(ice) => {
                    ice.handle_stun(now, source, datagram);
                    self.drain_ice(now);
                }
                None => self.counters.unexpected_datagrams += 1,
            },
            DatagramKind::Dtls => self.receive_dtls(now, source, datagram),
            DatagramKind::Rtp => self.receive_media(now, datagram),
            DatagramKind::Unknown => self.counters.unexpected_datagrams += 1,
        }
    }

    fn receive_dtls(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        if let Some(ice) = self.ice.as_mut() {
            ice.follow(source);
        }
        let selected = self.ice.as_ref().and_then(ControllingIce::selected);
        let Some(dtls) = self.dtls.as_mut().filter(|_| selected == Some(source)) else {
            self.counters.unexpected_datagrams += 1;
            return;
        };
        if dtls.handle_receive(now, datagram).is_err() {
            self.disconnect("DTLS failed");
            return;
        }
        self.drain_dtls(now);
    }

    fn receive_media(&mut self, now: Instant, datagram: &[u8]) {
        let (Some(srtp), Some(receiver)) = (self.srtp.as_mut(), self.receiver.as_mut()) else {
            self.counters.unexpected_datagrams += 1;
            return;
        };
        let result = if is_rtcp(datagram) {
            receiver.on_rtcp(now, srtp, datagram, &mut self.events)
        } else {
            receiver.on_rtp(now, srtp, datagram, &mut self.events)
        };
        if result.is_err() {
            self.counters.undecryptable_packets += 1;
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.disconnected {
            return;
        }
        if let Some(ice) = self.ice.as_mut() {
            ice.handle_timeout(now);
            self.drain_ice(now);
        }
        if let Some(dtls) = self.dtls.as_mut().filter(|d| !d.is_connected()) {
            if dtls.handle_timeout(now).is_err() {
                self.disconnect("DTLS failed");
                return;
            }
            self.drain_dtls(now);
        }
        if self.next_report.is_some_and(|at| at <= now) {
            self.send_receiver_report(now);
            self.next_report = Some(now + self.config.report_interval);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.disconnected {
            return None;
        }
        let dtls = self
            .dtls
            .as_ref()
            .filter(|d| !d.is_connected())
            .and_then(DtlsTransport::poll_timeout);
        [
            self.ice.as_ref().and_then(ControllingIce::poll_timeout),
            dtls,
            self.next_report,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Encrypts and queues one RTP packet (publishers). The header's payload type picks the
    /// m-line, whose mid is written in the packet, as are `abs_capture_time` (64-bit NTP)
    /// when the server accepted that extension.
    pub fn send_rtp(
        &mut self,
        header: &RtpHeader,
        payload: &[u8],
        abs_capture_time: Option<u64>,
    ) -> Result<(), PeerError> {
        let (Some(srtp), Some(destination), Some(remote)) = (
            self.srtp.as_mut(),
            self.ice.as_ref().and_then(ControllingIce::selected),
            self.remote.as_ref(),
        ) else {
            return Err(PeerError::NotConnected);
        };
        let pt = header.payload_type;
        let section = remote
            .media
            .iter()
            .find(|m| {
                m.codecs
                    .iter()
                    .any(|c| c.payload_type == pt || c.rtx_payload_type == Some(pt))
            })
            .ok_or(PeerError::UnknownPayloadType(pt))?;
        let extensions = ExtensionMap::new(&section.extensions);
        let capture = abs_capture_time.map(u64::to_be_bytes);
        let mut elements: Vec<(u8, &[u8])> = Vec::with_capacity(2);
        if let Some(id) = extensions.id_of(ExtensionKind::Mid) {
            elements.push((id, section.mid.as_bytes()));
        }
        if let (Some(id), Some(capture)) =
            (extensions.id_of(ExtensionKind::AbsCaptureTime), &capture)
        {
            elements.push((id, capture));
        }
        let mut plain =
            vec![0; FIXED_HEADER_LEN + EXTENSIONS_CAPACITY + section.mid.len() + payload.len()];
        let len = write_rtp(&mut plain, header, &elements, payload)?;
        let mut protected = Vec::with_capacity(len + srtp.profile().rtp_overhead());
        srtp.protect_rtp(&plain[..len], &mut protected)?;
        self.transmits.push_back((destination, protected));
        Ok(())
    }

    /// Asks the server to resend `lost` packets of `media_ssrc` (viewers).
    pub fn send_nack(&mut self, media_ssrc: u32, lost: &[u16]) -> Result<(), PeerError> {
        let mut rtcp = Vec::with_capacity(64);
        write_nack(&mut rtcp, self.local.video_ssrc, media_ssrc, lost)?;
        self.send_rtcp(&rtcp)
    }

    /// Asks the server for a keyframe of `media_ssrc` (viewers).
    pub fn send_pli(&mut self, media_ssrc: u32) -> Result<(), PeerError> {
        let mut rtcp = Vec::with_capacity(12);
        write_pli(&mut rtcp, self.local.video_ssrc, media_ssrc);
        self.send_rtcp(&rtcp)
    }

    fn send_receiver_report(&mut self, now: Instant) {
        let Some(receiver) = self.receiver.as_mut() else {
            return;
        };
        let blocks = receiver.report_blocks(now);
        let mut rtcp = Vec::with_capacity(32 + 24 * blocks.len());
        let ssrc = self.local.video_ssrc;
        let written = write_receiver_report(&mut rtcp, ssrc, &blocks)
            .and_then(|()| write_sdes_cname(&mut rtcp, ssrc, &self.local.cname));
        // Only an SRTP failure can stop it, and the next report will try again.
        if written.is_ok() {
            let _ = self.send_rtcp(&rtcp);
        }
    }

    fn send_rtcp(&mut self, plain: &[u8]) -> Result<(), PeerError> {
        let (Some(srtp), Some(destination)) = (
            self.srtp.as_mut(),
            self.ice.as_ref().and_then(ControllingIce::selected),
        ) else {
            return Err(PeerError::NotConnected);
        };
        let mut protected = Vec::with_capacity(plain.len() + 32);
        srtp.protect_rtcp(plain, &mut protected)?;
        self.transmits.push_back((destination, protected));
        Ok(())
    }

    fn drain_ice(&mut self, now: Instant) {
        let Some(ice) = self.ice.as_mut() else {
            return;
        };
        while let Some(transmit) = ice.poll_transmit() {
            self.transmits.push_back(transmit);
        }
        let events: Vec<IceEvent> = std::iter::from_fn(|| ice.poll_event()).collect();
        for event in events {
            match event {
                IceEvent::Selected(remote) => {
                    self.events.push_back(PeerEvent::IceConnected { remote });
                    self.start_dtls(now);
                }
                IceEvent::Failed => self.disconnect("ICE failed"),
                IceEvent::ConsentLost => self.disconnect("ICE consent lost"),
            }
        }
    }

    /// DTLS starts once a pair is selected: before that there is nowhere to send it.
    fn start_dtls(&mut self, now: Instant) {
        let Some(remote) = self.remote.as_ref().filter(|_| self.dtls.is_none()) else {
            return;
        };
        let dtls = DtlsTransport::new(
            &self.config.dtls,
            &self.config.certificate,
            remote.dtls_role,
            remote.fingerprint.clone(),
            now,
        );
        match dtls {
            Ok(dtls) => {
                self.dtls = Some(dtls);
                self.drain_dtls(now);
            }
            Err(_) => self.disconnect("DTLS cannot start (fingerprint hash unsupported)"),
        }
    }

    fn drain_dtls(&mut self, now: Instant) {
        let (Some(dtls), Some(destination)) = (
            self.dtls.as_mut(),
            self.ice.as_ref().and_then(ControllingIce::selected),
        ) else {
            return;
        };
        while let Some(datagram) = dtls.poll_transmit() {
            self.transmits.push_back((destination, datagram));
        }
        let events: Vec<DtlsEvent> = std::iter::from_fn(|| dtls.poll_event()).collect();
        for event in events {
            match event {
                DtlsEvent::Connected(keys) => match SrtpSession::new(&keys) {
                    Ok(srtp) => {
                        self.srtp = Some(srtp);
                        self.events.push_back(PeerEvent::Connected);
                        if self.local.role == Role::Play {
                            self.next_report = Some(now + self.config.report_interval);
                        }
                    }
                    Err(_) => self.disconnect("SRTP keys unusable"),
                },
                DtlsEvent::Closed => self.disconnect("DTLS closed by the server"),
            }
        }
    }

    fn disconnect(&mut self, reason: &'static str) {
        if !self.disconnected {
            self.disconnected = true;
            self.next_report = None;
            self.events.push_back(PeerEvent::Disconnected { reason });
        }
    }
}

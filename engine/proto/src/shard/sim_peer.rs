//! A browser made of the core's own state machines, for shard tests: it checks
//! connectivity like a controlling ICE agent, runs the other end of DTLS, and sends or
//! receives SRTP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shardcast_control::{
    Codec, CodecName, DtlsRole, Extension, MediaKind, MediaSection, Role, SessionAnswer,
    SessionRequest,
};

use crate::demux::{DatagramKind, classify, is_rtcp};
use crate::dtls::{Certificate, DtlsConfig, DtlsEvent, DtlsTransport};
use crate::ice::IceCredentials;
use crate::ice::test_peer::CheckRequest;
use crate::rtcp::{RtcpPacket, iter_compound};
use crate::rtp::{RtpHeader, RtpPacket, write_rtp};
use crate::srtp::SrtpSession;

pub const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";

/// Connectivity checks every this often (consent refresh in browsers is ~5 s; faster here
/// keeps the simulation short without changing what is tested).
const CHECK_SPACING: Duration = Duration::from_millis(500);

pub struct SimPeer {
    pub address: SocketAddr,
    credentials: IceCredentials,
    certificate: Certificate,
    server: Option<(SocketAddr, String, String)>,
    dtls: Option<DtlsTransport>,
    srtp: Option<SrtpSession>,
    next_check: Instant,
    /// Decrypted RTP received: (ssrc, payload type, seq, timestamp, payload).
    pub received: Vec<(u32, u8, u16, u32, Vec<u8>)>,
    pub rtcp_received: usize,
    /// Picture loss indications received (publishers).
    pub pli_received: usize,
}

pub fn sections(mids: &[(&str, MediaKind)]) -> Vec<MediaSection> {
    mids.iter()
        .map(|&(mid, kind)| {
            let (name, payload_type, clock_rate, channels) = match kind {
                MediaKind::Audio => (CodecName::Opus, 111, 48_000, Some(2)),
                MediaKind::Video => (CodecName::Vp8, 96, 90_000, None),
            };
            MediaSection {
                mid: mid.into(),
                kind,
                codecs: vec![Codec {
                    payload_type,
                    name,
                    clock_rate,
                    channels,
                    fmtp: String::new(),
                    rtx_payload_type: None,
                    feedback: vec!["nack pli".into()],
                }],
                extensions: vec![Extension {
                    id: 4,
                    uri: MID_URI.into(),
                }],
                ssrcs: vec![],
                rtx_pairs: vec![],
            }
        })
        .collect()
}

impl SimPeer {
    /// A peer at `address` and the request signaling would send for it.
    pub fn new(
        address: SocketAddr,
        role: Role,
        stream: &str,
        session: &str,
        media: Vec<MediaSection>,
        seed: u8,
        now: Instant,
    ) -> (Self, SessionRequest) {
        let certificate = Certificate::generate().unwrap();
        let credentials = IceCredentials {
            ufrag: format!("peer{seed}"),
            pwd: format!("peerpassword{seed:0>12}"),
        };
        let request = SessionRequest {
            session: session.into(),
            role,
            stream: stream.into(),
            remote_ufrag: credentials.ufrag.clone(),
            remote_pwd: credentials.pwd.clone(),
            remote_fingerprint: certificate.fingerprint().clone(),
            dtls_role: DtlsRole::Server,
            media,
        };
        let peer = Self {
            address,
            credentials,
            certificate,
            server: None,
            dtls: None,
            srtp: None,
            next_check: now,
            received: Vec::new(),
            rtcp_received: 0,
            pli_received: 0,
        };
        (peer, request)
    }

    /// Takes the engine's answer: where to check, and the certificate to expect. The
    /// engine answered passive, so this peer is the DTLS client.
    pub fn accept_answer(&mut self, answer: &SessionAnswer, now: Instant) {
        let server = answer.candidates[0];
        self.server = Some((server, answer.ice_ufrag.clone(), answer.ice_pwd.clone()));
        let dtls = DtlsTransport::new(
            &DtlsConfig::new().unwrap(),
            &self.certificate,
            DtlsRole::Client,
            answer.fingerprint.clone(),
            now,
        );
        self.dtls = Some(dtls.unwrap());
    }

    pub fn is_connected(&self) -> bool {
        self.srtp.is_some()
    }

    /// Datagrams this peer sends at `now`: (destination, bytes).
    pub fn poll_transmit(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        let Some((server, ufrag, pwd)) = self.server.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if now >= self.next_check {
            let username = format!("{ufrag}:{}", self.credentials.ufrag);
            out.push((
                server,
                CheckRequest::new(&username, &pwd).nominating().encode(),
            ));
            self.next_check = now + CHECK_SPACING;
        }
        // Sent after the first check, so the engine has verified this address when DTLS arrives.
        if let Some(dtls) = self.dtls.as_mut() {
            // A closed transport has nothing more to send.
            let _ = dtls.handle_timeout(now);
            while let Some(datagram) = dtls.poll_transmit() {
                out.push((server, datagram));
            }
        }
        out
    }

    pub fn handle_receive(&mut self, now: Instant, datagram: &[u8]) {
        match classify(datagram) {
            DatagramKind::Dtls => {
                let Some(dtls) = self.dtls.as_mut() else {
                    return;
                };
                // After close_notify the transport refuses input, as a browser's would.
                if dtls.handle_receive(now, datagram).is_err() {
                    return;
                }
                while let Some(event) = dtls.poll_event() {
                    if let DtlsEvent::Connected(keys) = event {
                        self.srtp = Some(SrtpSession::new(&keys).unwrap());
                    }
                }
            }
            DatagramKind::Rtp => {
                let Some(srtp) = self.srtp.as_mut() else {
                    return;
                };
                let mut plain = Vec::new();
                if is_rtcp(datagram) {
                    srtp.unprotect_rtcp(datagram, &mut plain).unwrap();
                    self.rtcp_received += 1;
                    self.pli_received += iter_compound(&plain)
                        .filter(|p| matches!(p, Ok(RtcpPacket::Pli { .. })))
                        .count();
                } else {
                    srtp.unprotect_rtp(datagram, &mut plain).unwrap();
                    let rtp = RtpPacket::parse(&plain).unwrap();
                    self.received.push((
                        rtp.ssrc(),
                        rtp.payload_type(),
                        rtp.sequence_number(),
                        rtp.timestamp(),
                        rtp.payload().to_vec(),
                    ));
                }
            }
            _ => {}
        }
    }

    /// Encrypts an RTP packet for the engine.
    pub fn send_rtp(&mut self, header: &RtpHeader, mid: &str, payload: &[u8]) -> Vec<u8> {
        self.send_rtp_with_extensions(header, &[(4, mid.as_bytes())], payload)
    }

    /// Encrypts an RTP packet with these header extensions (id, value) for the engine.
    pub fn send_rtp_with_extensions(
        &mut self,
        header: &RtpHeader,
        extensions: &[(u8, &[u8])],
        payload: &[u8],
    ) -> Vec<u8> {
        let mut plain = [0u8; 1500];
        let len = write_rtp(&mut plain, header, extensions, payload).unwrap();
        let mut out = Vec::new();
        self.srtp
            .as_mut()
            .unwrap()
            .protect_rtp(&plain[..len], &mut out)
            .unwrap();
        out
    }
}

//! A browser made of the core's own state machines, for shard tests: it checks
//! connectivity like a controlling ICE agent, runs the other end of DTLS, and sends or
//! receives SRTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shardcast_control::{
    Codec, CodecName, DtlsRole, Extension, MediaKind, MediaSection, Role, SessionAnswer,
    SessionRequest,
};

use super::sim_repair::{PublisherRepair, ViewerRepair, negotiates_nack};
use crate::demux::{DatagramKind, classify, is_rtcp};
use crate::dtls::{Certificate, DtlsConfig, DtlsEvent, DtlsTransport};
use crate::ice::IceCredentials;
use crate::ice::test_peer::CheckRequest;
use crate::rtcp::{RtcpPacket, iter_compound};
use crate::rtp::extension::TRANSPORT_CC_URI;
use crate::rtp::{RtpHeader, RtpPacket, write_rtp};
use crate::srtp::SrtpSession;

pub const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
pub const TRANSPORT_CC_ID: u8 = 3;

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
    /// A second receive context over the same keys, to read the RTX packets the engine sends
    /// this peer as they are sent, lost on the way or not (their original sequence number is
    /// encrypted).
    observer: Option<SrtpSession>,
    next_check: Instant,
    role: Role,
    /// The sections of its offer.
    media: Vec<MediaSection>,
    /// Decrypted RTP received (RTX unwrapped): (ssrc, payload type, seq, timestamp, payload).
    pub received: Vec<(u32, u8, u16, u32, Vec<u8>)>,
    /// The transport-wide sequence number of each packet received that carried one.
    pub transport_seqs: Vec<u16>,
    pub rtcp_received: usize,
    /// Picture loss indications received (publishers).
    pub pli_received: usize,
    /// Transport-wide congestion control feedback received (publishers): when, and its FCI.
    pub transport_feedback: Vec<(Instant, Vec<u8>)>,
    /// The media SSRC each PLI the engine sent this peer named.
    pub pli_ssrcs: Vec<u32>,
    /// RTP packets SRTP refused (replays).
    pub srtp_rejected: usize,
    /// A viewer's NACKs and reports, when it negotiated NACK.
    pub viewer_repair: Option<ViewerRepair>,
    /// A publisher's history, when it negotiated NACK.
    pub publisher_repair: Option<PublisherRepair>,
    /// Per (media SSRC, sequence number): how often the engine sent it (RTX unwrapped).
    pub transmissions: HashMap<(u32, u16), u32>,
    /// When the engine sent each retransmission to this peer.
    pub retransmitted_at: Vec<Instant>,
    /// Retransmissions and RTCP waiting for the next poll.
    outbox: Vec<Vec<u8>>,
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
                simulcast: Vec::new(),
            }
        })
        .collect()
}

/// Audio and video [`sections`] that negotiate NACK, and RTX (payload type 97) for video
/// when `rtx`; `rtx_pair` is the (media, RTX) SSRC pair a publisher declares for its video.
pub fn repair_sections(rtx: bool, rtx_pair: Option<(u32, u32)>) -> Vec<MediaSection> {
    let mut media = sections(&[("0", MediaKind::Audio), ("1", MediaKind::Video)]);
    for section in &mut media {
        let codec = &mut section.codecs[0];
        codec.feedback = vec!["nack".into(), "nack pli".into()];
        if rtx && section.kind == MediaKind::Video {
            codec.rtx_payload_type = Some(97);
            section.rtx_pairs.extend(rtx_pair);
        }
    }
    media
}

/// [`repair_sections`] for a viewer that also negotiates transport-wide congestion control:
/// `transport-cc` feedback and the transport-wide sequence number extension (id
/// [`TRANSPORT_CC_ID`]).
pub fn transport_cc_sections(rtx: bool) -> Vec<MediaSection> {
    let mut media = repair_sections(rtx, None);
    for section in &mut media {
        section.codecs[0].feedback.push("transport-cc".into());
        section.extensions.push(Extension {
            id: TRANSPORT_CC_ID,
            uri: TRANSPORT_CC_URI.into(),
        });
    }
    media
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
            media: media.clone(),
            layer: None,
        };
        let peer = Self {
            address,
            credentials,
            certificate,
            server: None,
            dtls: None,
            srtp: None,
            observer: None,
            next_check: now,
            role,
            media,
            received: Vec::new(),
            transport_seqs: Vec::new(),
            rtcp_received: 0,
            pli_received: 0,
            transport_feedback: Vec::new(),
            pli_ssrcs: Vec::new(),
            srtp_rejected: 0,
            viewer_repair: None,
            publisher_repair: None,
            transmissions: HashMap::new(),
            retransmitted_at: Vec::new(),
            outbox: Vec::new(),
        };
        (peer, request)
    }

    /// Where it sends: the shard's address from the answer.
    pub fn server(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(|s| s.0)
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
        if self.media.iter().any(negotiates_nack) {
            match self.role {
                Role::Play => {
                    let ssrc = match self.address {
                        SocketAddr::V4(v4) => u32::from(*v4.ip()),
                        SocketAddr::V6(_) => 0x7000_0000,
                    };
                    self.viewer_repair = Some(ViewerRepair::new(&self.media, answer, ssrc));
                }
                Role::Publish => self.publisher_repair = Some(PublisherRepair::new(&self.media)),
            }
        }
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
        if let (Some(repair), Some(srtp)) = (self.viewer_repair.as_mut(), self.srtp.as_mut())
            && let Some(plain) = repair.poll_rtcp(now)
        {
            let mut protected = Vec::new();
            srtp.protect_rtcp(&plain, &mut protected).unwrap();
            out.push((server, protected));
        }
        out.extend(self.outbox.drain(..).map(|datagram| (server, datagram)));
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
                        self.observer = Some(SrtpSession::new(&keys).unwrap());
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
                    self.handle_rtcp(now, &plain);
                } else {
                    // A plain retransmission of a packet that did arrive is a replay: dropped.
                    if srtp.unprotect_rtp(datagram, &mut plain).is_err() {
                        self.srtp_rejected += 1;
                        return;
                    }
                    let rtp = RtpPacket::parse(&plain).unwrap();
                    let (ssrc, payload_type, seq, payload_start) = match &self.viewer_repair {
                        Some(repair) => repair.unwrap(&rtp),
                        None => (
                            rtp.ssrc(),
                            rtp.payload_type(),
                            rtp.sequence_number(),
                            rtp.header_len(),
                        ),
                    };
                    if let Some(repair) = self.viewer_repair.as_mut() {
                        repair.on_media(now, ssrc, seq, ssrc != rtp.ssrc());
                    }
                    if let Some(&[high, low]) = rtp.extension(TRANSPORT_CC_ID) {
                        self.transport_seqs.push(u16::from_be_bytes([high, low]));
                    }
                    let payload_end = rtp.header_len() + rtp.payload().len();
                    self.received.push((
                        ssrc,
                        payload_type,
                        seq,
                        rtp.timestamp(),
                        plain[payload_start..payload_end].to_vec(),
                    ));
                }
            }
            _ => {}
        }
    }

    fn handle_rtcp(&mut self, now: Instant, plain: &[u8]) {
        self.rtcp_received += 1;
        for packet in iter_compound(plain) {
            match packet.unwrap() {
                RtcpPacket::Pli { media_ssrc, .. } => {
                    self.pli_received += 1;
                    self.pli_ssrcs.push(media_ssrc);
                }
                RtcpPacket::TransportCc { fci, .. } => {
                    self.transport_feedback.push((now, fci.to_vec()));
                }
                RtcpPacket::Nack {
                    media_ssrc, items, ..
                } => {
                    let (Some(repair), Some(srtp)) =
                        (self.publisher_repair.as_mut(), self.srtp.as_mut())
                    else {
                        continue;
                    };
                    for answer in repair.answer(media_ssrc, items.lost()) {
                        let mut protected = Vec::new();
                        srtp.protect_rtp(&answer, &mut protected).unwrap();
                        self.outbox.push(protected);
                    }
                }
                RtcpPacket::SenderReport { ssrc, ntp, .. } => {
                    if let Some(repair) = self.viewer_repair.as_mut() {
                        repair.on_sender_report(now, ssrc, ntp);
                    }
                }
                _ => {}
            }
        }
    }

    /// A datagram the engine sent this peer at `sent_at`, seen whether or not it arrives:
    /// counts what the engine (re)transmitted.
    pub fn observe(&mut self, sent_at: Instant, datagram: &[u8]) {
        let Some(observer) = self.observer.as_mut() else {
            return;
        };
        if classify(datagram) != DatagramKind::Rtp || is_rtcp(datagram) {
            return;
        }
        // The RTP header travels in the clear; only an RTX packet's original sequence number
        // needs decrypting (and an RTX packet is never a repeat for replay protection).
        let header = RtpPacket::parse(datagram).unwrap();
        let (ssrc, seq, rtx) = match &self.viewer_repair {
            Some(repair) if repair.is_rtx(header.ssrc()) => {
                let mut plain = Vec::new();
                observer.unprotect_rtp(datagram, &mut plain).unwrap();
                let (ssrc, _, seq, _) = repair.unwrap(&RtpPacket::parse(&plain).unwrap());
                (ssrc, seq, true)
            }
            _ => (header.ssrc(), header.sequence_number(), false),
        };
        let count = self.transmissions.entry((ssrc, seq)).or_insert(0);
        *count += 1;
        if *count > 1 || rtx {
            self.retransmitted_at.push(sent_at);
        }
    }

    /// Encrypts an RTCP packet for the engine.
    pub fn protect_rtcp(&mut self, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.srtp
            .as_mut()
            .unwrap()
            .protect_rtcp(plain, &mut out)
            .unwrap();
        out
    }

    /// Encrypts an RTP packet for the engine (a publisher keeps it, to answer NACKs).
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
        if let Some(repair) = self.publisher_repair.as_mut() {
            repair.record(&plain[..len]);
        }
        let mut out = Vec::new();
        self.srtp
            .as_mut()
            .unwrap()
            .protect_rtp(&plain[..len], &mut out)
            .unwrap();
        out
    }
}

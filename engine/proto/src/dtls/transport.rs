//! One session's DTLS 1.2 handshake (RFC 6347) for DTLS-SRTP (RFC 5764), driven through dimpl.
//!
//! The transport verifies the peer certificate against the signalled fingerprint itself (dimpl
//! does no PKI) and only reports the SRTP keys once the handshake finished with a matching
//! certificate. It uses explicit DTLS 1.2 rather than dimpl's auto-sensing: every browser
//! still speaks 1.2, a 1.2 server answers a 1.3-capable ClientHello with 1.2 (it ignores
//! supported_versions), and as a client a plain 1.2 ClientHello avoids the large hybrid one that
//! auto mode sends and that older peers may not parse.

use std::collections::VecDeque;
use std::time::Instant;

use dimpl::{Dtls, Output};
use shardcast_control::{DtlsRole, Fingerprint};

use super::fingerprint::ExpectedFingerprint;
use super::{Certificate, DtlsConfig, DtlsError};
use crate::srtp::{SrtpKeys, SrtpProfile};

/// Room for one datagram at dimpl's default MTU; grown on demand.
const DATAGRAM_CAPACITY: usize = 1500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsEvent {
    /// Handshake complete and the peer proved it holds the signalled certificate.
    Connected(SrtpKeys),
    /// The peer sent close_notify.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking,
    Connected,
    /// Failed, closed by the peer or by us: nothing more is accepted.
    Closed,
}

pub struct DtlsTransport {
    dtls: Dtls,
    role: DtlsRole,
    expected: ExpectedFingerprint,
    phase: Phase,
    peer_verified: bool,
    handshake_done: bool,
    keys: Option<SrtpKeys>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
    timeout: Option<Instant>,
    scratch: Vec<u8>,
}

impl DtlsTransport {
    /// A client queues its ClientHello right away (see `poll_transmit`); a server waits for one.
    /// Fails if the fingerprint names a hash we do not compute.
    pub fn new(
        config: &DtlsConfig,
        certificate: &Certificate,
        role: DtlsRole,
        remote_fingerprint: Fingerprint,
        now: Instant,
    ) -> Result<Self, DtlsError> {
        let expected = ExpectedFingerprint::new(remote_fingerprint)?;
        let mut dtls = Dtls::new_12(config.dimpl(), certificate.dimpl(), now);
        dtls.set_active(role == DtlsRole::Client);
        let mut transport = Self {
            dtls,
            role,
            expected,
            phase: Phase::Handshaking,
            peer_verified: false,
            handshake_done: false,
            keys: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timeout: None,
            scratch: vec![0; DATAGRAM_CAPACITY],
        };
        transport.drive(|dtls| dtls.handle_timeout(now))?;
        Ok(transport)
    }

    /// Feeds one datagram whose first byte said DTLS (RFC 7983).
    pub fn handle_receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DtlsError> {
        self.ensure_open()?;
        // dimpl takes time only through handle_timeout; refresh it before the packet.
        self.drive(|dtls| {
            dtls.handle_timeout(now)?;
            dtls.handle_packet(datagram)
        })
    }

    /// Retransmits the last flight if its timer ran out.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsError> {
        self.ensure_open()?;
        self.drive(|dtls| dtls.handle_timeout(now))
    }

    /// Sends close_notify (when connected) and stops accepting input.
    pub fn close(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        // An error only means dimpl had nothing left to close; we are closed either way.
        let _ = self.drive(Dtls::close);
        self.phase = Phase::Closed;
        self.timeout = None;
    }

    /// The next datagram for the peer's selected address.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::Handshaking | Phase::Connected => self.timeout,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    fn ensure_open(&self) -> Result<(), DtlsError> {
        match self.phase {
            Phase::Closed => Err(DtlsError::Closed),
            Phase::Handshaking | Phase::Connected => Ok(()),
        }
    }

    /// Runs one dimpl input, then collects everything it produced.
    fn drive(
        &mut self,
        input: impl FnOnce(&mut Dtls) -> Result<(), dimpl::Error>,
    ) -> Result<(), DtlsError> {
        let result = input(&mut self.dtls)
            .map_err(DtlsError::Protocol)
            .and_then(|()| self.collect_output());
        if result.is_err() {
            self.fail();
        }
        result
    }

    fn fail(&mut self) {
        self.phase = Phase::Closed;
        // Whatever dimpl queued after a rejected certificate (our next flight) must not leave.
        self.transmits.clear();
        self.timeout = None;
        self.keys = None;
    }

    fn collect_output(&mut self) -> Result<(), DtlsError> {
        loop {
            match self.dtls.poll_output(&mut self.scratch) {
                Output::Packet(datagram) => self.transmits.push_back(datagram.to_vec()),
                Output::BufferTooSmall { needed } => self.scratch.resize(needed, 0),
                Output::Timeout(at) => {
                    self.timeout = Some(at);
                    break;
                }
                Output::PeerCert(der) => {
                    if !self.expected.matches(der) {
                        return Err(DtlsError::FingerprintMismatch);
                    }
                    self.peer_verified = true;
                }
                Output::KeyingMaterial(material, profile) => {
                    let profile = srtp_profile(profile)?;
                    self.keys = Some(SrtpKeys::from_exported(profile, &material, self.role)?);
                }
                Output::Connected => self.handshake_done = true,
                Output::CloseNotify => {
                    self.phase = Phase::Closed;
                    self.events.push_back(DtlsEvent::Closed);
                }
                // Media sessions carry no data channel, so there is no DTLS application data.
                Output::ApplicationData(_) => {}
                // Output is non-exhaustive: nothing a newer dimpl adds is needed for DTLS-SRTP.
                _ => {}
            }
        }
        self.report_connected()
    }

    /// dimpl reports Connected before the keying material, so decide once its output is drained.
    fn report_connected(&mut self) -> Result<(), DtlsError> {
        if !self.handshake_done || self.phase != Phase::Handshaking {
            return Ok(());
        }
        if !self.peer_verified {
            return Err(DtlsError::MissingPeerCertificate);
        }
        let keys = self.keys.take().ok_or(DtlsError::NoSrtpProfile)?;
        self.phase = Phase::Connected;
        self.events.push_back(DtlsEvent::Connected(keys));
        Ok(())
    }
}

fn srtp_profile(profile: dimpl::SrtpProfile) -> Result<SrtpProfile, DtlsError> {
    match profile {
        dimpl::SrtpProfile::AEAD_AES_128_GCM => Ok(SrtpProfile::AeadAes128Gcm),
        dimpl::SrtpProfile::AEAD_AES_256_GCM => Ok(SrtpProfile::AeadAes256Gcm),
        dimpl::SrtpProfile::AES128_CM_SHA1_80 => Ok(SrtpProfile::Aes128CmHmacSha1_80),
        other => Err(DtlsError::UnsupportedSrtpProfile(format!("{other:?}"))),
    }
}

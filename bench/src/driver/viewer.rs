//! One WHEP viewer as a browser plays it: its peer, a receive log per track, and the NACKs
//! and keyframe requests the logs ask for.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use crate::accounting::{
    MeasurementWindow, ReceiveConfig, ReceiveLog, ReceivedPacket, ViewerStats,
};
use crate::peer::{AUDIO_PAYLOAD_TYPE, ClientPeer, PeerEvent};

use super::clock::CaptureClock;
use super::probe::JoinProbe;

/// Sequence numbers per NACK packet: keeps a burst's feedback well under the MTU.
const NACKS_PER_PACKET: usize = 64;

/// A viewer whose answer was accepted, handed from the signaling thread to a worker.
pub struct NewViewer {
    pub peer: ClientPeer,
    pub socket: UdpSocket,
    /// When its offer was posted: join times count from here.
    pub posted: Instant,
}

/// Where a viewer's session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Connecting,
    Connected,
    /// Never connected or lost: the peer has nothing left to do.
    Ended,
}

/// What one viewer measured, snapshotted at the end of the run.
#[derive(Debug, Clone)]
pub struct ViewerOutcome {
    /// Still connected at the end.
    pub connected: bool,
    pub video: ViewerStats,
    pub audio: ViewerStats,
}

pub struct Viewer {
    socket: UdpSocket,
    peer: ClientPeer,
    video: ReceiveLog,
    audio: ReceiveLog,
    video_probe: JoinProbe,
    audio_probe: JoinProbe,
    /// The SSRC the server sends video with, for NACK and PLI.
    video_ssrc: Option<u32>,
    /// When the worker's timer entry for this viewer is due (see `Timers`).
    pub scheduled: Option<Instant>,
    /// Already in this turn's list of viewers to process.
    pub touched: bool,
    /// The state the worker last counted it in.
    pub counted_as: SessionState,
}

impl Viewer {
    /// Accounting inside `window` only; join figures always.
    pub fn new(new: NewViewer, window: MeasurementWindow) -> Self {
        let video = ReceiveConfig::video();
        let audio = ReceiveConfig::audio();
        Self {
            socket: new.socket,
            peer: new.peer,
            video: ReceiveLog::new(video.with_window(window)),
            audio: ReceiveLog::new(audio.with_window(window)),
            video_probe: JoinProbe::new(video, new.posted),
            audio_probe: JoinProbe::new(audio, new.posted),
            video_ssrc: None,
            scheduled: None,
            touched: false,
            counted_as: SessionState::Connecting,
        }
    }

    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        self.peer.handle_receive(now, source, datagram);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.peer.poll_timeout().is_some_and(|due| due <= now) {
            self.peer.handle_timeout(now);
        }
    }

    /// Accounts what the peer received and sends the feedback that is due; how many RTP
    /// packets were accounted.
    pub fn process(&mut self, now: Instant, clock: &CaptureClock) -> u64 {
        let mut received = 0;
        while let Some(event) = self.peer.poll_event() {
            if let PeerEvent::Rtp {
                ssrc,
                payload_type,
                seq,
                timestamp,
                marker,
                payload_len,
                keyframe_start,
                abs_capture_time,
                ..
            } = event
            {
                received += 1;
                let packet = ReceivedPacket {
                    sequence_number: seq,
                    timestamp,
                    marker,
                    keyframe_start,
                    payload_len,
                    send_time: abs_capture_time.and_then(|ntp| clock.instant(ntp)),
                };
                if payload_type == AUDIO_PAYLOAD_TYPE {
                    self.audio.on_packet(now, packet);
                    self.audio_probe.on_packet(now, packet);
                } else {
                    self.video_ssrc = Some(ssrc);
                    self.video.on_packet(now, packet);
                    self.video_probe.on_packet(now, packet);
                }
            }
        }
        if self.peer.is_connected() {
            self.send_feedback(now);
        }
        received
    }

    pub fn session_state(&self) -> SessionState {
        if self.peer.is_connected() {
            SessionState::Connected
        } else if self.peer.poll_timeout().is_none() {
            SessionState::Ended
        } else {
            SessionState::Connecting
        }
    }

    fn send_feedback(&mut self, now: Instant) {
        // Browsers neither NACK Opus nor ask it for keyframes; this only expires its gaps.
        self.audio.poll_nack(now);
        let lost = self.video.poll_nack(now);
        let Some(ssrc) = self.video_ssrc else {
            return;
        };
        for chunk in lost.chunks(NACKS_PER_PACKET) {
            if self.peer.send_nack(ssrc, chunk).is_ok() {
                self.video.on_nack_sent(now, chunk.len());
            }
        }
        if self.video.needs_keyframe(now) && self.peer.send_pli(ssrc).is_ok() {
            self.video.on_pli_sent(now);
        }
    }

    /// When the peer or a log next has work; `None` once the session is over.
    pub fn deadline(&self) -> Option<Instant> {
        if !self.peer.is_connected() {
            return self.peer.poll_timeout();
        }
        [
            self.peer.poll_timeout(),
            self.video.poll_timeout(),
            self.audio.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.peer.poll_transmit()
    }

    pub fn outcome(&self, now: Instant) -> ViewerOutcome {
        let mut video = self.video.stats(now);
        self.video_probe.apply(&mut video);
        let mut audio = self.audio.stats(now);
        self.audio_probe.apply(&mut audio);
        ViewerOutcome {
            connected: self.peer.is_connected(),
            video,
            audio,
        }
    }
}

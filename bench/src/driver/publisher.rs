//! The publisher thread: one WHIP session sending the media files in a loop, answering
//! NACKs from its send cache and keyframe requests by jumping to the next keyframe, and
//! stamping every packet with its send time. Any failure here ends the run.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shardcast_control::{MediaKind, Role};

use crate::media::{LoopStats, MediaLoop, OutgoingPacket, RtpIdentity, Track};
use crate::peer::{AUDIO_PAYLOAD_TYPE, ClientPeer, PeerConfig, PeerError, PeerEvent};
use crate::whip_client::{delete_session, post_offer};

use super::clock::CaptureClock;
use super::codec_offer::offer_only;
use super::joins::HTTP_TIMEOUT;
use super::net::{bind_like, wait_readable};
use super::{BenchCodec, DriverError};

const VP8_FILE: &[u8] = include_bytes!("../../media/video-vp8.ivf");
const H264_FILE: &[u8] = include_bytes!("../../media/video-h264.h264");
const OPUS_FILE: &[u8] = include_bytes!("../../media/audio-opus.ogg");
/// The H.264 file's frame rate (Annex-B carries no timing).
const H264_FRAMES_PER_SECOND: u32 = 30;
/// RTP payload bytes per packet: with SRTP and extensions, well under a 1500-byte MTU.
const MAX_PAYLOAD: usize = 1200;
/// How long ICE and DTLS may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DATAGRAMS_PER_TURN: usize = 64;
const PACKETS_PER_TURN: usize = 256;
/// The longest sleep, so `stopping` is seen soon.
const IDLE_WAIT: Duration = Duration::from_millis(50);

pub struct PublisherSetup {
    pub whip_url: String,
    pub token: Option<String>,
    pub codec: BenchCodec,
    pub peer_config: PeerConfig,
    pub candidate_ip: Option<IpAddr>,
    pub clock: CaptureClock,
    pub stopping: Arc<AtomicBool>,
    pub seed: u64,
}

/// Starts the publisher; `connected` gets a message once media flows. The thread ends its
/// session when it stops, and returns what the server asked of it.
pub fn spawn(
    setup: PublisherSetup,
    connected: Sender<()>,
) -> io::Result<JoinHandle<Result<LoopStats, DriverError>>> {
    std::thread::Builder::new()
        .name("bench-publisher".into())
        .spawn(move || run(&setup, &connected))
}

fn run(setup: &PublisherSetup, connected: &Sender<()>) -> Result<LoopStats, DriverError> {
    let video = match setup.codec {
        BenchCodec::Vp8 => Track::vp8_ivf(VP8_FILE)?,
        BenchCodec::H264 => Track::h264_annexb(H264_FILE, H264_FRAMES_PER_SECOND)?,
    };
    let audio = Track::opus_ogg(OPUS_FILE)?;
    let mut config = setup.peer_config.clone();
    let early_socket = match setup.candidate_ip {
        Some(ip) => {
            let socket = bind_like(ip)?;
            config.host_candidates = vec![SocketAddr::new(ip, socket.local_addr()?.port())];
            Some(socket)
        }
        None => None,
    };
    let mut peer = ClientPeer::new(Role::Publish, &config, setup.seed, Instant::now());
    let token = setup.token.as_deref();
    let offer = offer_only(peer.offer_sdp(), setup.codec.payload_type());
    let negotiated = post_offer(&setup.whip_url, token, &offer, HTTP_TIMEOUT)
        .map_err(DriverError::PublisherRefused)?;
    let result = peer
        .accept_answer(Instant::now(), &negotiated.answer_sdp)
        .map_err(DriverError::PublisherAnswer)
        .and_then(|()| {
            let socket = match early_socket {
                Some(socket) => socket,
                None => bind_for_answer(&peer)?,
            };
            let tracks = tracks(&peer, setup.codec, video, audio, setup.seed)?;
            Publisher::new(peer, socket, setup.clock)?.run(tracks, setup, connected)
        });
    // The server would end the session on its own once we fall silent.
    let _ended = delete_session(&negotiated.resource_url, token, HTTP_TIMEOUT);
    result
}

fn bind_for_answer(peer: &ClientPeer) -> Result<UdpSocket, DriverError> {
    let first = peer
        .remote()
        .and_then(|remote| remote.candidates.first())
        .ok_or(DriverError::PublisherAnswer(PeerError::NoCandidate))?;
    Ok(bind_like(first.ip())?)
}

/// The tracks to send with their RTP identities: the video codec must be in the answer;
/// audio goes only when the server accepted it.
fn tracks(
    peer: &ClientPeer,
    codec: BenchCodec,
    video: Track,
    audio: Track,
    seed: u64,
) -> Result<Vec<(Track, RtpIdentity)>, DriverError> {
    let accepts = |kind: MediaKind, payload_type: u8| {
        peer.remote()
            .and_then(|remote| remote.section(kind))
            .is_some_and(|section| {
                section
                    .codecs
                    .iter()
                    .any(|c| c.payload_type == payload_type)
            })
    };
    if !accepts(MediaKind::Video, codec.payload_type()) {
        return Err(DriverError::CodecRefused(codec.name()));
    }
    let local = peer.local();
    let mut rng = StdRng::seed_from_u64(!seed);
    let mut identity = |payload_type, ssrc| RtpIdentity {
        payload_type,
        ssrc,
        first_sequence_number: rng.random(),
        first_timestamp: rng.random(),
    };
    let mut tracks = vec![(video, identity(codec.payload_type(), local.video_ssrc))];
    if accepts(MediaKind::Audio, AUDIO_PAYLOAD_TYPE) {
        tracks.push((audio, identity(AUDIO_PAYLOAD_TYPE, local.audio_ssrc)));
    }
    Ok(tracks)
}

struct Publisher {
    peer: ClientPeer,
    socket: UdpSocket,
    clock: CaptureClock,
    buffer: Vec<u8>,
}

impl Publisher {
    fn new(peer: ClientPeer, socket: UdpSocket, clock: CaptureClock) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Ok(Self {
            peer,
            socket,
            clock,
            buffer: vec![0; 2048],
        })
    }

    fn run(
        mut self,
        tracks: Vec<(Track, RtpIdentity)>,
        setup: &PublisherSetup,
        connected: &Sender<()>,
    ) -> Result<LoopStats, DriverError> {
        let give_up = Instant::now() + CONNECT_TIMEOUT;
        while !self.peer.is_connected() {
            if Instant::now() >= give_up || setup.stopping.load(Ordering::Acquire) {
                return Err(DriverError::PublisherNotConnected(CONNECT_TIMEOUT));
            }
            self.turn(None)?;
        }
        let mut media = MediaLoop::new(tracks, MAX_PAYLOAD, Instant::now())?;
        // The run may already be over if nobody listens any more.
        let _listening = connected.send(());
        while !setup.stopping.load(Ordering::Acquire) {
            self.turn(Some(&mut media))?;
        }
        Ok(media.stats())
    }

    /// Receives, answers feedback, sends what is due, then waits for the next deadline.
    fn turn(&mut self, mut media: Option<&mut MediaLoop>) -> Result<(), DriverError> {
        let now = Instant::now();
        self.receive(now)?;
        if self.peer.poll_timeout().is_some_and(|due| due <= now) {
            self.peer.handle_timeout(now);
        }
        while let Some(event) = self.peer.poll_event() {
            match (event, media.as_deref_mut()) {
                (PeerEvent::Disconnected { reason }, _) => {
                    return Err(DriverError::PublisherLost(reason));
                }
                (PeerEvent::Nack { media_ssrc, lost }, Some(media)) => {
                    for seq in lost {
                        if let Some(packet) = media.retransmit(media_ssrc, seq) {
                            self.send_media(now, &packet);
                        }
                    }
                }
                (PeerEvent::KeyframeRequest { media_ssrc }, Some(media)) => {
                    media.request_keyframe(media_ssrc);
                }
                _ => {}
            }
        }
        if let Some(media) = media.as_deref_mut() {
            for _ in 0..PACKETS_PER_TURN {
                let Some(packet) = media.poll(now) else {
                    break;
                };
                self.send_media(now, &packet);
            }
        }
        while let Some((destination, datagram)) = self.peer.poll_transmit() {
            // A datagram the kernel will not take is lost, as on any network; NACKs and
            // retransmissions recover media, the peer retries handshakes.
            let _sent = self.socket.send_to(&datagram, destination);
        }
        let deadline = [
            self.peer.poll_timeout(),
            media.and_then(|media| media.poll_timeout()),
            Some(now + IDLE_WAIT),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now);
        wait_readable(
            &self.socket,
            deadline.saturating_duration_since(Instant::now()),
        )?;
        Ok(())
    }

    fn receive(&mut self, now: Instant) -> io::Result<()> {
        for _ in 0..DATAGRAMS_PER_TURN {
            match self.socket.recv_from(&mut self.buffer) {
                Ok((length, source)) => {
                    let datagram = self.buffer.get(..length).unwrap_or_default();
                    self.peer.handle_receive(now, source, datagram);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                // An ICMP error for an earlier send: that datagram was lost, nothing more.
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Sends one media packet stamped with `now` as its capture time. It fails only once
    /// the session is gone, which the next turn reports.
    fn send_media(&mut self, now: Instant, packet: &OutgoingPacket) {
        let capture = self.clock.ntp(now);
        let _queued = self
            .peer
            .send_rtp(&packet.header, &packet.payload, Some(capture));
    }
}

//! The publisher thread: one WHIP session sending the media files in a loop, answering
//! NACKs from its send cache and keyframe requests by jumping to the next keyframe, and
//! stamping every packet with its send time. Any failure here ends the run. With
//! `--link-delay` its datagrams are held on the way out and in, like the viewers'.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shardcast_control::{MediaKind, Role};

use crate::media::{LoopStats, MediaLoop, OutgoingPacket, RtpIdentity, RtxIdentity, Track};
use crate::peer::{
    AUDIO_PAYLOAD_TYPE, ClientPeer, LocalDescription, PeerConfig, PeerError, PeerEvent,
    RemoteDescription,
};
use crate::whip_client::{ClientTls, delete_session, post_offer};

use super::clock::CaptureClock;
use super::codec_offer::offer_only;
use super::joins::HTTP_TIMEOUT;
use super::link_delay::LinkDelay;
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
    pub tls: ClientTls,
    pub codec: BenchCodec,
    pub peer_config: PeerConfig,
    pub candidate_ip: Option<IpAddr>,
    pub clock: CaptureClock,
    pub stopping: Arc<AtomicBool>,
    pub seed: u64,
    /// `--link-delay`, each way; zero holds nothing.
    pub link_delay: Duration,
    pub link_overflowed: Arc<AtomicU64>,
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
    let negotiated = post_offer(&setup.whip_url, token, &offer, HTTP_TIMEOUT, &setup.tls)
        .map_err(DriverError::PublisherRefused)?;
    let result = peer
        .accept_answer(Instant::now(), &negotiated.answer_sdp)
        .map_err(DriverError::PublisherAnswer)
        .and_then(|()| {
            let socket = match early_socket {
                Some(socket) => socket,
                None => bind_for_answer(&peer)?,
            };
            let tracks = tracks(
                peer.remote(),
                peer.local(),
                setup.codec,
                video,
                audio,
                setup.seed,
            )?;
            let link = LinkDelay::new(setup.link_delay, setup.link_overflowed.clone());
            Publisher::new(peer, socket, setup.clock, link)?.run(tracks, setup, connected)
        });
    // The server would end the session on its own once we fall silent.
    let _ended = delete_session(&negotiated.resource_url, token, HTTP_TIMEOUT, &setup.tls);
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
/// audio goes only when the server accepted it. Video is resent in its RTX stream (the one
/// the offer declared) when the answer paired an RTX payload type with the codec, as a
/// browser does, and as the original packets otherwise.
fn tracks(
    remote: Option<&RemoteDescription>,
    local: &LocalDescription,
    codec: BenchCodec,
    video: Track,
    audio: Track,
    seed: u64,
) -> Result<Vec<(Track, RtpIdentity)>, DriverError> {
    let accepts = |kind: MediaKind, payload_type: u8| {
        remote
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
    let mut rng = StdRng::seed_from_u64(!seed);
    let video_rtx = remote
        .and_then(|remote| remote.rtx_payload_type(MediaKind::Video, codec.payload_type()))
        .map(|payload_type| RtxIdentity {
            payload_type,
            ssrc: local.video_rtx_ssrc,
            first_sequence_number: rng.random(),
        });
    let mut identity = |payload_type, ssrc, rtx| RtpIdentity {
        payload_type,
        ssrc,
        first_sequence_number: rng.random(),
        first_timestamp: rng.random(),
        rtx,
    };
    let video_identity = identity(codec.payload_type(), local.video_ssrc, video_rtx);
    let mut tracks = vec![(video, video_identity)];
    if accepts(MediaKind::Audio, AUDIO_PAYLOAD_TYPE) {
        tracks.push((audio, identity(AUDIO_PAYLOAD_TYPE, local.audio_ssrc, None)));
    }
    Ok(tracks)
}

struct Publisher {
    peer: ClientPeer,
    socket: UdpSocket,
    clock: CaptureClock,
    buffer: Vec<u8>,
    link: Option<LinkDelay<()>>,
}

impl Publisher {
    fn new(
        peer: ClientPeer,
        socket: UdpSocket,
        clock: CaptureClock,
        link: Option<LinkDelay<()>>,
    ) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Ok(Self {
            peer,
            socket,
            clock,
            buffer: vec![0; 2048],
            link,
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
        let delayed_backlog = self.deliver_delayed(now);
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
        self.send_transmits(now);
        let next = [
            self.peer.poll_timeout(),
            media.and_then(|media| media.poll_timeout()),
            self.link.as_ref().and_then(LinkDelay::next_release),
        ];
        let deadline = if delayed_backlog {
            now
        } else {
            next.into_iter()
                .flatten()
                .fold(now + IDLE_WAIT, Instant::min)
        };
        wait_readable(
            &self.socket,
            deadline.saturating_duration_since(Instant::now()),
        )?;
        Ok(())
    }

    /// Puts what the peer has to send on the socket, or on the link when it delays.
    fn send_transmits(&mut self, now: Instant) {
        while let Some((destination, datagram)) = self.peer.poll_transmit() {
            match self.link.as_mut() {
                Some(link) => link.hold_sent(now, (), destination, datagram),
                None => send(&self.socket, &datagram, destination),
            }
        }
        if let Some(link) = self.link.as_mut() {
            while let Some(held) = link.release_sent(now) {
                send(&self.socket, &held.bytes, held.address);
            }
        }
    }

    /// Hands the held received datagrams that are due to the peer; true when more are due
    /// than one turn takes.
    fn deliver_delayed(&mut self, now: Instant) -> bool {
        let Some(link) = self.link.as_mut() else {
            return false;
        };
        link.deliver_received(now, DATAGRAMS_PER_TURN, |(), source, datagram| {
            self.peer.handle_receive(now, source, datagram);
        })
    }

    fn receive(&mut self, now: Instant) -> io::Result<()> {
        for _ in 0..DATAGRAMS_PER_TURN {
            match self.socket.recv_from(&mut self.buffer) {
                Ok((length, source)) => {
                    let datagram = self.buffer.get(..length).unwrap_or_default();
                    match self.link.as_mut() {
                        Some(link) => link.hold_received(now, (), source, datagram),
                        None => self.peer.handle_receive(now, source, datagram),
                    }
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

/// A datagram the kernel will not take is lost, as on any network; NACKs and
/// retransmissions recover media, the peer retries handshakes.
fn send(socket: &UdpSocket, datagram: &[u8], destination: SocketAddr) {
    let _sent = socket.send_to(datagram, destination);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardcast_control::Fingerprint;

    /// A server's answer accepting VP8 and Opus, with `video_extra` in the video m-line.
    fn answer(video_extra: &str) -> RemoteDescription {
        let sdp = format!(
            "v=0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 AB:01\r\n\
             a=candidate:1 1 udp 1 192.0.2.1 9000 typ host\r\n\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96 98\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n\
             {video_extra}"
        );
        RemoteDescription::parse(&sdp).unwrap()
    }

    fn video_identity(remote: &RemoteDescription) -> (LocalDescription, RtpIdentity) {
        let fingerprint = Fingerprint {
            algorithm: "sha-256".into(),
            value: vec![1],
        };
        let mut rng = StdRng::seed_from_u64(1);
        let local = LocalDescription::generate(Role::Publish, fingerprint, &mut rng);
        let video = Track::vp8_ivf(VP8_FILE).unwrap();
        let audio = Track::opus_ogg(OPUS_FILE).unwrap();
        let tracks = tracks(Some(remote), &local, BenchCodec::Vp8, video, audio, 5).unwrap();
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[1].1.rtx, None, "audio is never resent");
        (local, tracks[0].1)
    }

    #[test]
    fn video_is_resent_in_the_declared_rtx_stream_with_the_answers_payload_type() {
        // The server may number RTX differently from our offer; its answer decides.
        let accepted = answer("a=rtpmap:98 rtx/90000\r\na=fmtp:98 apt=96\r\n");
        let (local, video) = video_identity(&accepted);
        assert_eq!(video.ssrc, local.video_ssrc);
        let rtx = video.rtx.unwrap();
        assert_eq!((rtx.payload_type, rtx.ssrc), (98, local.video_rtx_ssrc));
    }

    #[test]
    fn video_is_resent_plain_when_the_answer_left_rtx_out() {
        let (local, video) = video_identity(&answer(""));
        assert_eq!(video.ssrc, local.video_ssrc);
        assert_eq!(video.rtx, None);
        let rtx_for_another_codec = answer("a=rtpmap:98 rtx/90000\r\na=fmtp:98 apt=102\r\n");
        assert_eq!(video_identity(&rtx_for_another_codec).1.rtx, None);
    }
}

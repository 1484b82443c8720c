//! The per-viewer work of the engine's fan-out, done with the engine's own code: egress
//! rewrites the publisher's packet for the viewer (SSRC, payload type, sequence number,
//! timestamp, extension IDs) straight into the send buffer, and the viewer's SRTP session
//! encrypts it there, as `Session::write_media_onto` does.

use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shardcast_control::{Codec, CodecName, Extension, MediaKind, MediaSection};
use shardcast_proto::egress::{EgressOutcome, ViewerEgress};
use shardcast_proto::media::MediaPacket;
use shardcast_proto::rtp::extension::{ABS_CAPTURE_TIME_URI, MID_URI};
use shardcast_proto::srtp::{SrtpError, SrtpKeys, SrtpMasterKey, SrtpProfile, SrtpSession};

use super::stream::{AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE};

/// What the engine's viewers end up with: dimpl picks AES-256-GCM first whenever the peer
/// offers it, as browsers and the bench's viewers do.
const PROFILE: SrtpProfile = SrtpProfile::AeadAes256Gcm;

struct Viewer {
    destination: SocketAddr,
    egress: ViewerEgress,
    srtp: SrtpSession,
}

pub struct Viewers {
    viewers: Vec<Viewer>,
}

impl Viewers {
    /// One viewer per destination, each with its own SSRCs, numbering and SRTP keys.
    pub fn new(destinations: &[SocketAddr], seed: u64) -> Result<Self, SrtpError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let sections = sections();
        let viewers = destinations
            .iter()
            .map(|&destination| {
                let ssrcs = [rng.random(), rng.random()];
                let egress = ViewerEgress::new(&sections, &ssrcs, rng.random(), rng.random());
                let keys = SrtpKeys {
                    profile: PROFILE,
                    local: master_key(&mut rng),
                    remote: master_key(&mut rng),
                };
                Ok(Viewer {
                    destination,
                    egress,
                    srtp: SrtpSession::new(&keys)?,
                })
            })
            .collect::<Result<_, SrtpError>>()?;
        Ok(Self { viewers })
    }

    pub fn len(&self) -> usize {
        self.viewers.len()
    }

    pub fn destination(&self, viewer: usize) -> Option<SocketAddr> {
        self.viewers.get(viewer).map(|v| v.destination)
    }

    /// Writes `packet` for `viewer` into `out` (cleared first) as an SRTP datagram. False when
    /// the viewer takes nothing (video before its first keyframe) or SRTP refuses the packet.
    pub fn write(
        &mut self,
        viewer: usize,
        now: Instant,
        packet: &MediaPacket,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(viewer) = self.viewers.get_mut(viewer) else {
            return false;
        };
        out.clear();
        match viewer.egress.write(now, packet, out) {
            EgressOutcome::Written(_) => viewer.srtp.protect_rtp_tail(out, 0).is_ok(),
            _ => false,
        }
    }
}

fn master_key(rng: &mut StdRng) -> SrtpMasterKey {
    let mut key = vec![0; PROFILE.master_key_len()];
    let mut salt = vec![0; PROFILE.master_salt_len()];
    rng.fill(&mut key[..]);
    rng.fill(&mut salt[..]);
    SrtpMasterKey { key, salt }
}

/// What a browser viewer negotiates: Opus on mid 0, VP8 on mid 1, with mid and capture-time
/// extensions under IDs other than the publisher's.
fn sections() -> Vec<MediaSection> {
    [
        (
            "0",
            MediaKind::Audio,
            CodecName::Opus,
            AUDIO_PAYLOAD_TYPE,
            48_000,
        ),
        (
            "1",
            MediaKind::Video,
            CodecName::Vp8,
            VIDEO_PAYLOAD_TYPE,
            90_000,
        ),
    ]
    .into_iter()
    .map(|(mid, kind, name, payload_type, clock_rate)| MediaSection {
        mid: mid.into(),
        kind,
        codecs: vec![Codec {
            payload_type,
            name,
            clock_rate,
            channels: (kind == MediaKind::Audio).then_some(2),
            fmtp: String::new(),
            rtx_payload_type: None,
            feedback: vec!["nack".into(), "nack pli".into()],
        }],
        extensions: vec![
            Extension {
                id: 4,
                uri: MID_URI.into(),
            },
            Extension {
                id: 7,
                uri: ABS_CAPTURE_TIME_URI.into(),
            },
        ],
        ssrcs: vec![],
        rtx_pairs: vec![],
        simulcast: Vec::new(),
    })
    .collect()
}

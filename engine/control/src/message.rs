//! The control messages. Everything here is already negotiated: the engine trusts the shape
//! but still checks values it uses (payload types, extension IDs) before acting on them.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::stats::ShardStats;

/// A request from signaling to one shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Create a publisher (WHIP) or viewer (WHEP) session on this shard.
    CreateSession(SessionRequest),
    /// End a session and free everything it holds.
    DeleteSession { session: String },
    /// Trickled remote candidates (ICE-lite learns addresses from checks; these are logged).
    AddCandidates {
        session: String,
        candidates: Vec<String>,
    },
    /// The shard's figures (answered with [`Response::Stats`]).
    Stats,
}

/// A shard's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "one reply per control request, moved a few times: its size costs nothing"
)]
pub enum Response {
    Session(SessionAnswer),
    Stats(ShardStats),
    Ok,
    Error { kind: ErrorKind, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No such session on this shard.
    NotFound,
    /// The request cannot be served as described (bad payload type, duplicate session...).
    BadRequest,
    /// Something already uses the name (a second publisher for a live stream).
    Conflict,
    /// The shard is shutting down or full.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Publish,
    Play,
}

/// The negotiated session, as signaling derived it from the offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRequest {
    /// Chosen by signaling; a viewer's shard is `shard_for(session)`.
    pub session: String,
    pub role: Role,
    pub stream: String,
    /// The remote peer's ICE credentials from the offer.
    pub remote_ufrag: String,
    pub remote_pwd: String,
    /// The remote certificate fingerprint from the offer.
    pub remote_fingerprint: Fingerprint,
    /// Our DTLS role, already resolved from the offer's `a=setup`.
    pub dtls_role: DtlsRole,
    /// The bundled media sections, in offer order.
    pub media: Vec<MediaSection>,
    /// A viewer's preferred simulcast layer (`?layer=` on the WHEP URL); the engine sends a
    /// lower one when the viewer's bandwidth is short, never a higher one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerPreference>,
}

/// Which simulcast layer a viewer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerPreference {
    Low,
    Mid,
    High,
}

impl LayerPreference {
    /// Parses the `?layer=` value.
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "low" => Some(Self::Low),
            "mid" => Some(Self::Mid),
            "high" => Some(Self::High),
            _ => None,
        }
    }

    /// The index of the preferred layer among `count` layers ordered lowest first. With two
    /// layers, `mid` is the upper one: a viewer asking for more than the lowest gets more.
    pub fn index(self, count: usize) -> usize {
        let top = count.saturating_sub(1);
        match self {
            Self::Low => 0,
            Self::Mid => top.min(1),
            Self::High => top,
        }
    }
}

/// `a=fingerprint:<algorithm> <hex bytes>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Lowercase hash name, e.g. `sha-256`.
    pub algorithm: String,
    /// The digest bytes.
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DtlsRole {
    /// We are the DTLS client (`a=setup:active` in our answer).
    Client,
    /// We are the DTLS server (`a=setup:passive` in our answer).
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
}

/// One accepted m-line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaSection {
    pub mid: String,
    pub kind: MediaKind,
    /// Codecs we accepted, in the peer's order of preference.
    pub codecs: Vec<Codec>,
    /// Header extensions we accepted: (id, uri).
    pub extensions: Vec<Extension>,
    /// SSRCs the peer declared for this section (publisher: media then RTX).
    pub ssrcs: Vec<u32>,
    /// `a=ssrc-group:FID media rtx` pairs the peer declared.
    pub rtx_pairs: Vec<(u32, u32)>,
    /// The rids of a publisher's rid-based simulcast (RFC 8853), lowest quality first; empty
    /// without simulcast. Packets name their layer with the RtpStreamId header extension
    /// (RFC 8852), and RTX packets with RepairedRtpStreamId.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub simulcast: Vec<String>,
}

/// A codec both sides support, with the payload type the peer chose for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codec {
    pub payload_type: u8,
    pub name: CodecName,
    pub clock_rate: u32,
    /// Audio channels (2 for Opus), absent for video.
    pub channels: Option<u8>,
    /// The `a=fmtp` parameters as written in the offer (echoed in the answer).
    pub fmtp: String,
    /// The RTX payload type bound to this codec (`apt=`), if any.
    pub rtx_payload_type: Option<u8>,
    /// `a=rtcp-fb` values for this payload type (`nack`, `nack pli`, `ccm fir`, `transport-cc`...).
    pub feedback: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodecName {
    #[serde(rename = "VP8")]
    Vp8,
    #[serde(rename = "VP9")]
    Vp9,
    #[serde(rename = "H264")]
    H264,
    #[serde(rename = "AV1")]
    Av1,
    #[serde(rename = "opus")]
    Opus,
}

impl CodecName {
    /// The encoding name as written in `a=rtpmap`.
    pub fn as_sdp(self) -> &'static str {
        match self {
            CodecName::Vp8 => "VP8",
            CodecName::Vp9 => "VP9",
            CodecName::H264 => "H264",
            CodecName::Av1 => "AV1",
            CodecName::Opus => "opus",
        }
    }

    /// Matches an `a=rtpmap` encoding name, case-insensitively as RFC 8866 says.
    pub fn from_sdp(name: &str) -> Option<Self> {
        [Self::Vp8, Self::Vp9, Self::H264, Self::Av1, Self::Opus]
            .into_iter()
            .find(|c| c.as_sdp().eq_ignore_ascii_case(name))
    }

    pub fn kind(self) -> MediaKind {
        match self {
            CodecName::Opus => MediaKind::Audio,
            _ => MediaKind::Video,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub id: u8,
    pub uri: String,
}

/// What signaling needs from the shard to write the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionAnswer {
    pub session: String,
    pub ice_ufrag: String,
    pub ice_pwd: String,
    /// Our certificate fingerprint (always sha-256).
    pub fingerprint: Fingerprint,
    /// Host candidates: the shard's port on each advertised address.
    pub candidates: Vec<SocketAddr>,
    /// Per media section (same order as the request): the SSRCs we send with, for viewers.
    pub media: Vec<MediaAnswer>,
    /// The CNAME we use in RTCP SDES and `a=ssrc` lines.
    pub cname: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaAnswer {
    pub mid: String,
    /// The SSRC we send media with (viewers); None for what we only receive.
    pub ssrc: Option<u32>,
    /// The SSRC we send RTX with, when the viewer negotiated RTX.
    pub rtx_ssrc: Option<u32>,
}

/// Written by the engine to `engine.json` in the control directory once all shards listen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub shards: usize,
    pub pid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode};

    #[test]
    fn request_round_trips_as_one_line() {
        let request = Request::CreateSession(SessionRequest {
            session: "s1".into(),
            role: Role::Play,
            stream: "demo".into(),
            remote_ufrag: "u".into(),
            remote_pwd: "p".into(),
            remote_fingerprint: Fingerprint {
                algorithm: "sha-256".into(),
                value: vec![1, 2, 3],
            },
            dtls_role: DtlsRole::Server,
            media: vec![MediaSection {
                mid: "0".into(),
                kind: MediaKind::Video,
                codecs: vec![Codec {
                    payload_type: 96,
                    name: CodecName::Vp8,
                    clock_rate: 90000,
                    channels: None,
                    fmtp: String::new(),
                    rtx_payload_type: Some(97),
                    feedback: vec!["nack pli".into()],
                }],
                extensions: vec![Extension {
                    id: 4,
                    uri: "urn:ietf:params:rtp-hdrext:sdes:mid".into(),
                }],
                ssrcs: vec![],
                rtx_pairs: vec![],
                simulcast: vec!["q".into(), "h".into(), "f".into()],
            }],
            layer: Some(LayerPreference::Mid),
        });
        let line = encode(&request);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(decode::<Request>(&line).unwrap(), request);
    }

    #[test]
    fn layer_preferences_pick_an_existing_layer() {
        assert_eq!(
            LayerPreference::from_query("mid"),
            Some(LayerPreference::Mid)
        );
        assert_eq!(LayerPreference::from_query("HIGH"), None);
        let indexes = |count| {
            [
                LayerPreference::Low,
                LayerPreference::Mid,
                LayerPreference::High,
            ]
            .map(|p| p.index(count))
        };
        assert_eq!(indexes(3), [0, 1, 2]);
        assert_eq!(indexes(2), [0, 1, 1]);
        assert_eq!(indexes(1), [0, 0, 0]);
        assert_eq!(indexes(0), [0, 0, 0]);
    }

    #[test]
    fn codec_names_match_sdp_case_insensitively() {
        assert_eq!(CodecName::from_sdp("vp8"), Some(CodecName::Vp8));
        assert_eq!(CodecName::from_sdp("OPUS"), Some(CodecName::Opus));
        assert_eq!(CodecName::from_sdp("PCMU"), None);
    }
}

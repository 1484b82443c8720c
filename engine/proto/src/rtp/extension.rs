//! The RTP header extensions we understand and the per-session id mapping (RFC 8285).

use shardcast_control::Extension;

pub const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
pub const ABS_SEND_TIME_URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
pub const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
pub const VIDEO_ORIENTATION_URI: &str = "urn:3gpp:video-orientation";
pub const TRANSMISSION_OFFSET_URI: &str = "urn:ietf:params:rtp-hdrext:toffset";
pub const PLAYOUT_DELAY_URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";
pub const ABS_CAPTURE_TIME_URI: &str =
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";
pub const RTP_STREAM_ID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
pub const REPAIRED_RTP_STREAM_ID_URI: &str =
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";

/// A header extension we know by its URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtensionKind {
    Mid,
    AbsSendTime,
    TransportCc,
    AudioLevel,
    VideoOrientation,
    TransmissionOffset,
    PlayoutDelay,
    AbsCaptureTime,
    RtpStreamId,
    RepairedRtpStreamId,
}

impl ExtensionKind {
    pub const ALL: [ExtensionKind; 10] = [
        ExtensionKind::Mid,
        ExtensionKind::AbsSendTime,
        ExtensionKind::TransportCc,
        ExtensionKind::AudioLevel,
        ExtensionKind::VideoOrientation,
        ExtensionKind::TransmissionOffset,
        ExtensionKind::PlayoutDelay,
        ExtensionKind::AbsCaptureTime,
        ExtensionKind::RtpStreamId,
        ExtensionKind::RepairedRtpStreamId,
    ];

    pub fn uri(self) -> &'static str {
        match self {
            ExtensionKind::Mid => MID_URI,
            ExtensionKind::AbsSendTime => ABS_SEND_TIME_URI,
            ExtensionKind::TransportCc => TRANSPORT_CC_URI,
            ExtensionKind::AudioLevel => AUDIO_LEVEL_URI,
            ExtensionKind::VideoOrientation => VIDEO_ORIENTATION_URI,
            ExtensionKind::TransmissionOffset => TRANSMISSION_OFFSET_URI,
            ExtensionKind::PlayoutDelay => PLAYOUT_DELAY_URI,
            ExtensionKind::AbsCaptureTime => ABS_CAPTURE_TIME_URI,
            ExtensionKind::RtpStreamId => RTP_STREAM_ID_URI,
            ExtensionKind::RepairedRtpStreamId => REPAIRED_RTP_STREAM_ID_URI,
        }
    }

    /// Matches an `a=extmap` URI exactly; URIs are case-sensitive identifiers.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.uri() == uri)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The negotiated `a=extmap` ids of one session, looked up both ways without hashing.
///
/// Id 0 is never valid and is ignored. Id 15 is kept: it cannot appear in one-byte elements
/// (the parser stops there) but is a valid two-byte id. When an id or a kind is listed twice,
/// the first entry wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionMap {
    kind_by_id: [Option<ExtensionKind>; 256],
    ids: ExtensionIds,
}

/// The negotiated id of each extension kind: the half of an [`ExtensionMap`] that writing a
/// packet needs, a few bytes where the whole map is over 256. A viewer's tracks keep only this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtensionIds([Option<u8>; ExtensionKind::ALL.len()]);

impl ExtensionIds {
    pub fn id_of(&self, kind: ExtensionKind) -> Option<u8> {
        self.0[kind.index()]
    }
}

impl ExtensionMap {
    pub fn new(extensions: &[Extension]) -> Self {
        let mut map = Self::default();
        for extension in extensions {
            let Some(kind) = ExtensionKind::from_uri(&extension.uri) else {
                continue;
            };
            let id = extension.id;
            if id == 0 || map.kind_of(id).is_some() {
                continue;
            }
            map.kind_by_id[usize::from(id)] = Some(kind);
            map.ids.0[kind.index()].get_or_insert(id);
        }
        map
    }

    pub fn kind_of(&self, id: u8) -> Option<ExtensionKind> {
        self.kind_by_id[usize::from(id)]
    }

    pub fn id_of(&self, kind: ExtensionKind) -> Option<u8> {
        self.ids.id_of(kind)
    }

    pub fn ids(&self) -> ExtensionIds {
        self.ids
    }
}

impl Default for ExtensionMap {
    fn default() -> Self {
        Self {
            kind_by_id: [None; 256],
            ids: ExtensionIds::default(),
        }
    }
}

impl From<&[Extension]> for ExtensionMap {
    fn from(extensions: &[Extension]) -> Self {
        Self::new(extensions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(id: u8, uri: &str) -> Extension {
        Extension {
            id,
            uri: uri.to_string(),
        }
    }

    #[test]
    fn uris_round_trip() {
        for kind in ExtensionKind::ALL {
            assert_eq!(ExtensionKind::from_uri(kind.uri()), Some(kind));
        }
        assert_eq!(ExtensionKind::from_uri("urn:example:unknown"), None);
        assert_eq!(ExtensionKind::from_uri(&MID_URI.to_uppercase()), None);
    }

    #[test]
    fn maps_ids_both_ways() {
        let map = ExtensionMap::new(&[
            ext(1, MID_URI),
            ext(3, TRANSPORT_CC_URI),
            ext(4, "urn:example:unknown"),
            ext(200, RTP_STREAM_ID_URI),
        ]);
        assert_eq!(map.kind_of(1), Some(ExtensionKind::Mid));
        assert_eq!(map.kind_of(3), Some(ExtensionKind::TransportCc));
        assert_eq!(map.kind_of(4), None);
        assert_eq!(map.kind_of(200), Some(ExtensionKind::RtpStreamId));
        assert_eq!(map.id_of(ExtensionKind::TransportCc), Some(3));
        assert_eq!(map.id_of(ExtensionKind::AudioLevel), None);
    }

    #[test]
    fn ignores_id_zero_and_duplicates() {
        let map = ExtensionMap::new(&[
            ext(0, MID_URI),
            ext(2, AUDIO_LEVEL_URI),
            ext(2, MID_URI),
            ext(5, AUDIO_LEVEL_URI),
        ]);
        assert_eq!(map.kind_of(0), None);
        assert_eq!(map.id_of(ExtensionKind::Mid), None);
        assert_eq!(map.kind_of(2), Some(ExtensionKind::AudioLevel));
        assert_eq!(map.id_of(ExtensionKind::AudioLevel), Some(2));
        assert_eq!(map.kind_of(5), Some(ExtensionKind::AudioLevel));
    }
}

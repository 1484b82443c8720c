//! The publisher's media: real encoded files, read once into frames, then sent in a loop.
//!
//! The readers turn file bytes into [`Frame`]s (`ivf` for VP8, `annexb` for H.264, `ogg` and
//! `opus` for Opus), `packetize` cuts frames into RTP payloads, and [`MediaLoop`] paces them
//! by their timestamps against an explicit `now`, answering NACKs from a send cache (in an
//! RTX stream when the server accepted one, `rtx`) and keyframe requests by skipping to the
//! next keyframe in the file, the way a live encoder would. The files themselves and how
//! they were made are in `bench/media/README.md`.

pub mod annexb;
pub mod ivf;
mod media_loop;
pub mod ogg;
pub mod opus;
pub mod packetize;
mod rtx;
mod send_cache;
mod track_sender;

pub use media_loop::{LoopStats, MediaLoop};
pub use rtx::{RtxIdentity, RtxStream};
pub use send_cache::SendCache;
pub use track_sender::{OutgoingPacket, RtpIdentity, TrackSender};

use packetize::PayloadFormat;
use shardcast_control::{CodecName, MediaKind};

/// The RTP clock of every video codec here (RFC 7741, RFC 6184).
pub const VIDEO_CLOCK_RATE: u32 = 90_000;

/// The RTP clock of Opus, whatever the actual sampling rate (RFC 7587 4.1).
pub const OPUS_CLOCK_RATE: u32 = 48_000;

/// One encoded frame of a file: a video picture or one Opus packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// When it is presented, in ticks of the track's RTP clock since the file's first frame.
    pub timestamp: u64,
    /// Ticks until the next frame; for the last frame, until the file loops.
    pub duration: u32,
    /// A decoder can start here: a VP8 key frame, an H.264 IDR access unit, any Opus packet.
    pub keyframe: bool,
    /// The encoded bytes as the packetizer for the codec expects them.
    pub data: Vec<u8>,
}

/// A whole file, read and checked: at least one frame, starting with a keyframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    format: PayloadFormat,
    frames: Vec<Frame>,
}

impl Track {
    /// Reads a VP8 IVF file.
    pub fn vp8_ivf(bytes: &[u8]) -> Result<Self, MediaError> {
        Self::new(PayloadFormat::Vp8, ivf::read_vp8_frames(bytes)?)
    }

    /// Reads an H.264 Annex-B elementary stream, which carries no timing: frames are
    /// `frames_per_second` apart.
    pub fn h264_annexb(bytes: &[u8], frames_per_second: u32) -> Result<Self, MediaError> {
        Self::new(
            PayloadFormat::H264,
            annexb::read_access_units(bytes, frames_per_second)?,
        )
    }

    /// Reads an Ogg Opus file.
    pub fn opus_ogg(bytes: &[u8]) -> Result<Self, MediaError> {
        Self::new(PayloadFormat::Opus, opus::read_ogg_opus(bytes)?)
    }

    fn new(format: PayloadFormat, frames: Vec<Frame>) -> Result<Self, MediaError> {
        match frames.first() {
            None => Err(MediaError::NoFrames),
            // A viewer joining at the loop point must be able to decode from there.
            Some(first) if !first.keyframe => Err(MediaError::FirstFrameNotKeyframe),
            Some(_) => Ok(Self { format, frames }),
        }
    }

    pub fn format(&self) -> PayloadFormat {
        self.format
    }

    pub fn codec(&self) -> CodecName {
        self.format.codec_name()
    }

    pub fn kind(&self) -> MediaKind {
        match self.format {
            PayloadFormat::Opus => MediaKind::Audio,
            PayloadFormat::Vp8 | PayloadFormat::H264 => MediaKind::Video,
        }
    }

    pub fn clock_rate(&self) -> u32 {
        match self.kind() {
            MediaKind::Audio => OPUS_CLOCK_RATE,
            MediaKind::Video => VIDEO_CLOCK_RATE,
        }
    }

    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Ticks from the first frame until the file starts over.
    pub fn loop_duration(&self) -> u64 {
        self.frames
            .last()
            .map_or(0, |last| last.timestamp + u64::from(last.duration))
    }
}

/// Why a media file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("{format}: {what} runs past the end of the file at byte {at}")]
    Truncated {
        format: &'static str,
        what: &'static str,
        at: usize,
    },
    #[error("{format}: {what}")]
    Malformed {
        format: &'static str,
        what: &'static str,
    },
    #[error("IVF file holds {0:?}, not VP8")]
    NotVp8([u8; 4]),
    #[error("frame timestamps go backwards at frame {0}")]
    TimestampsNotIncreasing(usize),
    #[error("the file holds no frames")]
    NoFrames,
    #[error("the first frame is not a keyframe")]
    FirstFrameNotKeyframe,
    #[error("two tracks with SSRC {0:#x}")]
    DuplicateSsrc(u32),
}

#[cfg(test)]
pub(crate) mod test_files {
    //! The real files in `bench/media`, for tests.

    use std::path::Path;

    pub fn read(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("media")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }
}

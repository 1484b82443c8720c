//! RTP packets (RFC 3550) and their header extensions (RFC 8285).
//!
//! Parsing borrows the datagram and never allocates: [`RtpPacket`] only records where the
//! header, extensions and payload sit. Writing goes into a buffer the caller owns.

pub mod extension;
mod packet;
pub mod sequence;
mod write;

pub use extension::{ExtensionIds, ExtensionKind, ExtensionMap};
pub use packet::{ExtensionIter, RtpPacket};
pub use sequence::{SequenceUnwrapper, TimestampUnwrapper, is_newer_seq, is_newer_ts};
pub use write::{RtpHeader, pad_rtp_onto, rewrite_header_in_place, write_rtp, write_rtp_onto};

/// The fixed part of every RTP header.
pub const FIXED_HEADER_LEN: usize = 12;

/// The "defined by profile" value announcing one-byte header extensions (RFC 8285 4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;

/// The two-byte header extension profile (RFC 8285 4.3); the low four bits are application bits.
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// Why a buffer is not a usable RTP packet, or why one cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet shorter than the fixed RTP header")]
    TooShort,
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    #[error("CSRC list runs past the end of the packet")]
    CsrcOverrun,
    #[error("header extension runs past the end of the packet")]
    ExtensionOverrun,
    #[error("padding length {0} does not fit the packet")]
    BadPadding(u8),
    #[error("header extension id {id} with {len} bytes cannot be written")]
    InvalidExtension { id: u8, len: usize },
    #[error("header extensions longer than the 16-bit length field allows")]
    ExtensionsTooLong,
    #[error("output buffer of {available} bytes, {needed} needed")]
    BufferTooSmall { needed: usize, available: usize },
}

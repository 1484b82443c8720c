//! RTCP (RFC 3550) with the feedback messages WebRTC uses: NACK and PLI (RFC 4585), FIR
//! (RFC 5104), REMB (draft-alvestrand-rmcat-remb) and transport-wide CC ([`TransportCcFeedback`],
//! [`write_transport_cc`]).
//!
//! [`iter_compound`] walks a compound packet without allocating: lists inside a packet (report
//! blocks, NACK items, SSRCs) are lazy iterators over the borrowed bytes. Writers append whole
//! packets to a `Vec<u8>` so a caller can build a compound packet by calling several in a row.

mod bye;
mod feedback;
mod ntp;
mod packet;
mod report;
mod sdes;
mod transport_cc;
mod transport_cc_write;

pub use bye::{SsrcList, write_bye};
pub use feedback::{FirEntries, NackItems, write_fir, write_nack, write_pli, write_remb};
pub use ntp::{compact_from_duration, compact_ntp, duration_from_compact, ntp_from_unix_micros};
pub use packet::{CompoundIter, RtcpPacket, iter_compound};
pub use report::{
    ReportBlock, ReportBlocks, SenderInfo, write_receiver_report, write_sender_report,
};
pub use sdes::{SDES_CNAME, SdesChunk, SdesChunks, SdesItems, write_sdes_cname};
pub use transport_cc::{
    DELTA_UNIT_US, PacketReport, REFERENCE_UNIT_US, Reports, TransportCcError, TransportCcFeedback,
};
pub use transport_cc_write::{
    FeedbackWritten, MAX_FEEDBACK_LEN, PacketArrival, TransportCcHeader, write_transport_cc,
};

pub const PT_SENDER_REPORT: u8 = 200;
pub const PT_RECEIVER_REPORT: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
/// Transport-layer feedback (RFC 4585): NACK, transport-wide CC.
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585): PLI, FIR, REMB.
pub const PT_PSFB: u8 = 206;

/// The most report blocks, SSRCs or SDES chunks one packet can count (a 5-bit field).
pub const MAX_COUNT: usize = 31;

/// Why a compound packet could not be read further, or a packet could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP header shorter than 4 bytes")]
    TooShort,
    #[error("RTCP version {0}, expected 2")]
    BadVersion(u8),
    #[error("RTCP length field runs past the end of the datagram")]
    LengthOverrun,
    #[error("RTCP padding length {0} does not fit the packet")]
    BadPadding(u8),
    #[error("RTCP packet type {packet_type} too short for its contents")]
    Truncated { packet_type: u8 },
    #[error("{count} entries do not fit one RTCP packet")]
    TooManyEntries { count: usize },
    #[error("RTCP packet longer than its 16-bit length field allows")]
    TooLong,
    #[error("SDES item of {len} bytes is longer than 255")]
    ItemTooLong { len: usize },
}

/// Reads a big-endian u32 at `at`, if the bytes are there.
fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Appends a common header with a zero length; [`finish_packet`] fills the length in.
fn begin_packet(out: &mut Vec<u8>, count_or_fmt: u8, packet_type: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0x80 | (count_or_fmt & 0x1f), packet_type, 0, 0]);
    start
}

/// Sets the length field of the packet begun at `start`, or removes the packet if it is
/// too long for the 16-bit field. The body must already be a multiple of four bytes.
fn finish_packet(out: &mut Vec<u8>, start: usize) -> Result<(), RtcpError> {
    let words = (out.len() - start) / 4 - 1;
    let Ok(length) = u16::try_from(words) else {
        out.truncate(start);
        return Err(RtcpError::TooLong);
    };
    out[start + 2..start + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

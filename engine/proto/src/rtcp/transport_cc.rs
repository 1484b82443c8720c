//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01,
//! RTPFB FMT=15): which of a run of transport-wide sequence numbers arrived, and when.
//!
//! [`TransportCcFeedback::parse`] checks the whole FCI once (every chunk present, every receive
//! delta present) without allocating; [`TransportCcFeedback::reports`] then walks it lazily.
//! A run of lost packets comes out as one report however long it is, so a hostile status count
//! costs at most a few steps per byte of the packet.

/// One unit of receive delta, in microseconds.
pub const DELTA_UNIT_US: i64 = 250;
/// One unit of reference time, in microseconds.
pub const REFERENCE_UNIT_US: i64 = 64_000;

const HEADER_LEN: usize = 8;
/// Symbols of a status vector chunk: one bit (14 per chunk) or two bits (7 per chunk).
const ONE_BIT_SYMBOLS: u16 = 14;
const TWO_BIT_SYMBOLS: u16 = 7;

/// Why a transport-cc FCI cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportCcError {
    #[error("transport-cc feedback shorter than its 8-byte header")]
    TooShort,
    #[error("transport-cc chunks end before the packet status count is covered")]
    MissingChunks,
    #[error("transport-cc receive deltas end early")]
    TruncatedDeltas,
    #[error("transport-cc status symbol 3 is reserved")]
    ReservedSymbol,
}

/// What one report says about one or more consecutive sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketReport {
    /// `seq` arrived `delta_us` after the previous received packet (after the reference time,
    /// for the first one).
    Received { seq: u16, delta_us: i64 },
    /// `count` packets from `first_seq` on did not arrive (yet).
    Lost { first_seq: u16, count: u16 },
}

/// A checked transport-cc FCI. Borrowed; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportCcFeedback<'a> {
    pub base_seq: u16,
    pub status_count: u16,
    /// 24-bit, in units of 64 ms, wrapping; only differences between feedbacks mean anything.
    pub reference_time: u32,
    pub feedback_count: u8,
    chunks: &'a [u8],
    deltas: &'a [u8],
}

/// The status symbols a chunk holds: (symbol of packet i, packets the chunk covers).
#[derive(Debug, Clone, Copy)]
enum Chunk {
    Run { symbol: u8, length: u16 },
    Vector { word: u16, two_bit: bool },
}

impl Chunk {
    fn decode(word: u16) -> Self {
        if word & 0x8000 == 0 {
            Chunk::Run {
                symbol: ((word >> 13) & 0x3) as u8,
                length: word & 0x1fff,
            }
        } else {
            Chunk::Vector {
                word,
                two_bit: word & 0x4000 != 0,
            }
        }
    }

    fn len(self) -> u16 {
        match self {
            Chunk::Run { length, .. } => length,
            Chunk::Vector { two_bit: true, .. } => TWO_BIT_SYMBOLS,
            Chunk::Vector { two_bit: false, .. } => ONE_BIT_SYMBOLS,
        }
    }

    fn symbol(self, index: u16) -> u8 {
        match self {
            Chunk::Run { symbol, .. } => symbol,
            Chunk::Vector {
                word,
                two_bit: true,
            } => ((word >> (12 - 2 * index)) & 0x3) as u8,
            Chunk::Vector {
                word,
                two_bit: false,
            } => ((word >> (13 - index)) & 0x1) as u8,
        }
    }
}

/// Bytes of receive delta a symbol carries.
fn delta_len(symbol: u8) -> Result<usize, TransportCcError> {
    match symbol {
        0 => Ok(0),
        1 => Ok(1),
        2 => Ok(2),
        _ => Err(TransportCcError::ReservedSymbol),
    }
}

impl<'a> TransportCcFeedback<'a> {
    /// Checks `fci` (the packet body after the two SSRCs); trailing padding is allowed.
    pub fn parse(fci: &'a [u8]) -> Result<Self, TransportCcError> {
        let (header, body) = fci
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(TransportCcError::TooShort)?;
        let status_count = u16::from_be_bytes([header[2], header[3]]);
        let mut covered: u32 = 0;
        let mut chunk_bytes = 0;
        let mut delta_bytes = 0usize;
        while covered < u32::from(status_count) {
            let pair = body
                .get(chunk_bytes..chunk_bytes + 2)
                .ok_or(TransportCcError::MissingChunks)?;
            chunk_bytes += 2;
            let chunk = Chunk::decode(u16::from_be_bytes([pair[0], pair[1]]));
            // The last chunk may describe more packets than the count; those are not reported.
            let used = u32::from(chunk.len()).min(u32::from(status_count) - covered) as u16;
            delta_bytes += match chunk {
                Chunk::Run { symbol, .. } => delta_len(symbol)? * usize::from(used),
                Chunk::Vector { .. } => (0..used)
                    .map(|i| delta_len(chunk.symbol(i)))
                    .sum::<Result<usize, _>>()?,
            };
            covered += u32::from(used);
        }
        let deltas = body
            .get(chunk_bytes..chunk_bytes + delta_bytes)
            .ok_or(TransportCcError::TruncatedDeltas)?;
        Ok(Self {
            base_seq: u16::from_be_bytes([header[0], header[1]]),
            status_count,
            reference_time: u32::from_be_bytes([0, header[4], header[5], header[6]]),
            feedback_count: header[7],
            chunks: &body[..chunk_bytes],
            deltas,
        })
    }

    /// The reports in sequence order; see [`PacketReport`].
    pub fn reports(&self) -> Reports<'a> {
        Reports {
            chunks: self.chunks,
            deltas: self.deltas,
            seq: self.base_seq,
            remaining: self.status_count,
            chunk: None,
        }
    }
}

/// See [`TransportCcFeedback::reports`].
#[derive(Debug, Clone)]
pub struct Reports<'a> {
    chunks: &'a [u8],
    deltas: &'a [u8],
    seq: u16,
    remaining: u16,
    /// The chunk being read, and the index of its next symbol.
    chunk: Option<(Chunk, u16)>,
}

impl Reports<'_> {
    fn take_delta(&mut self, symbol: u8) -> Option<i64> {
        let delta = match symbol {
            1 => {
                let (&byte, rest) = self.deltas.split_first()?;
                self.deltas = rest;
                i64::from(byte)
            }
            _ => {
                let (pair, rest) = self.deltas.split_first_chunk::<2>()?;
                self.deltas = rest;
                i64::from(i16::from_be_bytes(*pair))
            }
        };
        Some(delta * DELTA_UNIT_US)
    }
}

impl Iterator for Reports<'_> {
    type Item = PacketReport;

    fn next(&mut self) -> Option<PacketReport> {
        if self.remaining == 0 {
            return None;
        }
        // Empty run chunks describe nothing; each costs one step.
        let (chunk, index) = loop {
            match self.chunk {
                Some((chunk, index)) if index < chunk.len() => break (chunk, index),
                _ => {
                    let (pair, rest) = self.chunks.split_first_chunk::<2>()?;
                    self.chunks = rest;
                    self.chunk = Some((Chunk::decode(u16::from_be_bytes(*pair)), 0));
                }
            }
        };
        let seq = self.seq;
        let (report, count) = match (chunk, chunk.symbol(index)) {
            // A whole run of losses at once.
            (Chunk::Run { length, .. }, 0) => {
                let count = (length - index).min(self.remaining);
                (
                    PacketReport::Lost {
                        first_seq: seq,
                        count,
                    },
                    count,
                )
            }
            (_, 0) => (
                PacketReport::Lost {
                    first_seq: seq,
                    count: 1,
                },
                1,
            ),
            (_, symbol) => (
                PacketReport::Received {
                    seq,
                    delta_us: self.take_delta(symbol)?,
                },
                1,
            ),
        };
        self.chunk = Some((chunk, index + count));
        self.remaining -= count;
        self.seq = seq.wrapping_add(count);
        Some(report)
    }
}

/// Every packet a feedback reports, in order: its sequence number and its arrival time in µs
/// (the reference time, sign-extended from 24 bits, plus the deltas), or None when lost. What
/// tests compare a feedback against.
#[cfg(test)]
impl TransportCcFeedback<'_> {
    pub(crate) fn statuses(&self) -> Vec<(u16, Option<i64>)> {
        let reference = (i64::from(self.reference_time) << 40) >> 40;
        let mut time = reference * REFERENCE_UNIT_US;
        let mut statuses = Vec::new();
        for report in self.reports() {
            match report {
                PacketReport::Received { seq, delta_us } => {
                    time += delta_us;
                    statuses.push((seq, Some(time)));
                }
                PacketReport::Lost { first_seq, count } => {
                    statuses.extend((0..count).map(|i| (first_seq.wrapping_add(i), None)));
                }
            }
        }
        statuses
    }
}

#[cfg(test)]
#[path = "transport_cc_tests.rs"]
mod tests;

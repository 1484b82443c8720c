//! Writing transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
//! extensions-01, section 3.1): what a receiver tells a sender about the packets it numbered.
//!
//! [`write_transport_cc`] appends one feedback packet. It plans first (how many packets fit
//! [`MAX_FEEDBACK_LEN`], where a receive delta too large for 16 bits ends the packet), then
//! writes the chunks and the deltas in two passes over the same arrivals, so it needs no
//! scratch buffer: in steady state nothing allocates once `out` has its capacity.

use super::transport_cc::{DELTA_UNIT_US, REFERENCE_UNIT_US};
use super::{PT_RTPFB, begin_packet, finish_packet};

/// The longest feedback packet written (RTCP header included), so that it fits one datagram
/// with SRTCP's trailer and the IP and UDP headers on any path.
pub const MAX_FEEDBACK_LEN: usize = 1200;

const FMT_TRANSPORT_CC: u8 = 15;
/// RTCP header, sender and media SSRCs, then the FCI's own 8-byte header.
const FIXED_LEN: usize = 4 + 8 + 8;
/// Receive delta units per reference time unit.
const TICKS_PER_REFERENCE: i64 = REFERENCE_UNIT_US / DELTA_UNIT_US;
const REFERENCE_MASK: i64 = 0x00ff_ffff;
const MAX_RUN: u16 = 0x1fff;
const ONE_BIT_CAPACITY: u16 = 14;
const TWO_BIT_CAPACITY: u16 = 7;
/// Symbols: not received, received with a one-byte delta, received with a two-byte delta.
const LOST: u8 = 0;
const SMALL: u8 = 1;
const LARGE: u8 = 2;

/// A packet the receiver got: its transport-wide sequence number (extended to 64 bits) and
/// when it arrived, in microseconds on the receiver's own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketArrival {
    pub seq: u64,
    pub arrival_us: i64,
}

/// The SSRCs and number of one feedback packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportCcHeader {
    pub sender_ssrc: u32,
    pub media_ssrc: u32,
    /// Counts feedback packets, wrapping; lets the sender notice lost feedback.
    pub feedback_count: u8,
}

/// How far one feedback packet got through the arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedbackWritten {
    /// Arrivals described (or skipped as below the base or repeated); the next packet starts
    /// with the arrival after them.
    pub arrivals: usize,
    /// The first sequence number not described: the next packet's base.
    pub next_seq: u64,
}

/// Appends one transport-cc feedback packet describing the sequence numbers from `base_seq`
/// on: each one in `arrivals` as received, each gap as lost, up to the last arrival that fits.
///
/// `arrivals` must be in ascending sequence order; entries below `base_seq` or repeating an
/// earlier one are skipped. A packet ends early when it would exceed [`MAX_FEEDBACK_LEN`] or
/// 65535 statuses, or before an arrival whose delta does not fit 16 bits. Losses more than
/// 65534 before the first arrival are left out. `None`, with `out` untouched, when no arrival
/// is at or after `base_seq`; otherwise at least one arrival is described.
pub fn write_transport_cc(
    out: &mut Vec<u8>,
    header: &TransportCcHeader,
    base_seq: u64,
    arrivals: &[PacketArrival],
) -> Option<FeedbackWritten> {
    let first = arrivals.iter().position(|a| a.seq >= base_seq)?;
    let first_arrival = arrivals[first];
    let base_seq = base_seq.max(first_arrival.seq.saturating_sub(u64::from(u16::MAX - 1)));
    let reference = first_arrival.arrival_us.div_euclid(REFERENCE_UNIT_US);
    let plan = Plan::new(base_seq, reference * TICKS_PER_REFERENCE);
    let (end, plan) = plan.fit(&arrivals[first..]);
    let described = &arrivals[first..first + end];

    let start = begin_packet(out, FMT_TRANSPORT_CC, PT_RTPFB);
    out.extend_from_slice(&header.sender_ssrc.to_be_bytes());
    out.extend_from_slice(&header.media_ssrc.to_be_bytes());
    out.extend_from_slice(&(base_seq as u16).to_be_bytes());
    out.extend_from_slice(&((plan.next_seq - base_seq) as u16).to_be_bytes());
    out.extend_from_slice(&((reference & REFERENCE_MASK) as u32).to_be_bytes()[1..]);
    out.push(header.feedback_count);

    let mut chunks = Plan::new(base_seq, reference * TICKS_PER_REFERENCE);
    let mut push_chunk = |word: u16| out.extend_from_slice(&word.to_be_bytes());
    for arrival in described {
        chunks.take(arrival, &mut push_chunk);
    }
    if let Some(word) = chunks.encoder.finish() {
        push_chunk(word);
    }
    let mut deltas = Plan::new(base_seq, reference * TICKS_PER_REFERENCE);
    for arrival in described {
        if let Some(delta) = deltas.take(arrival, &mut |_| {}) {
            match u8::try_from(delta) {
                Ok(small) => out.push(small),
                Err(_) => out.extend_from_slice(&(delta as i16).to_be_bytes()),
            }
        }
    }
    pad_to_word(out, start);
    // At most MAX_FEEDBACK_LEN bytes: the length field cannot overflow.
    finish_packet(out, start).ok()?;
    Some(FeedbackWritten {
        arrivals: first + end,
        next_seq: plan.next_seq,
    })
}

/// Ends the packet begun at `start` on a 32-bit boundary with RTCP padding (the P bit and a
/// count in the last byte), as libwebrtc writes it.
fn pad_to_word(out: &mut Vec<u8>, start: usize) {
    let padding = (4 - (out.len() - start) % 4) % 4;
    if padding == 0 {
        return;
    }
    out.extend(std::iter::repeat_n(0, padding - 1));
    out.push(padding as u8);
    out[start] |= 0x20;
}

/// The symbol for a receive delta in 250 µs ticks; `None` when it needs more than 16 bits.
fn symbol_for(delta: i64) -> Option<u8> {
    if (0..=255).contains(&delta) {
        Some(SMALL)
    } else if i16::try_from(delta).is_ok() {
        Some(LARGE)
    } else {
        None
    }
}

/// Walks arrivals in sequence order: the next sequence number to describe, the time the
/// previous delta ended at, and the chunks so far.
#[derive(Debug, Clone, Copy)]
struct Plan {
    next_seq: u64,
    last_ticks: i64,
    delta_bytes: usize,
    encoder: ChunkEncoder,
}

impl Plan {
    fn new(base_seq: u64, reference_ticks: i64) -> Self {
        Self {
            next_seq: base_seq,
            last_ticks: reference_ticks,
            delta_bytes: 0,
            encoder: ChunkEncoder::default(),
        }
    }

    /// How many of `arrivals` one packet describes, and the plan after them.
    fn fit(mut self, arrivals: &[PacketArrival]) -> (usize, Self) {
        let base_seq = self.next_seq;
        let mut end = 0;
        for arrival in arrivals {
            if arrival.seq >= base_seq + u64::from(u16::MAX) {
                break;
            }
            let mut trial = self;
            if trial.take(arrival, &mut |_| {}).is_none() && arrival.seq >= self.next_seq {
                break;
            }
            if trial.packet_len() > MAX_FEEDBACK_LEN {
                break;
            }
            self = trial;
            end += 1;
        }
        (end, self)
    }

    /// Adds the losses before `arrival` and `arrival` itself, passing completed chunks to
    /// `emit`; returns its delta in ticks. `None`, with nothing added, for an arrival already
    /// described or one whose delta does not fit.
    fn take(&mut self, arrival: &PacketArrival, emit: &mut impl FnMut(u16)) -> Option<i64> {
        if arrival.seq < self.next_seq {
            return None;
        }
        let ticks = arrival.arrival_us.div_euclid(DELTA_UNIT_US);
        let delta = ticks - self.last_ticks;
        let symbol = symbol_for(delta)?;
        self.encoder
            .add_repeated(LOST, arrival.seq - self.next_seq, emit);
        self.encoder.add_repeated(symbol, 1, emit);
        self.delta_bytes += usize::from(symbol);
        self.last_ticks = ticks;
        self.next_seq = arrival.seq + 1;
        Some(delta)
    }

    /// The packet's length, padded, if it ended now.
    fn packet_len(&self) -> usize {
        let chunks = self.encoder.emitted + usize::from(self.encoder.size > 0);
        (FIXED_LEN + 2 * chunks + self.delta_bytes).next_multiple_of(4)
    }
}

/// Packs status symbols into chunks: a run length chunk while they are all the same, else a
/// status vector, one bit per symbol when no delta is large, two bits otherwise.
#[derive(Debug, Clone, Copy)]
struct ChunkEncoder {
    /// The first symbols not yet in a chunk (a run keeps only its first).
    symbols: [u8; ONE_BIT_CAPACITY as usize],
    size: u16,
    all_same: bool,
    has_large: bool,
    /// Chunks completed so far.
    emitted: usize,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self {
            symbols: [LOST; ONE_BIT_CAPACITY as usize],
            size: 0,
            all_same: true,
            has_large: false,
            emitted: 0,
        }
    }
}

impl ChunkEncoder {
    fn can_add(&self, symbol: u8) -> bool {
        if self.size < TWO_BIT_CAPACITY {
            return true;
        }
        if self.size < ONE_BIT_CAPACITY && !self.has_large && symbol != LARGE {
            return true;
        }
        self.all_same && self.size < MAX_RUN && symbol == self.symbols[0]
    }

    /// Adds `count` copies of `symbol`; a long run costs one step per chunk, not per symbol.
    fn add_repeated(&mut self, symbol: u8, mut count: u64, emit: &mut impl FnMut(u16)) {
        while count > 0 {
            if !self.can_add(symbol) {
                emit(self.emit());
                continue;
            }
            if self.size >= ONE_BIT_CAPACITY {
                // A run of this symbol: extend it as far as the count and the chunk allow.
                let room = u64::from(MAX_RUN - self.size);
                let taken = room.min(count);
                self.size += taken as u16;
                count -= taken;
                continue;
            }
            self.push(symbol);
            count -= 1;
        }
    }

    fn push(&mut self, symbol: u8) {
        self.all_same = self.size == 0 || (self.all_same && symbol == self.symbols[0]);
        self.has_large |= symbol == LARGE;
        self.symbols[usize::from(self.size)] = symbol;
        self.size += 1;
    }

    /// Completes one chunk from the front of the pending symbols.
    fn emit(&mut self) -> u16 {
        self.emitted += 1;
        if self.all_same {
            let word = run_length(self.symbols[0], self.size);
            self.clear();
            return word;
        }
        if self.size == ONE_BIT_CAPACITY {
            let word = one_bit_vector(&self.symbols);
            self.clear();
            return word;
        }
        // Seven symbols go in a two-bit vector; the rest (fewer than seven) stay pending.
        let word = two_bit_vector(&self.symbols[..usize::from(TWO_BIT_CAPACITY)]);
        let rest = self.symbols;
        let rest = &rest[usize::from(TWO_BIT_CAPACITY)..usize::from(self.size)];
        self.clear();
        for &symbol in rest {
            self.push(symbol);
        }
        word
    }

    /// The chunk for the symbols still pending, if any.
    fn finish(&mut self) -> Option<u16> {
        let word = match self.size {
            0 => return None,
            _ if self.all_same => run_length(self.symbols[0], self.size),
            size if size <= TWO_BIT_CAPACITY => two_bit_vector(&self.symbols[..usize::from(size)]),
            size => one_bit_vector(&self.symbols[..usize::from(size)]),
        };
        self.emitted += 1;
        self.clear();
        Some(word)
    }

    fn clear(&mut self) {
        self.size = 0;
        self.all_same = true;
        self.has_large = false;
    }
}

fn run_length(symbol: u8, length: u16) -> u16 {
    (u16::from(symbol) << 13) | length
}

fn one_bit_vector(symbols: &[u8]) -> u16 {
    symbols
        .iter()
        .enumerate()
        .fold(0x8000, |word, (i, &symbol)| {
            word | (u16::from(symbol & 1) << (13 - i))
        })
}

fn two_bit_vector(symbols: &[u8]) -> u16 {
    symbols
        .iter()
        .enumerate()
        .fold(0xc000, |word, (i, &symbol)| {
            word | (u16::from(symbol) << (12 - 2 * i))
        })
}

#[cfg(test)]
#[path = "transport_cc_write_tests.rs"]
mod tests;

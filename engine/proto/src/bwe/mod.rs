//! A viewer's bandwidth estimate: how many bits a second the path to it carries.
//!
//! With transport-wide congestion control (the viewer negotiated the transport-wide-cc header
//! extension and `transport-cc` feedback), every packet we send carries a transport-wide
//! sequence number and goes into a [`SentHistory`]; the viewer's feedback says when each
//! arrived, and the estimate is the lower of a delay-based rate (a simplified GCC: delay
//! trend over packet groups, AIMD) and a loss-based one. Without it, receiver reports' loss
//! fractions drive the loss-based rate alone, and since a clean report says nothing about
//! rates never tried, that rate is held within [`SENT_MULTIPLE`] times what the viewer was
//! sent lately. A REMB from the viewer caps either.
//!
//! The estimate chooses the viewer's simulcast layer (see `egress::layer_choice`), which in
//! turn tells the estimator what the next layer up needs: the estimate may always grow that
//! far (the probe floor), so an upgrade gets tried, and undone if loss or delay follows.

mod delay;
mod loss;
mod rate;
mod sent_history;
mod sent_rate;

pub use sent_history::{SentHistory, SentPacket};

use std::time::{Duration, Instant};

use delay::DelayDetector;
use loss::LossControl;
use rate::RateControl;
use sent_rate::SentRate;

use crate::rtcp::{PacketReport, REFERENCE_UNIT_US, TransportCcFeedback};

pub const MIN_ESTIMATE_BPS: u64 = 30_000;
pub const MAX_ESTIMATE_BPS: u64 = 50_000_000;
/// Where an estimate starts, before the viewer said anything.
pub const INITIAL_ESTIMATE_BPS: u64 = 1_000_000;

/// Without transport-cc feedback, the estimate stays within this multiple of the rate the
/// viewer was sent lately (or the probe floor, if higher).
pub const SENT_MULTIPLE: u64 = 2;

/// Loss is judged over at least this many packets of transport-cc feedback.
const LOSS_SAMPLE_PACKETS: u32 = 20;
/// The received rate is measured over windows this long.
const RECEIVED_WINDOW: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct BandwidthEstimator {
    /// Present when the viewer negotiated transport-wide congestion control.
    sent: Option<SentHistory>,
    sent_rate: SentRate,
    /// Boxed: every packet sent writes `sent` and `sent_rate`, while this is touched only
    /// when feedback arrives or the layer choice looks, so the fan-out's share of a viewer's
    /// cache lines stays small.
    feedback: Box<FeedbackState>,
}

/// What the viewer's feedback built up.
#[derive(Debug)]
struct FeedbackState {
    delay: DelayDetector,
    rate: RateControl,
    loss: LossControl,
    remb_bps: Option<u64>,
    /// The last feedback's reference time, and the running arrival clock it anchors.
    last_reference: Option<u32>,
    reference_us: i64,
    /// Packets lost and received since the loss-based rate last moved.
    lost: u32,
    received: u32,
    /// Bytes acknowledged since `window_start`, for the received rate.
    window_start: Option<Instant>,
    window_bytes: u64,
    received_bps: Option<f64>,
    /// True once the viewer's feedback or reports moved the estimate.
    informed: bool,
    /// What the next simulcast layer up needs: the estimate may grow that far whatever was
    /// sent.
    probe_floor_bps: Option<u64>,
}

impl BandwidthEstimator {
    /// `transport_wide` when the viewer negotiated transport-wide congestion control; its
    /// sequence numbers start at `first_seq`.
    pub fn new(transport_wide: bool, first_seq: u16) -> Self {
        let initial = INITIAL_ESTIMATE_BPS as f64;
        Self {
            sent: transport_wide.then(|| SentHistory::new(first_seq)),
            sent_rate: SentRate::default(),
            feedback: Box::new(FeedbackState {
                delay: DelayDetector::default(),
                rate: RateControl::new(initial),
                loss: LossControl::new(initial),
                remb_bps: None,
                last_reference: None,
                reference_us: 0,
                lost: 0,
                received: 0,
                window_start: None,
                window_bytes: 0,
                received_bps: None,
                informed: false,
                probe_floor_bps: None,
            }),
        }
    }

    /// The transport-wide sequence number for the next packet, when the viewer uses them.
    pub fn next_transport_seq(&self) -> Option<u16> {
        self.sent.as_ref().map(SentHistory::next_seq)
    }

    /// Starts loading where the next numbered packet is recorded.
    pub fn prefetch_next_sent(&self) {
        if let Some(sent) = &self.sent {
            sent.prefetch_next();
        }
    }

    /// The packet numbered [`Self::next_transport_seq`] went out, `size` bytes long.
    pub fn on_sent(&mut self, now: Instant, size: usize) {
        if let Some(sent) = self.sent.as_mut() {
            sent.record(now, size);
        }
        self.sent_rate.record(now, size);
    }

    /// A packet without a transport-wide sequence number went out, `size` bytes long.
    pub fn on_sent_unnumbered(&mut self, now: Instant, size: usize) {
        self.sent_rate.record(now, size);
    }

    /// What the next simulcast layer up needs, if there is one: see the module docs.
    pub fn set_probe_floor(&mut self, bps: Option<u64>) {
        self.feedback.probe_floor_bps = bps;
        self.feedback
            .rate
            .set_floor(bps.map_or(0.0, |bps| bps as f64));
    }

    /// True when the viewer negotiated transport-wide congestion control.
    pub fn transport_wide(&self) -> bool {
        self.sent.is_some()
    }

    /// The estimate in bits per second, once the viewer's feedback informed it.
    pub fn estimate_bps(&self) -> Option<u64> {
        self.feedback.informed.then(|| self.bps())
    }

    /// The estimate now, or where estimates start before the viewer said anything.
    pub fn bps(&self) -> u64 {
        let mut bps = self.feedback.loss.rate_bps();
        if self.sent.is_some() {
            bps = bps.min(self.feedback.rate.rate_bps());
        }
        let bps = (bps as u64)
            .min(self.feedback.remb_bps.unwrap_or(u64::MAX))
            .min(self.sent_cap_bps().unwrap_or(u64::MAX));
        bps.clamp(MIN_ESTIMATE_BPS, MAX_ESTIMATE_BPS)
    }

    /// The most a receiver-report-only estimate may say: a multiple of what the viewer was
    /// sent lately, or the probe floor. None with transport-cc feedback (the delay-based
    /// rate keeps to what was acknowledged) or before a window of sending was measured.
    fn sent_cap_bps(&self) -> Option<u64> {
        if self.sent.is_some() {
            return None;
        }
        let sent = self.sent_rate.bps()?;
        let cap = sent
            .saturating_mul(SENT_MULTIPLE)
            .max(self.feedback.probe_floor_bps.unwrap_or(0));
        Some(cap.max(MIN_ESTIMATE_BPS))
    }

    /// A REMB from the viewer: the most it says it can take.
    pub fn on_remb(&mut self, bitrate_bps: u64) {
        self.feedback.remb_bps = Some(bitrate_bps);
        self.feedback.informed = true;
        self.feedback.hold_under_remb();
    }

    /// A receiver report block's loss fraction (of 256) for one of our tracks. Ignored when
    /// transport-cc feedback tells more.
    pub fn on_receiver_report(&mut self, now: Instant, fraction_lost: u8) {
        if self.sent.is_some() {
            return;
        }
        self.feedback
            .loss
            .update(now, f64::from(fraction_lost) / 256.0);
        if let Some(cap) = self.sent_cap_bps() {
            self.feedback.loss.limit(cap as f64);
        }
        self.feedback.informed = true;
        self.feedback.hold_under_remb();
    }

    /// Transport-wide congestion control feedback from the viewer.
    pub fn on_transport_feedback(&mut self, now: Instant, feedback: &TransportCcFeedback<'_>) {
        self.on_reports(now, feedback.reference_time, feedback.reports());
    }

    /// The reports of one feedback, whose reference time is `reference` (24 bits, 64 ms).
    fn on_reports(
        &mut self,
        now: Instant,
        reference: u32,
        reports: impl Iterator<Item = PacketReport>,
    ) {
        let Some(sent) = self.sent.as_ref() else {
            return;
        };
        let feedback = &mut *self.feedback;
        // The 24-bit reference time wraps; feedbacks are near each other in time.
        let step = feedback.last_reference.map_or(0, |last| {
            ((reference.wrapping_sub(last) << 8) as i32 >> 8) as i64
        });
        feedback.last_reference = Some(reference);
        feedback.reference_us += step * REFERENCE_UNIT_US;
        let mut arrival_us = feedback.reference_us;
        for report in reports {
            match report {
                PacketReport::Lost { count, .. } => feedback.lost += u32::from(count),
                PacketReport::Received { seq, delta_us } => {
                    feedback.received += 1;
                    arrival_us += delta_us;
                    if let Some(packet) = sent.get(seq) {
                        feedback.delay.on_packet(packet.sent_us, arrival_us);
                        feedback.window_bytes += u64::from(packet.size);
                    }
                }
            }
        }
        feedback.measure_received(now);
        feedback
            .rate
            .update(now, feedback.delay.usage(), feedback.received_bps);
        let total = feedback.lost + feedback.received;
        if total >= LOSS_SAMPLE_PACKETS {
            feedback
                .loss
                .update(now, f64::from(feedback.lost) / f64::from(total));
            (feedback.lost, feedback.received) = (0, 0);
        }
        feedback.loss.limit(feedback.rate.rate_bps());
        feedback.informed = true;
        feedback.hold_under_remb();
    }
}

impl FeedbackState {
    fn measure_received(&mut self, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        let span = now.saturating_duration_since(start);
        if span >= RECEIVED_WINDOW {
            self.received_bps = Some(self.window_bytes as f64 * 8.0 / span.as_secs_f64());
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
    }

    /// Keeps the loss-based rate under the REMB cap, so it starts from there when the cap
    /// lifts rather than from wherever it drifted.
    fn hold_under_remb(&mut self) {
        if let Some(remb) = self.remb_bps {
            self.loss.limit((remb as f64).max(MIN_ESTIMATE_BPS as f64));
        }
    }
}

#[cfg(test)]
mod tests;

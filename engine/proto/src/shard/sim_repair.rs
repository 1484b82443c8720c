//! Loss repair as the simulated peers do it, the way browsers do: a viewer NACKs what it
//! misses (with the core's own NACK register), unwraps the RTX it negotiated and reports its
//! reception so the engine learns its round trip; a publisher keeps what it sent and
//! answers NACKs from it, in its RTX stream when it declared one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use shardcast_control::{MediaSection, SessionAnswer};

use crate::egress::rtx_packet::write_rtx;
use crate::ingress::{Arrival, NackRegister};
use crate::rtcp::{
    ReportBlock, compact_from_duration, compact_ntp, write_nack, write_receiver_report,
};
use crate::rtp::{RtpHeader, RtpPacket, write_rtp};
use crate::rtt::RttEstimate;

/// Receiver reports every this often: enough for the engine's RTT to follow the path.
const REPORT_INTERVAL: Duration = Duration::from_millis(200);

/// Packets a publisher keeps to answer NACKs from.
const HISTORY: usize = 2048;

/// One RTP packet as a viewer's decoder sees it, RTX unwrapped: (media SSRC, payload type,
/// sequence number, payload start in the packet).
pub type Unwrapped = (u32, u8, u16, usize);

/// Does the section's codec list ask for generic NACK?
pub fn negotiates_nack(section: &MediaSection) -> bool {
    section
        .codecs
        .iter()
        .any(|c| c.feedback.iter().any(|f| f == "nack"))
}

/// What a viewer knows of the engine's streams, and its NACK state.
pub struct ViewerRepair {
    /// Per media SSRC the engine sends with, when its section negotiated NACK.
    registers: Vec<(u32, NackRegister)>,
    /// (RTX SSRC, media SSRC), from the answer.
    rtx_ssrcs: Vec<(u32, u32)>,
    /// (RTX payload type, the payload type it repairs), from the offer.
    rtx_payload_types: Vec<(u8, u8)>,
    rtt: RttEstimate,
    /// (SSRC, compact NTP time, when it came) of each SSRC's latest sender report.
    sender_reports: Vec<(u32, u32, Instant)>,
    next_report: Option<Instant>,
    sender_ssrc: u32,
    lost: Vec<u16>,
}

impl ViewerRepair {
    pub fn new(media: &[MediaSection], answer: &SessionAnswer, sender_ssrc: u32) -> Self {
        let mut registers = Vec::new();
        let mut rtx_ssrcs = Vec::new();
        for (section, answer) in media.iter().zip(&answer.media) {
            let Some(ssrc) = answer.ssrc else { continue };
            if negotiates_nack(section) {
                registers.push((ssrc, NackRegister::new()));
            }
            if let Some(rtx) = answer.rtx_ssrc {
                rtx_ssrcs.push((rtx, ssrc));
            }
        }
        let rtx_payload_types = media
            .iter()
            .flat_map(|s| &s.codecs)
            .filter_map(|c| Some((c.rtx_payload_type?, c.payload_type)))
            .collect();
        Self {
            registers,
            rtx_ssrcs,
            rtx_payload_types,
            rtt: RttEstimate::default(),
            sender_reports: Vec::new(),
            next_report: None,
            sender_ssrc,
            lost: Vec::new(),
        }
    }

    /// Is `ssrc` one of the engine's RTX streams to this viewer?
    pub fn is_rtx(&self, ssrc: u32) -> bool {
        self.rtx_ssrcs.iter().any(|(rtx, _)| *rtx == ssrc)
    }

    /// The packet inside `rtp`: itself, or the original an RTX packet carries.
    pub fn unwrap(&self, rtp: &RtpPacket<'_>) -> Unwrapped {
        let header_len = rtp.header_len();
        let plain = (
            rtp.ssrc(),
            rtp.payload_type(),
            rtp.sequence_number(),
            header_len,
        );
        let Some(&(_, media_ssrc)) = self.rtx_ssrcs.iter().find(|(rtx, _)| *rtx == rtp.ssrc())
        else {
            return plain;
        };
        let apt = self
            .rtx_payload_types
            .iter()
            .find(|(rtx, _)| *rtx == rtp.payload_type())
            .map_or(rtp.payload_type(), |&(_, apt)| apt);
        match rtp.payload().first_chunk::<2>() {
            Some(osn) => (media_ssrc, apt, u16::from_be_bytes(*osn), header_len + 2),
            None => plain,
        }
    }

    /// A media packet (unwrapped from RTX when `rtx`) arrived.
    pub fn on_media(&mut self, now: Instant, ssrc: u32, seq: u16, rtx: bool) {
        if let Some((_, register)) = self.registers.iter_mut().find(|(s, _)| *s == ssrc)
            && let Arrival::Recovered { rtt: Some(rtt) } = register.on_packet(now, seq)
            && rtx
        {
            self.rtt.sample(rtt);
        }
        self.next_report.get_or_insert(now + REPORT_INTERVAL);
    }

    pub fn on_sender_report(&mut self, now: Instant, ssrc: u32, ntp: u64) {
        self.sender_reports.retain(|(s, _, _)| *s != ssrc);
        self.sender_reports.push((ssrc, compact_ntp(ntp), now));
    }

    /// The RTCP due at `now`: NACKs for what is missing, and now and then a receiver report.
    pub fn poll_rtcp(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        if self.next_report.is_some_and(|at| at <= now) {
            self.next_report = Some(now + REPORT_INTERVAL);
            let blocks: Vec<_> = self
                .sender_reports
                .iter()
                .map(|&(ssrc, last_sr, at)| ReportBlock {
                    ssrc,
                    last_sr,
                    delay_since_last_sr: compact_from_duration(now - at),
                    ..ReportBlock::default()
                })
                .collect();
            write_receiver_report(&mut out, self.sender_ssrc, &blocks).unwrap();
        }
        let retry_interval = self.rtt.retry_interval();
        for (ssrc, register) in &mut self.registers {
            self.lost.clear();
            register.poll_nacks(now, retry_interval, &mut self.lost);
            if !self.lost.is_empty() {
                write_nack(&mut out, self.sender_ssrc, *ssrc, &self.lost).unwrap();
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// A publisher's sent packets and its RTX streams.
pub struct PublisherRepair {
    sent: VecDeque<Vec<u8>>,
    /// (media SSRC, RTX SSRC, RTX payload type, next RTX sequence number).
    rtx: Vec<(u32, u32, u8, u16)>,
    /// Sequence numbers the engine asked for.
    pub nacked: usize,
}

impl PublisherRepair {
    pub fn new(media: &[MediaSection]) -> Self {
        let rtx = media
            .iter()
            .flat_map(|section| {
                let rtx_payload_type = section.codecs.first().and_then(|c| c.rtx_payload_type);
                section
                    .rtx_pairs
                    .iter()
                    .filter_map(move |&(media, rtx)| Some((media, rtx, rtx_payload_type?, 1000)))
            })
            .collect();
        Self {
            sent: VecDeque::new(),
            rtx,
            nacked: 0,
        }
    }

    /// A plain RTP packet just sent.
    pub fn record(&mut self, plain: &[u8]) {
        if self.sent.len() == HISTORY {
            self.sent.pop_front();
        }
        self.sent.push_back(plain.to_vec());
    }

    /// The plain RTP packets answering a NACK for `seqs` of `media_ssrc`.
    pub fn answer(&mut self, media_ssrc: u32, seqs: impl Iterator<Item = u16>) -> Vec<Vec<u8>> {
        let mut answers = Vec::new();
        for seq in seqs {
            self.nacked += 1;
            let original = self.sent.iter().rev().find(|plain| {
                let rtp = RtpPacket::parse(plain).unwrap();
                rtp.ssrc() == media_ssrc && rtp.sequence_number() == seq
            });
            let Some(original) = original else { continue };
            let rtp = RtpPacket::parse(original).unwrap();
            let extensions: Vec<_> = rtp.extensions().collect();
            let mut out = [0u8; 1500];
            let rtx = self.rtx.iter_mut().find(|r| r.0 == media_ssrc);
            let len = match rtx {
                Some((_, rtx_ssrc, payload_type, next_seq)) => {
                    let header = RtpHeader {
                        marker: rtp.marker(),
                        payload_type: *payload_type,
                        sequence_number: *next_seq,
                        timestamp: rtp.timestamp(),
                        ssrc: *rtx_ssrc,
                    };
                    *next_seq = next_seq.wrapping_add(1);
                    write_rtx(&mut out, &header, &extensions, seq, rtp.payload()).unwrap()
                }
                None => {
                    let header = RtpHeader {
                        marker: rtp.marker(),
                        payload_type: rtp.payload_type(),
                        sequence_number: seq,
                        timestamp: rtp.timestamp(),
                        ssrc: media_ssrc,
                    };
                    write_rtp(&mut out, &header, &extensions, rtp.payload()).unwrap()
                }
            };
            answers.push(out[..len].to_vec());
        }
        answers
    }
}

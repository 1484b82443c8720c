//! Transport-wide congestion control feedback to a publisher: each packet's arrival is noted
//! as soon as it is decrypted, before ingress may drop it (a browser's padding-only bandwidth
//! probes count most), and the feedback goes out on the recorder's timer, or at once when a
//! batch is full. See [`crate::ingress::arrival_feedback`].

use std::time::Instant;

use super::feedback::queue_rtcp;
use super::{Session, SessionMedia};
use crate::rtp::RtpPacket;

impl Session {
    /// Notes the arrival of a publisher's decrypted packet `plain` at `now`.
    pub(super) fn note_arrival(&mut self, now: Instant, plain: &[u8]) {
        if let SessionMedia::Publisher(publisher) = &mut self.media
            && let Some(arrivals) = publisher.arrivals.as_mut()
            && let Ok(rtp) = RtpPacket::parse(plain)
        {
            arrivals.record(now, &rtp);
        }
    }

    /// Sends the publisher the feedback due at `now`, one packet per datagram.
    pub(super) fn send_transport_feedback(&mut self, now: Instant) {
        let SessionMedia::Publisher(publisher) = &mut self.media else {
            return;
        };
        let Some(arrivals) = publisher.arrivals.as_mut() else {
            return;
        };
        let destination = self.ice.selected();
        while let Some(plain) = arrivals.poll_feedback(now, publisher.local_ssrc) {
            queue_rtcp(destination, self.srtp.as_mut(), &mut self.transmits, plain);
        }
    }

    pub(super) fn transport_feedback_deadline(&self) -> Option<Instant> {
        match &self.media {
            SessionMedia::Publisher(publisher) => publisher.arrivals.as_ref()?.poll_timeout(),
            SessionMedia::Viewer(_) => None,
        }
    }

    /// Transport-wide congestion control feedback packets sent to this publisher.
    pub fn transport_feedback_sent(&self) -> u64 {
        match &self.media {
            SessionMedia::Publisher(publisher) => publisher
                .arrivals
                .as_ref()
                .map_or(0, |arrivals| arrivals.sent()),
            SessionMedia::Viewer(_) => 0,
        }
    }
}

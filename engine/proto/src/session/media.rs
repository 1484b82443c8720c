//! The media side of a session: a publisher's ingress or a viewer's egress.

use std::time::{Duration, Instant};

use shardcast_control::{LayerPreference, MediaSection};

use super::SessionSetup;
use crate::egress::ViewerEgress;
use crate::ingress::arrival_feedback::ArrivalFeedback;
use crate::ingress::{KeyframeRequests, PublisherIngress};

/// At most one keyframe request per interval reaches a publisher, unless the engine is
/// configured otherwise.
pub const DEFAULT_KEYFRAME_INTERVAL: Duration = Duration::from_secs(1);

#[expect(
    clippy::large_enum_variant,
    reason = "the viewer's state is read for every packet written and stays inline"
)]
pub enum SessionMedia {
    /// Boxed: a publisher's state is over twice a viewer's, and the fan-out prefetches a
    /// viewer's `SessionMedia` whole for every packet.
    Publisher(Box<PublisherMedia>),
    Viewer(ViewerMedia),
}

pub struct PublisherMedia {
    pub ingress: PublisherIngress,
    /// Throttled per simulcast layer.
    pub keyframes: KeyframeRequests,
    /// The SSRC we use as the sender of our RTCP.
    pub local_ssrc: u32,
    /// FIR sequence number (RFC 5104 4.3.1.1), for publishers that only take FIR.
    pub fir_sequence: u8,
    pub keyframes_requested: u64,
    /// Transport-wide congestion control feedback, when the publisher numbers its packets.
    pub arrivals: Option<ArrivalFeedback>,
}

pub struct ViewerMedia {
    pub egress: ViewerEgress,
    pub cname: String,
    /// While video waits for a keyframe, we ask again this often.
    keyframe_interval: Duration,
    next_keyframe_request: Option<Instant>,
}

impl SessionMedia {
    pub fn publisher(
        media: &[MediaSection],
        source: u64,
        local_ssrc: u32,
        keyframe_interval: Duration,
    ) -> Self {
        Self::Publisher(Box::new(PublisherMedia {
            ingress: PublisherIngress::new(media, source),
            keyframes: KeyframeRequests::new(keyframe_interval),
            local_ssrc,
            fir_sequence: 0,
            keyframes_requested: 0,
            arrivals: ArrivalFeedback::negotiated(media),
        }))
    }

    /// A viewer of `media` that prefers simulcast layer `preference`.
    pub fn viewer(
        media: &[MediaSection],
        preference: LayerPreference,
        setup: &SessionSetup<'_>,
    ) -> Self {
        let egress = ViewerEgress::new(media, &setup.ssrcs, setup.first_seq, setup.first_ts)
            .with_rtx(&setup.rtx_ssrcs, setup.first_rtx_seq)
            .with_preference(preference);
        Self::Viewer(ViewerMedia {
            egress,
            cname: setup.cname.clone(),
            keyframe_interval: setup.keyframe_interval,
            next_keyframe_request: None,
        })
    }
}

impl ViewerMedia {
    /// True when a keyframe request should go out now (and then not again for a while).
    pub fn keyframe_due(&mut self, now: Instant) -> bool {
        if self.next_keyframe_request.is_some_and(|at| now < at) {
            return false;
        }
        self.next_keyframe_request = Some(now + self.keyframe_interval);
        true
    }

    /// A keyframe is on its way from the route's recent packets: the viewer's own request
    /// waits an interval, and goes out then only if video still waits.
    pub fn keyframe_coming(&mut self, now: Instant) {
        self.next_keyframe_request = Some(now + self.keyframe_interval);
    }

    /// When to ask again, if video still waits for a keyframe.
    pub fn keyframe_deadline(&self) -> Option<Instant> {
        if self.egress.needs_keyframe() {
            self.next_keyframe_request
        } else {
            None
        }
    }
}

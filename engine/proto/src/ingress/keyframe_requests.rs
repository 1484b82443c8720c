//! Keyframe requests to a publisher, one throttle per simulcast layer: a request for one
//! layer is never folded into another's, and each layer's encoder sees at most one request
//! per interval.

use std::time::{Duration, Instant};

use super::KeyframeThrottle;
use crate::layers::MAX_LAYERS;

#[derive(Debug)]
pub struct KeyframeRequests {
    throttles: [KeyframeThrottle; MAX_LAYERS],
    /// Layers whose request is due but whose media SSRC we have not heard yet: it goes out
    /// when the first packet of the layer names it.
    awaiting_ssrc: [bool; MAX_LAYERS],
}

impl KeyframeRequests {
    pub fn new(interval: Duration) -> Self {
        Self {
            throttles: std::array::from_fn(|_| KeyframeThrottle::new(interval)),
            awaiting_ssrc: [false; MAX_LAYERS],
        }
    }

    /// A viewer wants a keyframe of `layer` (past the last layer: the last); true when the
    /// request should go to the publisher now.
    pub fn request(&mut self, now: Instant, layer: u8) -> bool {
        self.throttles[clamp(layer)].request(now)
    }

    /// The layers whose folded request is due now.
    pub fn handle_timeout(&mut self, now: Instant) -> [bool; MAX_LAYERS] {
        std::array::from_fn(|layer| self.throttles[layer].handle_timeout(now))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.throttles
            .iter()
            .filter_map(KeyframeThrottle::poll_timeout)
            .min()
    }

    /// A due request for `layer` found no SSRC to name: keep it until one is known.
    pub fn await_ssrc(&mut self, layer: u8) {
        self.awaiting_ssrc[clamp(layer)] = true;
    }

    /// True when some request waits for its layer's SSRC (checked on every packet, so it
    /// must stay this cheap).
    pub fn awaits_ssrc(&self) -> bool {
        self.awaiting_ssrc.contains(&true)
    }

    /// The layers waiting for an SSRC that `known` now gives, no longer waiting.
    pub fn take_awaiting(&mut self, known: impl Fn(u8) -> bool) -> [bool; MAX_LAYERS] {
        std::array::from_fn(|layer| {
            let ready = self.awaiting_ssrc[layer] && known(layer as u8);
            self.awaiting_ssrc[layer] &= !ready;
            ready
        })
    }

    /// Requests absorbed without reaching the publisher, all layers together.
    pub fn coalesced(&self) -> u64 {
        self.throttles.iter().map(KeyframeThrottle::coalesced).sum()
    }
}

fn clamp(layer: u8) -> usize {
    usize::from(layer).min(MAX_LAYERS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layer_has_its_own_interval() {
        let t0 = Instant::now();
        let mut requests = KeyframeRequests::new(Duration::from_secs(1));
        assert!(requests.request(t0, 0));
        assert!(requests.request(t0, 2), "not swallowed by layer 0's");
        assert!(!requests.request(t0 + Duration::from_millis(10), 2));
        assert!(!requests.request(t0 + Duration::from_millis(20), 0));
        assert!(requests.request(t0 + Duration::from_millis(30), 1));
        assert_eq!(requests.coalesced(), 0);
        assert_eq!(requests.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        let due = requests.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(due, [true, false, true, false]);
        assert_eq!(requests.poll_timeout(), None);
        assert!(requests.request(t0, 9), "past the last layer: the last");
        assert!(!requests.request(t0, 3));
    }

    #[test]
    fn a_request_waits_for_its_ssrc() {
        let mut requests = KeyframeRequests::new(Duration::from_secs(1));
        assert!(!requests.awaits_ssrc());
        requests.await_ssrc(1);
        assert!(requests.awaits_ssrc());
        assert_eq!(requests.take_awaiting(|layer| layer == 0), [false; 4]);
        assert_eq!(
            requests.take_awaiting(|layer| layer == 1),
            [false, true, false, false]
        );
        assert!(!requests.awaits_ssrc());
    }
}

//! One track's simulcast layers (RFC 8853, rid-based): which rid each layer has, the media
//! SSRC the publisher sends it on, how fast it arrives, and where its keyframes start. A
//! track without simulcast has one layer, 0.

use std::time::Instant;

use super::layer_rate::LayerRate;
use crate::layers::{LayerRates, MAX_LAYERS};

#[derive(Debug, Default)]
struct Layer {
    /// The latest media SSRC heard on this layer (an encoder restart brings a new one).
    media_ssrc: Option<u32>,
    rate: LayerRate,
    /// The RTP timestamp of the last keyframe start forwarded: the packets after it of the
    /// same frame (H.264 sends SPS, PPS, then each IDR slice) start nothing new.
    keyframe_timestamp: Option<u32>,
}

#[derive(Debug)]
pub(super) struct TrackLayers {
    /// Lowest quality first; empty without simulcast. At most [`MAX_LAYERS`].
    rids: Vec<String>,
    layers: Vec<Layer>,
}

impl TrackLayers {
    pub(super) fn new(rids: &[String]) -> Self {
        let rids: Vec<String> = rids.iter().take(MAX_LAYERS).cloned().collect();
        let layers = (0..rids.len().max(1)).map(|_| Layer::default()).collect();
        Self { rids, layers }
    }

    pub(super) fn is_simulcast(&self) -> bool {
        !self.rids.is_empty()
    }

    pub(super) fn count(&self) -> usize {
        self.layers.len()
    }

    /// The layer a packet's RtpStreamId (or RepairedRtpStreamId) value names.
    pub(super) fn layer_of_rid(&self, rid: &[u8]) -> Option<u8> {
        let index = self.rids.iter().position(|r| r.as_bytes() == rid)?;
        u8::try_from(index).ok()
    }

    /// The media SSRC of `layer`, where its keyframe requests go.
    pub(super) fn media_ssrc(&self, layer: u8) -> Option<u32> {
        self.layers.get(usize::from(layer))?.media_ssrc
    }

    /// A media packet of `layer` came on `ssrc`.
    pub(super) fn learn_media_ssrc(&mut self, layer: u8, ssrc: u32) {
        if let Some(layer) = self.layers.get_mut(usize::from(layer)) {
            layer.media_ssrc = Some(ssrc);
        }
    }

    /// A packet of `layer` goes out: `bytes` count towards the layer's rate.
    pub(super) fn on_forwarded(&mut self, now: Instant, layer: u8, bytes: usize) {
        if let Some(layer) = self.layers.get_mut(usize::from(layer)) {
            layer.rate.add(now, bytes);
        }
    }

    /// True for the first packet of `layer` the codec calls a keyframe start in the frame at
    /// `timestamp`; the others of that frame are parts of the same keyframe.
    pub(super) fn starts_keyframe(&mut self, layer: u8, timestamp: u32) -> bool {
        let Some(layer) = self.layers.get_mut(usize::from(layer)) else {
            return false;
        };
        if layer.keyframe_timestamp == Some(timestamp) {
            return false;
        }
        layer.keyframe_timestamp = Some(timestamp);
        true
    }

    /// Every layer's rate at `now`.
    pub(super) fn rates(&self, now: Instant) -> LayerRates {
        let mut rates = LayerRates::new(self.layers.len());
        for (index, layer) in self.layers.iter().enumerate() {
            rates.set(index, layer.rate.bits_per_second(now));
        }
        rates
    }
}

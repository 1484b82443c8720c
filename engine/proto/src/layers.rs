//! What a publisher's simulcast layers carry, as every packet of the stream tells the shards
//! that forward it.

/// Layers of one stream we tell apart (Chromium sends at most 3); a publisher offering more
/// has the rest refused in signaling.
pub const MAX_LAYERS: usize = 4;

/// The receive rate of each simulcast layer of a stream, lowest quality first, in bits per
/// second; 0 for a layer not heard from lately. Ingress measures it and every packet carries
/// a copy, so viewers on any shard choose their layer from current figures without a
/// message of its own. A stream without simulcast has one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerRates {
    rates: [u32; MAX_LAYERS],
    count: u8,
}

impl Default for LayerRates {
    fn default() -> Self {
        Self::new(1)
    }
}

impl LayerRates {
    /// `count` layers (clamped to 1..=[`MAX_LAYERS`]), none heard from yet.
    pub fn new(count: usize) -> Self {
        Self {
            rates: [0; MAX_LAYERS],
            count: count.clamp(1, MAX_LAYERS) as u8,
        }
    }

    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_simulcast(&self) -> bool {
        self.count > 1
    }

    /// The rate of `layer`, 0 when it does not exist or is silent.
    pub fn rate(&self, layer: usize) -> u32 {
        self.rates[..self.count()].get(layer).copied().unwrap_or(0)
    }

    /// Sets the rate of `layer`; a layer past the count is ignored.
    pub fn set(&mut self, layer: usize, bits_per_second: u32) {
        if let Some(rate) = self.rates[..usize::from(self.count)].get_mut(layer) {
            *rate = bits_per_second;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_the_layers_read_as_silent() {
        let mut rates = LayerRates::new(3);
        rates.set(1, 500_000);
        rates.set(3, 9);
        assert_eq!(
            (rates.rate(0), rates.rate(1), rates.rate(3)),
            (0, 500_000, 0)
        );
        assert!(rates.is_simulcast());
        assert_eq!(LayerRates::new(0).count(), 1);
        assert_eq!(LayerRates::new(9).count(), MAX_LAYERS);
        assert!(!LayerRates::default().is_simulcast());
    }
}

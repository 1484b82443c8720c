//! Which simulcast layer a viewer should get: the best its bandwidth estimate carries, no
//! better than it asked for.
//!
//! The layer that fits is the highest non-silent one at or below the preference whose rate,
//! with [`HEADROOM_PERCENT`], is within the estimate; when none is, the lowest non-silent one. The
//! target follows it with hysteresis, so a noisy estimate does not flip the viewer between
//! layers (each switch costs a keyframe): down once the estimate has been short for
//! [`DOWNGRADE_AFTER`] (at once when the target layer goes silent), up once it has held for
//! the upgrade wait. An upgrade undone within [`UPGRADE_PROBATION`] doubles the wait before
//! the next try, up to [`MAX_UPGRADE_WAIT`]; one that lasts resets it.

use std::time::{Duration, Instant};

use shardcast_control::LayerPreference;

use crate::layers::LayerRates;

/// A layer fits when its rate plus this many percent is within the estimate.
pub const HEADROOM_PERCENT: u64 = 10;
/// How long the estimate must stay short of the target before moving down.
pub const DOWNGRADE_AFTER: Duration = Duration::from_secs(1);
/// How long a higher layer must fit before the first try to move up.
pub const UPGRADE_AFTER: Duration = Duration::from_millis(2500);
/// An upgrade undone within this long counts as failed.
pub const UPGRADE_PROBATION: Duration = Duration::from_secs(10);
pub const MAX_UPGRADE_WAIT: Duration = Duration::from_secs(40);

/// A change of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetChange {
    /// The first target, or the one after the target layer went silent.
    Set(u8),
    Down(u8),
    Up(u8),
}

impl TargetChange {
    pub fn layer(self) -> u8 {
        match self {
            Self::Set(layer) | Self::Down(layer) | Self::Up(layer) => layer,
        }
    }
}

/// One viewer's layer choice. See the module docs.
#[derive(Debug, Clone)]
pub struct LayerChoice {
    preference: LayerPreference,
    target: Option<u8>,
    /// Since when a lower layer fits better than the target.
    short_since: Option<Instant>,
    /// Since when a higher layer fits.
    ample_since: Option<Instant>,
    upgrade_wait: Duration,
    /// The last upgrade, while it is on probation.
    upgraded_at: Option<Instant>,
}

impl LayerChoice {
    pub fn new(preference: LayerPreference) -> Self {
        Self {
            preference,
            target: None,
            short_since: None,
            ample_since: None,
            upgrade_wait: UPGRADE_AFTER,
            upgraded_at: None,
        }
    }

    /// Forgets the target, as for a new viewer (the stream lost its layers); the upgrade
    /// backoff stays.
    pub fn reset(&mut self) {
        self.target = None;
        self.short_since = None;
        self.ample_since = None;
    }

    /// The layer to forward, once the stream's layers were seen.
    pub fn target(&self) -> Option<u8> {
        self.target
    }

    /// How long the next upgrade must wait for the estimate to hold.
    pub fn upgrade_wait(&self) -> Duration {
        self.upgrade_wait
    }

    /// Takes the stream's layer `rates` and the viewer's `estimate_bps` at `now`; returns
    /// the new target when it changed.
    pub fn update(
        &mut self,
        now: Instant,
        rates: &LayerRates,
        estimate_bps: u64,
    ) -> Option<TargetChange> {
        if self
            .upgraded_at
            .is_some_and(|at| now.saturating_duration_since(at) >= UPGRADE_PROBATION)
        {
            self.upgraded_at = None;
            self.upgrade_wait = UPGRADE_AFTER;
        }
        let fit = fitting_layer(rates, self.preference, estimate_bps)?;
        let Some(target) = self.target.filter(|&t| rates.rate(usize::from(t)) > 0) else {
            // No target yet, or its layer fell silent: no reason to wait.
            self.settle(fit);
            return Some(TargetChange::Set(fit));
        };
        if fit < target {
            self.ample_since = None;
            let since = *self.short_since.get_or_insert(now);
            if now.saturating_duration_since(since) < DOWNGRADE_AFTER {
                return None;
            }
            if self.upgraded_at.take().is_some() {
                self.upgrade_wait = (self.upgrade_wait * 2).min(MAX_UPGRADE_WAIT);
            }
            self.settle(fit);
            return Some(TargetChange::Down(fit));
        }
        if fit > target {
            self.short_since = None;
            let since = *self.ample_since.get_or_insert(now);
            if now.saturating_duration_since(since) < self.upgrade_wait {
                return None;
            }
            self.upgraded_at = Some(now);
            self.settle(fit);
            return Some(TargetChange::Up(fit));
        }
        self.short_since = None;
        self.ample_since = None;
        None
    }

    /// What a bandwidth estimate must be allowed to reach whatever was sent: what the next
    /// layer up (within the preference) needs to fit, so an upgrade gets tried; at the top,
    /// what the target needs, so a sent rate still measuring the layer before does not undo
    /// an upgrade.
    pub fn probe_floor(&self, rates: &LayerRates) -> Option<u64> {
        let target = usize::from(self.target?);
        let top = self.preference.index(rates.count());
        let rate = (target + 1..=top)
            .map(|layer| rates.rate(layer))
            .find(|&rate| rate > 0)
            .unwrap_or(rates.rate(target));
        (rate > 0).then(|| with_headroom(rate).div_ceil(100))
    }

    fn settle(&mut self, layer: u8) {
        self.target = Some(layer);
        self.short_since = None;
        self.ample_since = None;
    }
}

/// The layer `estimate_bps` carries under `preference`; None when every layer is silent.
fn fitting_layer(rates: &LayerRates, preference: LayerPreference, estimate_bps: u64) -> Option<u8> {
    let top = preference.index(rates.count());
    let fits = |layer: &usize| {
        let rate = rates.rate(*layer);
        rate > 0 && with_headroom(rate) <= estimate_bps.saturating_mul(100)
    };
    let layer = (0..=top)
        .rev()
        .find(fits)
        .or_else(|| (0..rates.count()).find(|&layer| rates.rate(layer) > 0))?;
    u8::try_from(layer).ok()
}

/// How often a track moved between simulcast layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerSwitches {
    pub up: u64,
    pub down: u64,
}

impl LayerSwitches {
    /// A switch from `from` (None: the track's first layer, not a switch) to `to`.
    pub(super) fn count(&mut self, from: Option<u8>, to: u8) {
        match from {
            Some(from) if to > from => self.up += 1,
            Some(from) if to < from => self.down += 1,
            _ => {}
        }
    }
}

impl std::ops::AddAssign for LayerSwitches {
    fn add_assign(&mut self, other: Self) {
        self.up += other.up;
        self.down += other.down;
    }
}

/// A hundred times `rate` plus the headroom.
fn with_headroom(rate: u32) -> u64 {
    u64::from(rate) * (100 + HEADROOM_PERCENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// Three layers at 150 kbps, 500 kbps and 2.5 Mbps.
    fn three() -> LayerRates {
        let mut rates = LayerRates::new(3);
        for (layer, rate) in [150_000, 500_000, 2_500_000].into_iter().enumerate() {
            rates.set(layer, rate);
        }
        rates
    }

    /// Feeds `estimate` every 100 ms for `span`; the changes, with their times since `from`.
    fn run(
        choice: &mut LayerChoice,
        from: Instant,
        start: Duration,
        span: Duration,
        rates: &LayerRates,
        estimate: u64,
    ) -> Vec<(Duration, TargetChange)> {
        let mut changes = Vec::new();
        let mut at = start;
        while at < start + span {
            if let Some(change) = choice.update(from + at, rates, estimate) {
                changes.push((at, change));
            }
            at += ms(100);
        }
        changes
    }

    #[test]
    fn a_new_viewer_starts_where_its_estimate_allows_within_its_preference() {
        let now = Instant::now();
        let cases = [
            (LayerPreference::High, 3_000_000, 2),
            (LayerPreference::High, 2_700_000, 1),
            (LayerPreference::High, 1_000_000, 1),
            (LayerPreference::High, 300_000, 0),
            (LayerPreference::High, 100_000, 0),
            (LayerPreference::Mid, 50_000_000, 1),
            (LayerPreference::Low, 50_000_000, 0),
        ];
        for (preference, estimate, layer) in cases {
            let mut choice = LayerChoice::new(preference);
            assert_eq!(
                choice.update(now, &three(), estimate),
                Some(TargetChange::Set(layer)),
                "{preference:?} at {estimate}"
            );
        }
        let mut silent = LayerChoice::new(LayerPreference::High);
        assert_eq!(silent.update(now, &LayerRates::new(3), 1_000_000), None);
        assert_eq!(silent.target(), None);
    }

    #[test]
    fn silent_layers_are_passed_over_and_a_silent_target_moves_at_once() {
        let now = Instant::now();
        let mut rates = three();
        rates.set(0, 0);
        let mut choice = LayerChoice::new(LayerPreference::Low);
        assert_eq!(
            choice.update(now, &rates, 100_000),
            Some(TargetChange::Set(1)),
            "the lowest layer that is heard"
        );
        let mut choice = LayerChoice::new(LayerPreference::High);
        choice.update(now, &three(), 5_000_000);
        let mut rates = three();
        rates.set(2, 0);
        assert_eq!(
            choice.update(now + ms(1), &rates, 5_000_000),
            Some(TargetChange::Set(1))
        );
    }

    #[test]
    fn downgrades_wait_a_second_of_short_estimates() {
        let start = Instant::now();
        let mut choice = LayerChoice::new(LayerPreference::High);
        choice.update(start, &three(), 3_000_000);
        // A dip shorter than a second changes nothing.
        let dip = run(&mut choice, start, ms(100), ms(500), &three(), 400_000);
        assert!(dip.is_empty(), "{dip:?}");
        assert!(run(&mut choice, start, ms(600), ms(300), &three(), 3_000_000).is_empty());
        let changes = run(&mut choice, start, ms(1000), ms(2000), &three(), 400_000);
        assert_eq!(changes, [(ms(2000), TargetChange::Down(0))]);
    }

    #[test]
    fn upgrades_wait_for_the_estimate_to_hold_and_back_off_when_undone() {
        let start = Instant::now();
        let rates = three();
        let mut choice = LayerChoice::new(LayerPreference::High);
        choice.update(start, &rates, 300_000);
        let up = run(&mut choice, start, ms(100), ms(3000), &rates, 3_000_000);
        assert_eq!(up, [(ms(2600), TargetChange::Up(2))]);
        // Undone within the probation: the next try waits twice as long.
        let down = run(&mut choice, start, ms(3100), ms(1100), &rates, 300_000);
        assert_eq!(down, [(ms(4100), TargetChange::Down(0))]);
        assert_eq!(choice.upgrade_wait(), UPGRADE_AFTER * 2);
        let up = run(&mut choice, start, ms(4200), ms(6000), &rates, 3_000_000);
        assert_eq!(up, [(ms(9200), TargetChange::Up(2))]);
        // Failing again doubles again, up to the cap.
        let mut at = ms(9300);
        for _ in 0..6 {
            run(&mut choice, start, at, ms(1100), &rates, 300_000);
            at += ms(1100);
            let wait = choice.upgrade_wait();
            let up = run(&mut choice, start, at, wait + ms(200), &rates, 3_000_000);
            assert_eq!(up, [(at + wait, TargetChange::Up(2))]);
            at += wait + ms(200);
        }
        assert_eq!(choice.upgrade_wait(), MAX_UPGRADE_WAIT);
        // An upgrade that lasts past its probation resets the wait.
        choice.update(start + at + UPGRADE_PROBATION, &rates, 3_000_000);
        assert_eq!(choice.target(), Some(2));
        assert_eq!(choice.upgrade_wait(), UPGRADE_AFTER);
    }

    #[test]
    fn the_probe_floor_is_what_the_next_layer_up_needs() {
        let now = Instant::now();
        let mut choice = LayerChoice::new(LayerPreference::Mid);
        assert_eq!(choice.probe_floor(&three()), None, "no target yet");
        choice.update(now, &three(), 200_000);
        assert_eq!(choice.probe_floor(&three()), Some(550_000));
        let mut top = LayerChoice::new(LayerPreference::Mid);
        top.update(now, &three(), 50_000_000);
        assert_eq!(
            top.probe_floor(&three()),
            Some(550_000),
            "at its preference"
        );
    }
}

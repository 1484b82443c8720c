//! One direction of a simulated path between a peer and its shard: delay, jitter, loss and
//! reordering drawn from the link's own seeded generator, so a run is the same every time
//! and one link's draws never shift another's.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What a path does to the datagrams crossing it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// One-way delay every datagram takes.
    pub delay: Duration,
    /// Extra delay, uniform in `0..=jitter`, drawn per datagram (datagrams closer together
    /// than this overtake each other).
    pub jitter: Duration,
    /// The chance a datagram is lost, 0 to 1.
    pub loss: f64,
    /// The chance a datagram is held back a further `jitter..=2 * jitter`, behind those sent
    /// after it.
    pub reorder: f64,
}

impl Impairment {
    /// The path of the loss tests: `loss_percent` lost, `reorder_percent` held back, 20 ms
    /// plus up to `jitter_ms` of delay.
    pub fn lossy(loss_percent: f64, reorder_percent: f64, jitter_ms: u64) -> Self {
        Self {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(jitter_ms),
            loss: loss_percent / 100.0,
            reorder: reorder_percent / 100.0,
        }
    }
}

pub struct Link {
    impairment: Impairment,
    rng: StdRng,
}

impl Link {
    pub fn new(impairment: Impairment, seed: u64) -> Self {
        Self {
            impairment,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// When a datagram sent at `now` arrives; None when the path loses it.
    pub fn transit(&mut self, now: Instant) -> Option<Instant> {
        let Impairment {
            delay,
            jitter,
            loss,
            reorder,
        } = self.impairment;
        // Every draw is made whatever the outcome, so each datagram uses the same amount of
        // the generator.
        let lost = self.rng.random_bool(loss);
        let held = self.rng.random_bool(reorder);
        let spread = self.jitter_draw(jitter);
        let hold = jitter + self.jitter_draw(jitter);
        let extra = if held { spread + hold } else { spread };
        (!lost).then_some(now + delay + extra)
    }

    fn jitter_draw(&mut self, jitter: Duration) -> Duration {
        let micros = u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.rng.random_range(0..=micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_close_to_the_asked_rates() {
        let t0 = Instant::now();
        let impairment = Impairment::lossy(5.0, 2.0, 30);
        let arrivals = |seed| {
            let mut link = Link::new(impairment, seed);
            (0..20_000).map(|_| link.transit(t0)).collect::<Vec<_>>()
        };
        let run = arrivals(7);
        assert_eq!(run, arrivals(7), "the same seed, the same run");
        assert_ne!(run, arrivals(8));
        let lost = run.iter().filter(|a| a.is_none()).count();
        assert!((800..1200).contains(&lost), "{lost} of 20000 lost");
        let delays: Vec<_> = run.iter().flatten().map(|at| *at - t0).collect();
        assert!(delays.iter().all(|d| *d >= impairment.delay));
        assert!(
            delays
                .iter()
                .all(|d| *d <= impairment.delay + 3 * impairment.jitter)
        );
        let held = delays
            .iter()
            .filter(|d| **d > impairment.delay + impairment.jitter)
            .count();
        assert!((200..600).contains(&held), "{held} held back");
    }
}

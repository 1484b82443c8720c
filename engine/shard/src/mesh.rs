//! The cross-shard mesh: one SPSC ring per ordered pair of shards, plus the wake that tells a
//! sleeping consumer to look.

use std::sync::Arc;

use crate::ring::{self, Consumer, Full, Producer};
use crate::wake::Waker;

/// One shard's sending end towards one other shard.
pub struct Outbound<T> {
    producer: Producer<T>,
    consumer_waker: Arc<Waker>,
}

impl<T> Outbound<T> {
    /// Queues `value`; wakes the consumer only when the ring was empty, since a non-empty ring
    /// means the consumer has not finished draining and will see this value too.
    pub fn send(&mut self, value: T) -> Result<(), Full<T>> {
        if self.producer.push(value)?.was_empty {
            self.consumer_waker.wake();
        }
        Ok(())
    }
}

/// What one shard holds of the mesh, indexed by the peer shard (`None` at its own index).
pub struct ShardLinks<T> {
    pub outbound: Vec<Option<Outbound<T>>>,
    pub inbound: Vec<Option<Consumer<T>>>,
}

/// Builds the full mesh for `wakers.len()` shards, each ring holding `capacity` messages.
pub fn mesh<T>(wakers: &[Arc<Waker>], capacity: usize) -> Vec<ShardLinks<T>> {
    let shards = wakers.len();
    let mut links: Vec<ShardLinks<T>> = (0..shards)
        .map(|_| ShardLinks {
            outbound: (0..shards).map(|_| None).collect(),
            inbound: (0..shards).map(|_| None).collect(),
        })
        .collect();
    for from in 0..shards {
        for to in 0..shards {
            if from == to {
                continue;
            }
            let (producer, consumer) = ring::channel(capacity);
            links[from].outbound[to] = Some(Outbound {
                producer,
                consumer_waker: Arc::clone(&wakers[to]),
            });
            links[to].inbound[from] = Some(consumer);
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wakers(count: usize) -> Vec<Arc<Waker>> {
        (0..count)
            .map(|_| Arc::new(Waker::new().unwrap()))
            .collect()
    }

    #[test]
    fn wakes_the_consumer_only_when_its_ring_goes_from_empty_to_non_empty() {
        let wakers = wakers(2);
        let mut links = mesh::<u32>(&wakers, 8);
        let mut inbound = links[1].inbound[0].take().unwrap();
        let outbound = links[0].outbound[1].as_mut().unwrap();

        outbound.send(1).unwrap();
        outbound.send(2).unwrap();
        outbound.send(3).unwrap();
        assert_eq!(wakers[1].take(), 1);
        assert_eq!(wakers[0].take(), 0);

        assert_eq!(inbound.pop(), Some(1));
        outbound.send(4).unwrap();
        assert_eq!(wakers[1].take(), 0, "ring was not empty: no wake");

        while inbound.pop().is_some() {}
        outbound.send(5).unwrap();
        assert_eq!(wakers[1].take(), 1);
        assert_eq!(inbound.pop(), Some(5));
    }

    #[test]
    fn connects_every_ordered_pair_and_nothing_to_itself() {
        let wakers = wakers(3);
        let mut links = mesh::<usize>(&wakers, 4);
        for (from, link) in links.iter_mut().enumerate() {
            assert!(link.outbound[from].is_none());
            assert!(link.inbound[from].is_none());
            for to in (0..3).filter(|&to| to != from) {
                link.outbound[to].as_mut().unwrap().send(from).unwrap();
            }
        }
        for (to, link) in links.iter_mut().enumerate() {
            for from in (0..3).filter(|&from| from != to) {
                let inbound = link.inbound[from].as_mut().unwrap();
                assert_eq!(inbound.pop(), Some(from));
                assert_eq!(inbound.pop(), None);
            }
        }
    }

    #[test]
    fn reports_full_to_the_producer() {
        let wakers = wakers(2);
        let mut links = mesh::<u8>(&wakers, 2);
        let outbound = links[0].outbound[1].as_mut().unwrap();
        outbound.send(1).unwrap();
        outbound.send(2).unwrap();
        assert!(matches!(outbound.send(3), Err(Full(3))));
    }
}

//! A bounded single-producer single-consumer ring: how one shard hands messages to another
//! without a lock.
//!
//! The producer owns `tail`, the consumer owns `head`; each only reads the other's index.
//! Both indices grow without wrapping (u64 never overflows in practice) and pick a slot with a
//! mask, so "empty" is `head == tail` and "full" is `tail - head == capacity`.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};

/// Keeps the two indices on separate cache lines so producer and consumer do not fight over one.
#[repr(align(64))]
struct CachePadded(AtomicU64);

struct Shared<T> {
    head: CachePadded,
    tail: CachePadded,
    mask: u64,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: a slot is written only by the one producer before it publishes `tail`, and read only
// by the one consumer after it observes that `tail`; the indices hand each slot over exactly
// once, so sending the ring between threads is sound whenever `T` itself may be sent.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: see above; the ring owns its `T`s and moves them across threads like a channel.
unsafe impl<T: Send> Send for Shared<T> {}

/// The writing end. Not `Clone`: there is exactly one producer.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
}

/// The reading end. Not `Clone`: there is exactly one consumer.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
}

/// A successful push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// The consumer had taken everything before this push, so it may be asleep and need a wake.
    pub was_empty: bool,
}

/// The ring was full; the value comes back so the caller can count and drop it.
#[derive(Debug)]
pub struct Full<T>(pub T);

/// A ring holding up to `capacity` items, rounded up to a power of two (at least 1).
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(1).next_power_of_two();
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded(AtomicU64::new(0)),
        tail: CachePadded(AtomicU64::new(0)),
        mask: capacity as u64 - 1,
        slots,
    });
    (
        Producer {
            shared: Arc::clone(&shared),
        },
        Consumer { shared },
    )
}

impl<T> Shared<T> {
    fn slot(&self, index: u64) -> *mut MaybeUninit<T> {
        self.slots[(index & self.mask) as usize].get()
    }

    fn capacity(&self) -> u64 {
        self.mask + 1
    }
}

impl<T> Producer<T> {
    pub fn push(&mut self, value: T) -> Result<Pushed, Full<T>> {
        let shared = &*self.shared;
        // Only this producer stores `tail`, so a relaxed load sees its own latest value.
        let tail = shared.tail.0.load(Ordering::Relaxed);
        let head = shared.head.0.load(Ordering::Acquire);
        if tail - head == shared.capacity() {
            return Err(Full(value));
        }
        // SAFETY: `tail - head < capacity`, so the consumer has released this slot (its `head`
        // store was acquired above) and will not read it until we publish `tail + 1`.
        unsafe { (*shared.slot(tail)).write(value) };
        shared.tail.0.store(tail + 1, Ordering::Release);
        // Pairs with the fence in `Consumer::pop`: either the consumer sees our new tail before
        // it goes idle, or we see that it had drained up to our slot and report `was_empty`.
        fence(Ordering::SeqCst);
        let head = shared.head.0.load(Ordering::Acquire);
        Ok(Pushed {
            was_empty: head == tail,
        })
    }
}

impl<T> Consumer<T> {
    pub fn pop(&mut self) -> Option<T> {
        let shared = &*self.shared;
        let head = shared.head.0.load(Ordering::Relaxed);
        if shared.tail.0.load(Ordering::Acquire) == head {
            // Before answering "empty", order our last `head` store before this re-read (see
            // `Producer::push`), so a concurrent push cannot be missed and left unwoken.
            fence(Ordering::SeqCst);
            if shared.tail.0.load(Ordering::Acquire) == head {
                return None;
            }
        }
        // SAFETY: `head < tail`, so the producer wrote this slot and published it with its
        // release store of `tail`, which our acquire load observed.
        let value = unsafe { (*shared.slot(head)).assume_init_read() };
        shared.head.0.store(head + 1, Ordering::Release);
        Some(value)
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let tail = *self.tail.0.get_mut();
        let mut head = *self.head.0.get_mut();
        while head != tail {
            // SAFETY: slots in `head..tail` were written and never read; we are the last owner.
            unsafe { (*self.slot(head)).assume_init_drop() };
            head += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order() {
        let (mut producer, mut consumer) = channel(8);
        for value in 0..5 {
            producer.push(value).unwrap();
        }
        let popped: Vec<i32> = std::iter::from_fn(|| consumer.pop()).collect();
        assert_eq!(popped, vec![0, 1, 2, 3, 4]);
        assert!(consumer.pop().is_none());
    }

    #[test]
    fn rounds_capacity_up_to_a_power_of_two() {
        let (mut producer, _consumer) = channel(3);
        for value in 0..4 {
            producer.push(value).unwrap();
        }
        assert!(producer.push(4).is_err());
    }

    #[test]
    fn refuses_when_full_and_returns_the_value() {
        let (mut producer, mut consumer) = channel(2);
        producer.push("a").unwrap();
        producer.push("b").unwrap();
        let Err(Full(rejected)) = producer.push("c") else {
            panic!("push into a full ring succeeded");
        };
        assert_eq!(rejected, "c");
        assert_eq!(consumer.pop(), Some("a"));
        producer.push("c").unwrap();
        assert_eq!(consumer.pop(), Some("b"));
        assert_eq!(consumer.pop(), Some("c"));
    }

    #[test]
    fn wraps_around_many_times() {
        let (mut producer, mut consumer) = channel(4);
        for round in 0..100u32 {
            producer.push(round * 3).unwrap();
            producer.push(round * 3 + 1).unwrap();
            producer.push(round * 3 + 2).unwrap();
            assert_eq!(consumer.pop(), Some(round * 3));
            assert_eq!(consumer.pop(), Some(round * 3 + 1));
            assert_eq!(consumer.pop(), Some(round * 3 + 2));
        }
        assert!(consumer.pop().is_none());
    }

    #[test]
    fn reports_was_empty_only_for_the_first_push_into_an_empty_ring() {
        let (mut producer, mut consumer) = channel(4);
        assert!(producer.push(1).unwrap().was_empty);
        assert!(!producer.push(2).unwrap().was_empty);
        consumer.pop();
        assert!(!producer.push(3).unwrap().was_empty);
        while consumer.pop().is_some() {}
        assert!(producer.push(4).unwrap().was_empty);
    }

    #[test]
    fn drops_unread_items_with_the_ring() {
        let item = Arc::new(());
        let (mut producer, consumer) = channel(4);
        producer.push(Arc::clone(&item)).unwrap();
        producer.push(Arc::clone(&item)).unwrap();
        drop(producer);
        drop(consumer);
        assert_eq!(Arc::strong_count(&item), 1);
    }

    #[test]
    fn concurrent_producer_and_consumer_agree_on_every_item() {
        const COUNT: u64 = 200_000;
        let (mut producer, mut consumer) = channel::<u64>(64);
        let writer = std::thread::spawn(move || {
            let mut sent_sum = 0u64;
            for value in 1..=COUNT {
                let mut pending = value;
                loop {
                    match producer.push(pending) {
                        Ok(_) => break,
                        Err(Full(back)) => {
                            pending = back;
                            std::thread::yield_now();
                        }
                    }
                }
                sent_sum = sent_sum.wrapping_add(value.wrapping_mul(value));
            }
            sent_sum
        });
        let mut received_sum = 0u64;
        let mut expected_next = 1u64;
        while expected_next <= COUNT {
            match consumer.pop() {
                Some(value) => {
                    assert_eq!(value, expected_next, "out of order");
                    received_sum = received_sum.wrapping_add(value.wrapping_mul(value));
                    expected_next += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        assert_eq!(writer.join().unwrap(), received_sum);
        assert!(consumer.pop().is_none());
    }
}

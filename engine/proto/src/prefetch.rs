//! Asking the CPU to start loading memory that is read soon. The fan-out walks viewers whose
//! state lies scattered over megabytes, so each viewer used to start with cache misses;
//! loading the next viewers' state while the current one is written hides that wait.

const CACHE_LINE: usize = 64;

/// Starts loading every cache line `value` spans. A hint only: it reads nothing that the
/// program sees, never faults, and needs nothing of `value` but its address and size.
pub fn prefetch<T: ?Sized>(value: &T) {
    let start = std::ptr::from_ref(value).cast::<u8>();
    for line in lines(start, size_of_val(value)) {
        prefetch_line(line);
    }
}

/// The start of each cache line that the `len` bytes from `start` touch.
fn lines(start: *const u8, len: usize) -> impl Iterator<Item = *const u8> {
    let first = start.wrapping_sub(start.addr() % CACHE_LINE);
    let end = start.wrapping_add(len);
    std::iter::successors((len > 0).then_some(first), |line| {
        Some(line.wrapping_add(CACHE_LINE))
    })
    .take_while(move |&line| line < end)
}

#[cfg(target_arch = "x86_64")]
fn prefetch_line(address: *const u8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is a hint: it reads nothing architecturally and cannot fault, whatever
    // the address. SSE, which it needs, is part of every x86-64 CPU.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(address.cast()) };
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_line(_address: *const u8) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(64))]
    struct Lines([u8; 256]);

    #[test]
    fn every_line_a_range_touches_and_no_other() {
        let block = Lines([0; 256]);
        let base = block.0.as_ptr();
        let starts = |offset: usize, len: usize| -> Vec<usize> {
            lines(base.wrapping_add(offset), len)
                .map(|line| line.addr() - base.addr())
                .collect()
        };
        assert_eq!(starts(0, 64), [0]);
        assert_eq!(starts(0, 65), [0, 64]);
        // 2 bytes straddling a boundary: both lines.
        assert_eq!(starts(63, 2), [0, 64]);
        assert_eq!(starts(60, 130), [0, 64, 128]);
        assert_eq!(starts(70, 1), [64]);
        assert_eq!(starts(10, 0), Vec::<usize>::new());
    }

    #[test]
    fn prefetching_changes_nothing() {
        let values = vec![7u32; 1000];
        prefetch(values.as_slice());
        prefetch(&values[999]);
        assert!(values.iter().all(|&v| v == 7));
    }
}

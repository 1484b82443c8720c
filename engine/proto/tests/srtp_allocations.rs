//! Steady-state SRTP allocates nothing: once an SSRC is known, protecting and unprotecting in
//! place touch neither Rust's heap nor the C heap of aws-lc underneath.
//!
//! Its own test binary because the counting allocator is global. Only allocations made on the
//! thread inside `allocations_during` count, so tests running in parallel do not disturb it.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::hint::black_box;
use std::sync::Once;

use shardcast_proto::srtp::{SrtpKeys, SrtpMasterKey, SrtpProfile, SrtpSession};

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static RUST_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static C_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// `try_with`: allocations also happen while thread-locals are torn down.
fn record(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = counter.try_with(|count| count.set(count.get() + 1));
    }
}

struct CountingAllocator;

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(&RUST_ALLOCATIONS);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(&RUST_ALLOCATIONS);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(&RUST_ALLOCATIONS);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

unsafe extern "C" fn c_malloc(size: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
    record(&C_ALLOCATIONS);
    unsafe { libc::malloc(size) }
}

unsafe extern "C" fn c_realloc(
    ptr: *mut c_void,
    size: usize,
    _file: *const c_char,
    _line: c_int,
) -> *mut c_void {
    record(&C_ALLOCATIONS);
    unsafe { libc::realloc(ptr, size) }
}

unsafe extern "C" fn c_free(ptr: *mut c_void, _file: *const c_char, _line: c_int) {
    unsafe { libc::free(ptr) }
}

/// Routes aws-lc's allocations through the counter. Every test calls this before touching aws-lc,
/// so no pointer aws-lc frees came from its default allocator.
fn count_c_allocations() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let installed = unsafe {
            aws_lc_sys::CRYPTO_set_mem_functions(Some(c_malloc), Some(c_realloc), Some(c_free))
        };
        assert_eq!(installed, 1, "aws-lc took no allocator hooks");
    });
}

/// (Rust, C) allocations made on this thread while `work` runs.
fn allocations_during(work: impl FnOnce()) -> (u64, u64) {
    RUST_ALLOCATIONS.with(|count| count.set(0));
    C_ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|counting| counting.set(true));
    work();
    COUNTING.with(|counting| counting.set(false));
    (
        RUST_ALLOCATIONS.with(Cell::get),
        C_ALLOCATIONS.with(Cell::get),
    )
}

/// Two sessions whose keys mirror each other: `sender` protects what `receiver` unprotects.
fn pair(profile: SrtpProfile) -> (SrtpSession, SrtpSession) {
    let master = |fill: u8| SrtpMasterKey {
        key: vec![fill; profile.master_key_len()],
        salt: vec![fill ^ 0x5a; profile.master_salt_len()],
    };
    let keys = |local, remote| SrtpKeys {
        profile,
        local: master(local),
        remote: master(remote),
    };
    (
        SrtpSession::new(&keys(1, 2)).unwrap(),
        SrtpSession::new(&keys(2, 1)).unwrap(),
    )
}

fn rtp_packet(packet: &mut Vec<u8>, seq: u16) {
    packet.clear();
    packet.extend_from_slice(&[0x80, 96]);
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0x30, 0x39, 0xca, 0xfe, 0xba, 0xbe]);
    packet.resize(1200, 0x42);
}

fn rtcp_packet(packet: &mut Vec<u8>) {
    packet.clear();
    packet.extend_from_slice(&[0x80, 201, 0, 1, 0xca, 0xfe, 0xba, 0xbe]);
}

#[test]
fn the_counters_see_rust_and_c_allocations() {
    count_c_allocations();
    let (rust, _) = allocations_during(|| {
        black_box(Vec::<u8>::with_capacity(64));
    });
    assert_eq!(rust, 1);
    let (_, c) = allocations_during(|| {
        let key = aws_lc_rs::agreement::PrivateKey::generate(&aws_lc_rs::agreement::X25519);
        black_box(key.unwrap());
    });
    assert!(c > 0, "an X25519 key lives on aws-lc's heap");
}

#[test]
fn steady_state_protect_and_unprotect_allocate_nothing() {
    count_c_allocations();
    for profile in [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmHmacSha1_80,
    ] {
        let (mut sender, mut receiver) = pair(profile);
        let mut packet = Vec::with_capacity(1500);
        // Warm-up: the first packet of each SSRC creates its state.
        rtp_packet(&mut packet, 59_000);
        sender.protect_rtp_in_place(&mut packet).unwrap();
        receiver.unprotect_rtp_in_place(&mut packet).unwrap();
        rtcp_packet(&mut packet);
        sender.protect_rtcp_in_place(&mut packet).unwrap();
        receiver.unprotect_rtcp_in_place(&mut packet).unwrap();

        let counted = allocations_during(|| {
            // From 59,001 on, so the sequence number wraps on the way.
            for step in 1..=10_000u16 {
                rtp_packet(&mut packet, 59_000u16.wrapping_add(step));
                sender.protect_rtp_in_place(&mut packet).unwrap();
                let plain_len = receiver.unprotect_rtp_in_place(&mut packet).unwrap();
                assert_eq!(plain_len, 1200);
                if step % 100 == 0 {
                    rtcp_packet(&mut packet);
                    sender.protect_rtcp_in_place(&mut packet).unwrap();
                    let plain_len = receiver.unprotect_rtcp_in_place(&mut packet).unwrap();
                    assert_eq!(plain_len, 8);
                }
            }
        });
        assert_eq!(counted, (0, 0), "{profile:?}: (Rust, C) allocations");
    }
}

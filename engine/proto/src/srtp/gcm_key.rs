//! An AES-GCM key held in aws-lc's own context, reached through a pointer we keep. aws-lc-rs
//! hides that pointer, yet the context (584 bytes: key schedule, GHASH table) is the largest
//! per-viewer state a forwarded packet reads, and the fan-out wants to start loading it a few
//! viewers ahead. Same library, same code path as `aws_lc_rs::aead`, one layer less. The
//! context lives in our own allocation, so it comes from the engine's allocator with the rest
//! of a viewer's state rather than from the C library's malloc.

use std::ptr::null;

use aws_lc_sys::{
    EVP_AEAD_CTX, EVP_AEAD_CTX_cleanup, EVP_AEAD_CTX_init, EVP_AEAD_CTX_open,
    EVP_AEAD_CTX_seal_scatter, EVP_AEAD_CTX_zero, EVP_aead_aes_128_gcm, EVP_aead_aes_256_gcm,
};

use aws_lc_rs::error::Unspecified;

use crate::prefetch::prefetch;

pub(super) const NONCE_LEN: usize = 12;
pub(super) const TAG_LEN: usize = 16;

pub(super) struct GcmKey {
    /// Initialised where it lies and never moved: aws-lc places its state at an offset chosen
    /// for the context's address. Cleaned up on drop.
    context: Box<EVP_AEAD_CTX>,
}

// SAFETY: the context is owned by this value alone and aws-lc keeps no thread-local state for
// it, so it may move to another thread. Sealing and opening only read it (`*const` in the C
// API), so shared references from several threads are sound too.
unsafe impl Send for GcmKey {}
// SAFETY: as above, every operation through `&self` passes the context as `const`.
unsafe impl Sync for GcmKey {}

impl GcmKey {
    /// A 16-byte key gives AES-128-GCM, a 32-byte one AES-256-GCM; other lengths are refused.
    pub(super) fn new(key: &[u8]) -> Result<Self, Unspecified> {
        // SAFETY: the functions return pointers to static algorithm descriptions.
        let algorithm = match key.len() {
            16 => unsafe { EVP_aead_aes_128_gcm() },
            32 => unsafe { EVP_aead_aes_256_gcm() },
            _ => return Err(Unspecified),
        };
        // SAFETY: all zeroes is the state `EVP_AEAD_CTX_zero` itself leaves (a plain C struct
        // of a pointer, bytes and integers). Zeroed on the stack, then boxed before init.
        let mut context: Box<EVP_AEAD_CTX> = Box::new(unsafe { std::mem::zeroed() });
        let pointer: *mut EVP_AEAD_CTX = &raw mut *context;
        // SAFETY: `pointer` is valid and stays where it is (boxed); `key` is valid for
        // `key.len()` bytes and aws-lc copies what it needs. A failed init leaves the context
        // as zeroed, which cleanup accepts.
        let initialised = unsafe {
            EVP_AEAD_CTX_zero(pointer);
            EVP_AEAD_CTX_init(
                pointer,
                algorithm,
                key.as_ptr(),
                key.len(),
                TAG_LEN,
                std::ptr::null_mut(),
            )
        };
        let key = Self { context };
        if initialised == 1 {
            Ok(key)
        } else {
            Err(Unspecified)
        }
    }

    /// Encrypts `payload` where it lies, authenticating `aad` with it; returns the tag.
    pub(super) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        payload: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Unspecified> {
        let mut tag = [0u8; TAG_LEN];
        let mut tag_len = 0;
        // SAFETY: the context is initialised and owned; every pointer is valid for the length
        // passed beside it; aws-lc allows the output to be the input exactly (in place).
        let sealed = unsafe {
            EVP_AEAD_CTX_seal_scatter(
                &raw const *self.context,
                payload.as_mut_ptr(),
                tag.as_mut_ptr(),
                &mut tag_len,
                TAG_LEN,
                nonce.as_ptr(),
                NONCE_LEN,
                payload.as_ptr(),
                payload.len(),
                null(),
                0,
                aad.as_ptr(),
                aad.len(),
            )
        };
        if sealed == 1 && tag_len == TAG_LEN {
            Ok(tag)
        } else {
            Err(Unspecified)
        }
    }

    /// Verifies and decrypts `sealed` (ciphertext then tag) where it lies; returns the length
    /// of the plaintext at its start. On error the bytes of `sealed` are unspecified.
    pub(super) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &mut [u8],
    ) -> Result<usize, Unspecified> {
        let mut plain_len = 0;
        // SAFETY: as for sealing; the plaintext is shorter than `sealed`, which bounds it.
        let opened = unsafe {
            EVP_AEAD_CTX_open(
                &raw const *self.context,
                sealed.as_mut_ptr(),
                &mut plain_len,
                sealed.len(),
                nonce.as_ptr(),
                NONCE_LEN,
                sealed.as_ptr(),
                sealed.len(),
                aad.as_ptr(),
                aad.len(),
            )
        };
        if opened == 1 && plain_len <= sealed.len() {
            Ok(plain_len)
        } else {
            Err(Unspecified)
        }
    }

    /// Starts loading the context, which sealing reads whole.
    pub(super) fn prefetch(&self) {
        prefetch(&*self.context);
    }
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        // SAFETY: zeroed or initialised by `new`, and cleaned up exactly once, here; the box
        // then frees the memory.
        unsafe { EVP_AEAD_CTX_cleanup(&raw mut *self.context) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

    const NONCE: [u8; NONCE_LEN] = [9; NONCE_LEN];

    /// The same seal through aws-lc-rs, the reference this key must match byte for byte.
    fn reference_seal(key: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let algorithm = if key.len() == 32 {
            &AES_256_GCM
        } else {
            &AES_128_GCM
        };
        let key = LessSafeKey::new(UnboundKey::new(algorithm, key).expect("valid key"));
        let mut out = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(NONCE),
            Aad::from(aad),
            &mut out,
        )
        .expect("seals");
        out
    }

    #[test]
    fn seals_like_aws_lc_rs_and_opens_its_own_output() {
        for key in [vec![3u8; 16], vec![4u8; 32]] {
            let gcm = GcmKey::new(&key).expect("valid key");
            let plain: Vec<u8> = (0..=200u8).collect();
            let aad = [0x80, 0x60, 0, 1];
            let mut payload = plain.clone();
            let tag = gcm
                .seal_in_place(&NONCE, &aad, &mut payload)
                .expect("seals");
            let mut sealed = payload.clone();
            sealed.extend_from_slice(&tag);
            assert_eq!(sealed, reference_seal(&key, &aad, &plain));

            gcm.prefetch();
            let len = gcm.open_in_place(&NONCE, &aad, &mut sealed).expect("opens");
            assert_eq!(&sealed[..len], plain.as_slice());
        }
    }

    #[test]
    fn refuses_a_tampered_tag_a_wrong_aad_and_odd_key_lengths() {
        let gcm = GcmKey::new(&[5u8; 16]).expect("valid key");
        let mut payload = vec![1u8; 40];
        let tag = gcm
            .seal_in_place(&NONCE, b"hdr", &mut payload)
            .expect("seals");
        let mut sealed = [payload.as_slice(), tag.as_slice()].concat();

        let mut wrong_aad = sealed.clone();
        assert_eq!(
            gcm.open_in_place(&NONCE, b"hdx", &mut wrong_aad),
            Err(Unspecified)
        );
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            gcm.open_in_place(&NONCE, b"hdr", &mut sealed),
            Err(Unspecified)
        );
        // Shorter than a tag.
        assert_eq!(
            gcm.open_in_place(&NONCE, b"hdr", &mut [0u8; 8]),
            Err(Unspecified)
        );

        for len in [0, 15, 24, 33] {
            assert!(GcmKey::new(&vec![0u8; len]).is_err(), "{len}-byte key");
        }
    }
}

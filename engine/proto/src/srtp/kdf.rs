//! The SRTP key derivation function (RFC 3711 section 4.3): AES in counter mode under the
//! master key, over an IV made of the master salt and a label. RFC 7714 section 11 keeps it for
//! AES-GCM; RFC 6188 runs it with AES-256 when the master key is 256 bits.

use aws_lc_rs::cipher::{AES_128, AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;

use super::SrtpError;

/// Which packets a session key protects: SRTCP labels are the SRTP ones plus 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    Rtp,
    Rtcp,
}

/// What a session key is for (RFC 3711 section 4.3.2 labels, for SRTP).
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyPurpose {
    Encryption = 0,
    Authentication = 1,
    Salt = 2,
}

/// Fills `out` with the session key for `protocol` and `purpose`.
///
/// The key derivation rate is 0 (DTLS-SRTP never rekeys by packet count), so `r` is 0 and the
/// packet index plays no part.
pub(super) fn derive(
    master_key: &[u8],
    master_salt: &[u8],
    protocol: Protocol,
    purpose: KeyPurpose,
    out: &mut [u8],
) -> Result<(), SrtpError> {
    let algorithm = if master_key.len() == 32 {
        &AES_256
    } else {
        &AES_128
    };
    let key = UnboundCipherKey::new(algorithm, master_key).map_err(SrtpError::Crypto)?;
    let key = EncryptingKey::ctr(key).map_err(SrtpError::Crypto)?;
    let label = purpose as u8
        + match protocol {
            Protocol::Rtp => 0,
            Protocol::Rtcp => 3,
        };
    // x = (label || r) XOR master_salt, the 56-bit key_id right-aligned in the 112-bit salt, so
    // the label lands on byte 7. A 96-bit GCM salt sits left-aligned and zero-padded, as libsrtp
    // and browsers do. The IV is x * 2^16.
    let mut iv = [0u8; 16];
    iv.get_mut(..master_salt.len())
        .ok_or(SrtpError::Crypto(aws_lc_rs::error::Unspecified))?
        .copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    key.less_safe_encrypt(out, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(SrtpError::Crypto)?;
    Ok(())
}

//! Published test vectors: RFC 3711 appendix B (key derivation, AES-CM keystream), libsrtp's
//! AES-CM packets, and RFC 7714 section 16 (AES-GCM SRTP and SRTCP, 128 and 256 bits).

use super::super::aes_cm::AesCmHmac;
use super::super::aes_gcm::AesGcm;
use super::super::kdf::{self, KeyPurpose, Protocol};
use super::super::{SrtpMasterKey, SrtpProfile};
use super::*;

const RFC3711_MASTER_KEY: &str = "E1F97A0D3E018BE0D64FA32C06DE4139";
const RFC3711_MASTER_SALT: &str = "0EC675AD498AFEEBB6960B3AABE6";

#[test]
fn rfc3711_b3_key_derivation() {
    let master_key = hex(RFC3711_MASTER_KEY);
    let master_salt = hex(RFC3711_MASTER_SALT);
    let derive = |purpose, len| {
        let mut out = vec![0u8; len];
        kdf::derive(&master_key, &master_salt, Protocol::Rtp, purpose, &mut out).unwrap();
        out
    };
    assert_eq!(
        derive(KeyPurpose::Encryption, 16),
        hex("C61E7A93744F39EE10734AFE3FF7A087")
    );
    assert_eq!(
        derive(KeyPurpose::Salt, 14),
        hex("30CBBC08863D8C85D49DB34A9AE1")
    );
    assert_eq!(
        derive(KeyPurpose::Authentication, 94),
        hex(
            "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE
             E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25
             6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
        )
    );
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let salt: [u8; 14] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
    let cipher =
        AesCmHmac::with_session_keys(&hex("2B7E151628AED2A6ABF7158809CF4F3C"), salt, &[0; 20])
            .unwrap();
    // SSRC 0 and index 0, so the counter blocks run from F0F1...FCFD0000 up.
    let mut keystream = vec![0u8; 0xff02 * 16];
    cipher.apply_keystream(0, 0, &mut keystream).unwrap();
    let block = |counter: usize| &keystream[counter * 16..(counter + 1) * 16];
    assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
    assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
    assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
    assert_eq!(block(0xfeff), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
    assert_eq!(block(0xff00), hex("362B7C3C6773516318A077D7FC5073AE"));
    assert_eq!(block(0xff01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
}

/// libsrtp's srtp_driver packets, keyed with the RFC 3711 master key: the whole path from
/// master key to wire bytes for AES_CM_128_HMAC_SHA1_80.
#[test]
fn libsrtp_aes_cm_packets() {
    let master = SrtpMasterKey {
        key: hex(RFC3711_MASTER_KEY),
        salt: hex(RFC3711_MASTER_SALT),
    };
    let keys = SrtpKeys {
        profile: SrtpProfile::Aes128CmHmacSha1_80,
        local: master.clone(),
        remote: master,
    };
    let mut session = SrtpSession::new(&keys).unwrap();

    let plain_rtp = hex("800f1234decafbadcafebabe abababababababababababababababab");
    let protected_rtp =
        hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb");
    let mut packet = plain_rtp.clone();
    session.protect_rtp_in_place(&mut packet).unwrap();
    assert_eq!(packet, protected_rtp);
    let plain_len = session.unprotect_rtp_in_place(&mut packet).unwrap();
    assert_eq!(packet[..plain_len], plain_rtp[..]);

    // The vector carries SRTCP index 1; ours count from 0, so it is the second packet.
    let plain_rtcp = hex("81c8000bcafebabe abababababababababababababababab");
    let protected_rtcp =
        hex("81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798");
    let mut packet = plain_rtcp.clone();
    session.protect_rtcp_in_place(&mut packet).unwrap();
    let mut packet = plain_rtcp.clone();
    session.protect_rtcp_in_place(&mut packet).unwrap();
    assert_eq!(packet, protected_rtcp);
    let plain_len = session.unprotect_rtcp_in_place(&mut packet).unwrap();
    assert_eq!(packet[..plain_len], plain_rtcp[..]);
}

const RFC7714_KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const RFC7714_KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// "Quid pro quo"
const RFC7714_SALT: &str = "517569642070726f2071756f";

/// RFC 7714 section 16.1: SSRC 0x5501a0b2, ROC 0, SEQ 0xf17b, payload "Gallia est omnis divisa in
/// partes tres".
const RFC7714_RTP: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                           20646976 69736120 696e2070 61727465 73207472 6573";
const RFC7714_RTP_SSRC: u32 = 0x5501_a0b2;
const RFC7714_RTP_INDEX: u64 = 0xf17b;

/// RFC 7714 section 17.1: sender SSRC "Mars", SRTCP index 0x5d4.
const RFC7714_RTCP: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                            4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
const RFC7714_RTCP_SSRC: u32 = 0x4d61_7273;
const RFC7714_RTCP_INDEX: u32 = 0x5d4;

fn rfc7714_cipher(key: &str) -> AesGcm {
    let salt: [u8; 12] = hex(RFC7714_SALT).try_into().unwrap();
    AesGcm::with_session_keys(&hex(key), salt).unwrap()
}

fn check_rfc7714_rtp(key: &str, protected: &str) {
    let cipher = rfc7714_cipher(key);
    let plain = hex(RFC7714_RTP);
    let expected = hex(protected);
    let mut packet = plain.clone();
    cipher
        .seal_rtp(&mut packet, 0, 12, RFC7714_RTP_SSRC, RFC7714_RTP_INDEX)
        .unwrap();
    assert_eq!(packet, expected);
    let plain_len = cipher
        .open_rtp(&mut packet, 12, RFC7714_RTP_SSRC, RFC7714_RTP_INDEX)
        .unwrap();
    assert_eq!(packet[..plain_len], plain[..]);
}

fn check_rfc7714_rtcp(key: &str, protected: &str) {
    let cipher = rfc7714_cipher(key);
    let plain = hex(RFC7714_RTCP);
    let expected = hex(protected);
    let mut packet = plain.clone();
    cipher
        .seal_rtcp(&mut packet, RFC7714_RTCP_SSRC, RFC7714_RTCP_INDEX)
        .unwrap();
    assert_eq!(packet, expected);
    let plain_len = cipher
        .open_rtcp(&mut packet, RFC7714_RTCP_SSRC, RFC7714_RTCP_INDEX)
        .unwrap();
    assert_eq!(packet[..plain_len], plain[..]);
}

#[test]
fn rfc7714_aes_128_gcm_rtp() {
    check_rfc7714_rtp(
        RFC7714_KEY_128,
        "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f
         42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce",
    );
}

#[test]
fn rfc7714_aes_256_gcm_rtp() {
    check_rfc7714_rtp(
        RFC7714_KEY_256,
        "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238 9a58e2f3
         b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13",
    );
}

#[test]
fn rfc7714_aes_128_gcm_rtcp() {
    check_rfc7714_rtcp(
        RFC7714_KEY_128,
        "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1
         730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4",
    );
}

#[test]
fn rfc7714_aes_256_gcm_rtcp() {
    check_rfc7714_rtcp(
        RFC7714_KEY_256,
        "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50 a2eaa5c1
         110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c b26ac3be 800005d4",
    );
}

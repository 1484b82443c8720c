//! Tests of the whole SRTP module through `SrtpSession`, plus the RFC test vectors against its
//! parts. Each file holds one concern; this one holds the packets and keys they share.

mod hostile;
mod interop;
mod rollover;
mod round_trip;
mod vectors;

use shardcast_control::DtlsRole;

use super::{SrtpKeys, SrtpProfile, SrtpSession};

const PROFILES: [SrtpProfile; 3] = [
    SrtpProfile::AeadAes128Gcm,
    SrtpProfile::AeadAes256Gcm,
    SrtpProfile::Aes128CmHmacSha1_80,
];

const RTP_SSRC: u32 = 0x1234_5678;
const RTCP_SSRC: u32 = 0x9abc_def0;

/// Both ends' keys for one DTLS-SRTP association: the client's local keys are the server's
/// remote.
fn key_pair(profile: SrtpProfile) -> (SrtpKeys, SrtpKeys) {
    let len = 2 * (profile.master_key_len() + profile.master_salt_len());
    let material: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    (
        SrtpKeys::from_exported(profile, &material, DtlsRole::Client).unwrap(),
        SrtpKeys::from_exported(profile, &material, DtlsRole::Server).unwrap(),
    )
}

/// The two ends of one association, as sessions.
fn pair(profile: SrtpProfile) -> (SrtpSession, SrtpSession) {
    let (client, server) = key_pair(profile);
    (
        SrtpSession::new(&client).unwrap(),
        SrtpSession::new(&server).unwrap(),
    )
}

fn rtp_packet(seq: u16, payload_len: usize) -> Vec<u8> {
    rtp_packet_from(RTP_SSRC, seq, payload_len)
}

fn rtp_packet_from(ssrc: u32, seq: u16, payload_len: usize) -> Vec<u8> {
    let mut packet = vec![0x80, 96];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&u32::from(seq).wrapping_mul(3000).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend((0..payload_len).map(|i| (i as u8) ^ (seq as u8)));
    packet
}

/// An RTP packet with two CSRCs and a one-byte-header extension, all of which stay in clear.
fn rtp_packet_with_extension(seq: u16, payload_len: usize) -> Vec<u8> {
    let mut packet = vec![0x92, 96 | 0x80];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&90_000u32.to_be_bytes());
    packet.extend_from_slice(&RTP_SSRC.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    packet.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    packet.extend((0..payload_len).map(|i| i as u8));
    packet
}

/// A receiver report with no report blocks.
fn rtcp_packet() -> Vec<u8> {
    rtcp_packet_from(RTCP_SSRC)
}

fn rtcp_packet_from(ssrc: u32) -> Vec<u8> {
    let mut packet = vec![0x80, 201, 0, 1];
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet
}

/// A sender report followed by an SDES chunk: a compound packet with an encrypted body.
fn rtcp_compound() -> Vec<u8> {
    let mut packet = vec![0x80, 200, 0, 6];
    packet.extend_from_slice(&RTCP_SSRC.to_be_bytes());
    packet.extend((0..20).map(|i| i as u8));
    packet.extend_from_slice(&[0x81, 202, 0, 3]);
    packet.extend_from_slice(&RTCP_SSRC.to_be_bytes());
    packet.extend_from_slice(&[1, 3, b'a', b'b', b'c', 0, 0, 0]);
    packet
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

//! SRTP encryption of one outgoing RTP packet, in place, as the shard does it once per viewer
//! and packet: every profile we negotiate, for a full video packet and a typical Opus one.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use shardcast_control::DtlsRole;
use shardcast_proto::rtp::{RtpHeader, write_rtp};
use shardcast_proto::srtp::{SrtpKeys, SrtpProfile, SrtpSession};

const PROFILES: [(&str, SrtpProfile); 3] = [
    ("aes128gcm", SrtpProfile::AeadAes128Gcm),
    ("aes256gcm", SrtpProfile::AeadAes256Gcm),
    ("aes128cm_sha1_80", SrtpProfile::Aes128CmHmacSha1_80),
];

/// RTP payload bytes: a full video packet of the bench publisher, and an Opus packet.
const PAYLOADS: [(&str, usize); 2] = [("video_1200B", 1200), ("audio_100B", 100)];

fn session(profile: SrtpProfile) -> SrtpSession {
    let len = 2 * (profile.master_key_len() + profile.master_salt_len());
    let material: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    let keys = SrtpKeys::from_exported(profile, &material, DtlsRole::Server).expect("key length");
    SrtpSession::new(&keys).expect("keys")
}

/// A plain RTP packet as egress writes it: fixed header, the mid extension, the payload.
fn plain_packet(payload_len: usize) -> Vec<u8> {
    let header = RtpHeader {
        marker: true,
        payload_type: 96,
        sequence_number: 0,
        timestamp: 90_000,
        ssrc: 0x1234_5678,
    };
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    let mut out = vec![0; 1500];
    let len = write_rtp(&mut out, &header, &[(4, b"1")], &payload).expect("fits");
    out.truncate(len);
    out
}

fn protect_rtp_in_place(c: &mut Criterion) {
    let mut group = c.benchmark_group("srtp_protect_rtp_in_place");
    for (profile_name, profile) in PROFILES {
        for (payload_name, payload_len) in PAYLOADS {
            let plain = plain_packet(payload_len);
            let mut srtp = session(profile);
            let mut seq = 0u16;
            group.throughput(Throughput::Bytes(plain.len() as u64));
            let id = BenchmarkId::new(profile_name, payload_name);
            group.bench_function(id, |b| {
                b.iter_batched_ref(
                    // A fresh plaintext per packet, with room for the tag, outside the timing.
                    || {
                        seq = seq.wrapping_add(1);
                        let mut packet = Vec::with_capacity(plain.len() + profile.rtp_overhead());
                        packet.extend_from_slice(&plain);
                        packet[2..4].copy_from_slice(&seq.to_be_bytes());
                        packet
                    },
                    |packet| srtp.protect_rtp_in_place(black_box(packet)),
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();
}

criterion_group!(benches, protect_rtp_in_place);
criterion_main!(benches);

//! H.264 payloads (RFC 6184, packetization-mode 1): a NAL unit that fits goes alone (5.6),
//! parameter sets that fit together share one STAP-A (5.7.1), and a NAL unit too big for
//! one packet is cut into FU-A fragments (5.8).

use super::even_chunks;
use crate::media::annexb::nal_units;

const NAL_TYPE_MASK: u8 = 0x1f;
/// F and NRI: the bits of a NAL header that aggregation and fragmentation headers keep.
const FORBIDDEN_AND_PRIORITY: u8 = 0xe0;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;
const FU_START: u8 = 0x80;
const FU_END: u8 = 0x40;
/// FU indicator and FU header replace the one-byte NAL header.
const FU_OVERHEAD: usize = 2;
/// Each aggregated unit is preceded by its 16-bit size.
const STAP_A_UNIT_OVERHEAD: usize = 2;

/// Packetizes one access unit given in Annex-B form.
pub(super) fn packetize(access_unit: &[u8], max_payload: usize) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    let mut parameter_sets: Vec<&[u8]> = Vec::new();
    for unit in nal_units(access_unit) {
        let nal_type = unit[0] & NAL_TYPE_MASK;
        let is_parameter_set = nal_type == NAL_SPS || nal_type == NAL_PPS;
        if is_parameter_set && aggregated_len(&parameter_sets, unit) <= max_payload {
            parameter_sets.push(unit);
            continue;
        }
        flush_parameter_sets(&mut parameter_sets, max_payload, &mut payloads);
        if is_parameter_set {
            parameter_sets.push(unit);
        } else {
            push_unit(unit, max_payload, &mut payloads);
        }
    }
    flush_parameter_sets(&mut parameter_sets, max_payload, &mut payloads);
    payloads
}

/// The size of a STAP-A holding `units` and then `next`.
fn aggregated_len(units: &[&[u8]], next: &[u8]) -> usize {
    let units_len: usize = units
        .iter()
        .chain([&next])
        .map(|unit| STAP_A_UNIT_OVERHEAD + unit.len())
        .sum();
    1 + units_len
}

/// Sends the collected parameter sets: one alone as it is, several as a STAP-A.
fn flush_parameter_sets(units: &mut Vec<&[u8]>, max_payload: usize, out: &mut Vec<Vec<u8>>) {
    match units.as_slice() {
        [] => {}
        [single] => push_unit(single, max_payload, out),
        several => {
            // The aggregate is as important as its most important unit (RFC 6184 5.7).
            let priority = several
                .iter()
                .map(|unit| unit[0] & FORBIDDEN_AND_PRIORITY)
                .max()
                .unwrap_or(0);
            let mut payload = vec![priority | STAP_A];
            for unit in several {
                // Units here fit max_payload, which Packetizer keeps within 16 bits.
                let size = u16::try_from(unit.len()).unwrap_or(u16::MAX);
                payload.extend_from_slice(&size.to_be_bytes());
                payload.extend_from_slice(unit);
            }
            out.push(payload);
        }
    }
    units.clear();
}

fn push_unit(unit: &[u8], max_payload: usize, out: &mut Vec<Vec<u8>>) {
    if unit.len() <= max_payload {
        out.push(unit.to_vec());
        return;
    }
    let header = unit[0];
    let indicator = (header & FORBIDDEN_AND_PRIORITY) | FU_A;
    let body = &unit[1..];
    let count = body.len().div_ceil(max_payload - FU_OVERHEAD);
    let mut rest = body;
    for (index, len) in even_chunks(body.len(), max_payload - FU_OVERHEAD).enumerate() {
        let (chunk, after) = rest.split_at(len);
        rest = after;
        let mut fu_header = header & NAL_TYPE_MASK;
        if index == 0 {
            fu_header |= FU_START;
        }
        if index + 1 == count {
            fu_header |= FU_END;
        }
        out.push([&[indicator, fu_header][..], chunk].concat());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Track, test_files};
    use shardcast_control::CodecName;
    use shardcast_proto::codec::is_keyframe;

    /// What a receiver does: unpack STAP-As, join FU-As, and write Annex-B again.
    fn depacketize(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut access_unit = Vec::new();
        let mut fragments: Option<Vec<u8>> = None;
        for payload in payloads {
            match payload[0] & NAL_TYPE_MASK {
                STAP_A => {
                    let mut rest = &payload[1..];
                    while let Some((size, units)) = rest.split_first_chunk::<2>() {
                        let (unit, after) = units.split_at(usize::from(u16::from_be_bytes(*size)));
                        access_unit.extend_from_slice(&[0, 0, 0, 1]);
                        access_unit.extend_from_slice(unit);
                        rest = after;
                    }
                }
                FU_A => {
                    let fu_header = payload[1];
                    if fu_header & FU_START != 0 {
                        let header =
                            (payload[0] & FORBIDDEN_AND_PRIORITY) | (fu_header & NAL_TYPE_MASK);
                        fragments = Some(vec![header]);
                    }
                    let unit = fragments.as_mut().expect("FU-A start first");
                    unit.extend_from_slice(&payload[2..]);
                    if fu_header & FU_END != 0 {
                        access_unit.extend_from_slice(&[0, 0, 0, 1]);
                        access_unit.append(unit);
                        fragments = None;
                    }
                }
                _ => {
                    access_unit.extend_from_slice(&[0, 0, 0, 1]);
                    access_unit.extend_from_slice(payload);
                }
            }
        }
        assert!(fragments.is_none(), "unfinished FU-A");
        access_unit
    }

    #[test]
    fn real_access_units_round_trip_within_the_limit() {
        let track = Track::h264_annexb(&test_files::read("video-h264.h264"), 30).unwrap();
        for (index, frame) in track.frames().iter().enumerate() {
            let payloads = packetize(&frame.data, 1200);
            assert!(payloads.iter().all(|payload| payload.len() <= 1200));
            assert_eq!(depacketize(&payloads), frame.data, "frame {index}");
            assert_eq!(
                is_keyframe(CodecName::H264, &payloads[0]),
                frame.keyframe,
                "frame {index}"
            );
            if frame.keyframe {
                // SPS and PPS travel together.
                assert_eq!(payloads[0][0] & NAL_TYPE_MASK, STAP_A, "frame {index}");
            }
        }
    }

    #[test]
    fn chooses_single_stap_a_and_fu_a() {
        let sps = [0x67, 0x42, 0xc0, 0x1f];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let idr: Vec<u8> = [0x65].into_iter().chain(1..=20).collect();
        let access_unit = [
            &[0, 0, 0, 1][..],
            &sps,
            &[0, 0, 0, 1],
            &pps,
            &[0, 0, 0, 1],
            &idr,
        ]
        .concat();
        let payloads = packetize(&access_unit, 16);
        assert_eq!(
            payloads,
            vec![
                vec![
                    0x78, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 4, 0x68, 0xce, 0x3c, 0x80
                ],
                // 20 bytes after the NAL header, 14 per fragment: two of 10.
                [&[0x7c, 0x85][..], &(1..=10).collect::<Vec<u8>>()].concat(),
                [&[0x7c, 0x45][..], &(11..=20).collect::<Vec<u8>>()].concat(),
            ]
        );
        // Too small for both parameter sets together: each goes alone.
        let separate = packetize(&access_unit[..16], 8);
        assert_eq!(separate, vec![sps.to_vec(), pps.to_vec()]);
        assert_eq!(depacketize(&packetize(&access_unit, 16)), access_unit);
    }
}

//! Writes the SDP answer from the negotiation and the shard's reply.

use std::fmt::Write;
use std::net::SocketAddr;

use shardcast_control::{MediaAnswer, MediaKind, Role, SessionAnswer};

use super::negotiate::{Accepted, AnswerLine, Negotiated, Rejected};

/// Everything the answer is made of.
pub struct AnswerInput<'a> {
    pub negotiated: &'a Negotiated,
    pub engine: &'a SessionAnswer,
    pub role: Role,
    pub stream: &'a str,
    /// The `o=` session id.
    pub origin_id: u64,
}

pub fn write_answer(input: &AnswerInput<'_>) -> String {
    let mut sdp = String::with_capacity(2048);
    let first = input.engine.candidates.first();
    let mids: Vec<&str> = input
        .negotiated
        .lines
        .iter()
        .filter_map(|line| match line {
            AnswerLine::Accepted(accepted) => Some(accepted.section.mid.as_str()),
            AnswerLine::Rejected(_) => None,
        })
        .collect();
    line(&mut sdp, "v=0");
    line(
        &mut sdp,
        &format!("o=- {} 2 IN IP4 127.0.0.1", input.origin_id),
    );
    line(&mut sdp, "s=-");
    line(&mut sdp, "t=0 0");
    line(&mut sdp, "a=ice-lite");
    line(&mut sdp, &format!("a=group:BUNDLE {}", mids.join(" ")));
    line(&mut sdp, "a=msid-semantic: WMS");
    let mut accepted_index = 0;
    for answer_line in &input.negotiated.lines {
        match answer_line {
            AnswerLine::Accepted(accepted) => {
                let media_answer = input.engine.media.get(accepted_index);
                accepted_index += 1;
                write_accepted(&mut sdp, input, accepted, media_answer, first);
            }
            AnswerLine::Rejected(rejected) => write_rejected(&mut sdp, rejected),
        }
    }
    sdp
}

fn write_accepted(
    sdp: &mut String,
    input: &AnswerInput<'_>,
    accepted: &Accepted,
    media_answer: Option<&MediaAnswer>,
    first: Option<&SocketAddr>,
) {
    let section = &accepted.section;
    let kind = match section.kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    };
    let mut payload_types = Vec::new();
    for codec in &section.codecs {
        payload_types.push(codec.payload_type.to_string());
        if let Some(rtx) = codec.rtx_payload_type {
            payload_types.push(rtx.to_string());
        }
    }
    let port = first.map_or(9, SocketAddr::port);
    line(
        sdp,
        &format!(
            "m={kind} {port} {} {}",
            accepted.proto,
            payload_types.join(" ")
        ),
    );
    line(sdp, &connection(first));
    let engine = input.engine;
    line(sdp, &format!("a=ice-ufrag:{}", engine.ice_ufrag));
    line(sdp, &format!("a=ice-pwd:{}", engine.ice_pwd));
    line(
        sdp,
        &format!(
            "a=fingerprint:{} {}",
            engine.fingerprint.algorithm,
            hex_colons(&engine.fingerprint.value)
        ),
    );
    let setup = match input.negotiated.dtls_role {
        shardcast_control::DtlsRole::Server => "passive",
        shardcast_control::DtlsRole::Client => "active",
    };
    line(sdp, &format!("a=setup:{setup}"));
    line(sdp, &format!("a=mid:{}", section.mid));
    for extension in &section.extensions {
        line(sdp, &format!("a=extmap:{} {}", extension.id, extension.uri));
    }
    line(
        sdp,
        match input.role {
            Role::Publish => "a=recvonly",
            Role::Play => "a=sendonly",
        },
    );
    line(sdp, "a=rtcp-mux");
    if accepted.rtcp_rsize {
        line(sdp, "a=rtcp-rsize");
    }
    for codec in &section.codecs {
        let pt = codec.payload_type;
        match codec.channels {
            Some(channels) => line(
                sdp,
                &format!(
                    "a=rtpmap:{pt} {}/{}/{channels}",
                    codec.name.as_sdp(),
                    codec.clock_rate
                ),
            ),
            None => line(
                sdp,
                &format!("a=rtpmap:{pt} {}/{}", codec.name.as_sdp(), codec.clock_rate),
            ),
        }
        for feedback in &codec.feedback {
            line(sdp, &format!("a=rtcp-fb:{pt} {feedback}"));
        }
        if !codec.fmtp.is_empty() {
            line(sdp, &format!("a=fmtp:{pt} {}", codec.fmtp));
        }
        if let Some(rtx) = codec.rtx_payload_type {
            line(sdp, &format!("a=rtpmap:{rtx} rtx/{}", codec.clock_rate));
            line(sdp, &format!("a=fmtp:{rtx} apt={pt}"));
        }
    }
    write_simulcast(sdp, &accepted.answered_rids);
    if input.role == Role::Play {
        write_sender(sdp, input, kind, section.mid.as_str(), media_answer);
    }
    for (index, candidate) in engine.candidates.iter().enumerate() {
        line(sdp, &candidate_line(index, candidate));
    }
    line(sdp, "a=end-of-candidates");
}

/// The layers we receive from a simulcast publisher (RFC 8851, 8853); rids left out are
/// ones we do not take, so the publisher does not send them.
fn write_simulcast(sdp: &mut String, rids: &[String]) {
    if rids.is_empty() {
        return;
    }
    for rid in rids {
        line(sdp, &format!("a=rid:{rid} recv"));
    }
    line(sdp, &format!("a=simulcast:recv {}", rids.join(";")));
}

/// A viewer needs to know which SSRCs we send with and which stream/track they belong to.
fn write_sender(
    sdp: &mut String,
    input: &AnswerInput<'_>,
    kind: &str,
    mid: &str,
    media: Option<&MediaAnswer>,
) {
    line(sdp, &format!("a=msid:{} {kind}-{mid}", input.stream));
    let Some(ssrc) = media.and_then(|m| m.ssrc) else {
        return;
    };
    let cname = &input.engine.cname;
    match media.and_then(|m| m.rtx_ssrc) {
        Some(rtx) => {
            line(sdp, &format!("a=ssrc-group:FID {ssrc} {rtx}"));
            line(sdp, &format!("a=ssrc:{ssrc} cname:{cname}"));
            line(sdp, &format!("a=ssrc:{rtx} cname:{cname}"));
        }
        None => line(sdp, &format!("a=ssrc:{ssrc} cname:{cname}")),
    }
}

fn write_rejected(sdp: &mut String, rejected: &Rejected) {
    let formats = if rejected.formats.is_empty() {
        "0".to_owned()
    } else {
        rejected.formats.join(" ")
    };
    line(
        sdp,
        &format!("m={} 0 {} {formats}", rejected.media, rejected.proto),
    );
    line(sdp, "c=IN IP4 0.0.0.0");
    if let Some(mid) = &rejected.mid {
        line(sdp, &format!("a=mid:{mid}"));
    }
    line(sdp, "a=inactive");
}

fn connection(address: Option<&SocketAddr>) -> String {
    match address {
        Some(SocketAddr::V6(v6)) => format!("c=IN IP6 {}", v6.ip()),
        Some(SocketAddr::V4(v4)) => format!("c=IN IP4 {}", v4.ip()),
        None => "c=IN IP4 0.0.0.0".to_owned(),
    }
}

/// A host candidate; earlier addresses get higher priority (RFC 8445 section 5.1.2.1).
fn candidate_line(index: usize, address: &SocketAddr) -> String {
    const HOST_TYPE_PREFERENCE: u32 = 126;
    let local_preference = 65535u32.saturating_sub(u32::try_from(index).unwrap_or(u32::MAX));
    let priority = (HOST_TYPE_PREFERENCE << 24) | (local_preference << 8) | 255;
    format!(
        "a=candidate:{} 1 udp {priority} {} {} typ host",
        index + 1,
        address.ip(),
        address.port()
    )
}

/// `AA:BB:...`, uppercase as RFC 8122 writes fingerprints.
fn hex_colons(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 3);
    for (index, byte) in bytes.iter().enumerate() {
        if index > 0 {
            text.push(':');
        }
        let _ = write!(text, "{byte:02X}");
    }
    text
}

fn line(sdp: &mut String, text: &str) {
    sdp.push_str(text);
    sdp.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fingerprints_and_candidates() {
        assert_eq!(hex_colons(&[0x0a, 0xff, 0x10]), "0A:FF:10");
        let v6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        assert_eq!(
            candidate_line(0, &v6),
            format!(
                "a=candidate:1 1 udp {} 2001:db8::1 5000 typ host",
                (126u32 << 24) | (65535 << 8) | 255
            )
        );
        assert_eq!(connection(Some(&v6)), "c=IN IP6 2001:db8::1");
        assert_eq!(connection(None), "c=IN IP4 0.0.0.0");
    }
}

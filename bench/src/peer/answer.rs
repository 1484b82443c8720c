//! Reads what we need from a server's SDP answer, whoever wrote it (RFC 8866, RFC 8829).
//!
//! Servers differ in where they put things: transport attributes at session or media level,
//! candidates on every m-line or only the first, TCP and mDNS candidates next to UDP ones.
//! Media level wins over session level; anything we cannot use is skipped rather than
//! refused, and only an answer missing something essential is an error.

use std::net::{IpAddr, SocketAddr};

use shardcast_control::{
    Codec, CodecName, DtlsRole, Extension, Fingerprint, MediaKind, MediaSection,
};

use super::PeerError;

/// What the server answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteDescription {
    pub ice_ufrag: String,
    pub ice_pwd: String,
    /// `a=ice-lite`: the server never checks back.
    pub ice_lite: bool,
    pub fingerprint: Fingerprint,
    /// Our DTLS role, as the answer's `a=setup` decided it.
    pub dtls_role: DtlsRole,
    /// UDP candidates, highest priority first.
    pub candidates: Vec<SocketAddr>,
    /// Accepted m-lines with the codecs we offered, in answer order. `ssrcs` and
    /// `rtx_pairs` are what the server declared it sends with.
    pub media: Vec<MediaSection>,
}

/// Attributes of one scope: the session, or one m-line.
#[derive(Default)]
struct Scope {
    ice_ufrag: Option<String>,
    ice_pwd: Option<String>,
    fingerprint: Option<String>,
    setup: Option<String>,
    mid: Option<String>,
    candidates: Vec<(u32, SocketAddr)>,
    rtpmaps: Vec<(u8, String)>,
    fmtps: Vec<(u8, String)>,
    feedback: Vec<(String, String)>,
    extensions: Vec<Extension>,
    ssrcs: Vec<u32>,
    rtx_pairs: Vec<(u32, u32)>,
    inactive: bool,
    ice_lite: bool,
}

struct MediaScope {
    kind: Option<MediaKind>,
    port: u16,
    attributes: Scope,
}

impl RemoteDescription {
    pub fn parse(sdp: &str) -> Result<Self, PeerError> {
        let (session, media) = split_scopes(sdp)?;
        let accepted: Vec<&MediaScope> = media
            .iter()
            .filter(|m| m.kind.is_some() && m.port != 0 && !m.attributes.inactive)
            .collect();
        let transport = |pick: fn(&Scope) -> &Option<String>| {
            accepted
                .iter()
                .find_map(|m| pick(&m.attributes).clone())
                .or_else(|| pick(&session).clone())
        };
        let ice_ufrag = transport(|s| &s.ice_ufrag).ok_or(PeerError::Missing("a=ice-ufrag"))?;
        let ice_pwd = transport(|s| &s.ice_pwd).ok_or(PeerError::Missing("a=ice-pwd"))?;
        let fingerprint = transport(|s| &s.fingerprint)
            .ok_or(PeerError::Missing("a=fingerprint"))
            .and_then(|value| parse_fingerprint(&value))?;
        let dtls_role = match transport(|s| &s.setup).as_deref() {
            // A server that leaves a=setup out (or wrongly echoes actpass) waits for us.
            None | Some("passive") | Some("actpass") => DtlsRole::Client,
            Some("active") => DtlsRole::Server,
            Some(other) => return Err(PeerError::BadSetup(other.to_owned())),
        };
        let mut candidates: Vec<(u32, SocketAddr)> = Vec::new();
        let all = session
            .candidates
            .iter()
            .chain(accepted.iter().flat_map(|m| m.attributes.candidates.iter()));
        for &(priority, address) in all {
            if !candidates.iter().any(|&(_, known)| known == address) {
                candidates.push((priority, address));
            }
        }
        // Stable: equal priorities keep the answer's order.
        candidates.sort_by_key(|&(priority, _)| std::cmp::Reverse(priority));
        if candidates.is_empty() {
            return Err(PeerError::NoCandidate);
        }
        let media: Vec<MediaSection> = accepted.iter().filter_map(|m| section(m)).collect();
        if media.is_empty() {
            return Err(PeerError::NoCommonCodec);
        }
        Ok(Self {
            ice_ufrag,
            ice_pwd,
            ice_lite: session.ice_lite,
            fingerprint,
            dtls_role,
            candidates: candidates.into_iter().map(|(_, address)| address).collect(),
            media,
        })
    }

    pub fn section(&self, kind: MediaKind) -> Option<&MediaSection> {
        self.media.iter().find(|m| m.kind == kind)
    }

    /// The RTX payload type (RFC 4588) the answer pairs with codec `payload_type` on its
    /// `kind` m-line: `Some` when the server accepted retransmissions in a stream of their
    /// own for that codec, `None` when it wants them as the original packets again.
    pub fn rtx_payload_type(&self, kind: MediaKind, payload_type: u8) -> Option<u8> {
        self.section(kind)?
            .codecs
            .iter()
            .find(|codec| codec.payload_type == payload_type)?
            .rtx_payload_type
    }
}

fn split_scopes(sdp: &str) -> Result<(Scope, Vec<MediaScope>), PeerError> {
    let mut lines = sdp.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("v=0") {
        return Err(PeerError::NotSdp("it does not start with v=0".into()));
    }
    let mut session = Scope::default();
    let mut media: Vec<MediaScope> = Vec::new();
    for line in lines {
        let Some((kind, value)) = line.split_once('=') else {
            return Err(PeerError::NotSdp(format!("line {line:?} has no '='")));
        };
        match kind {
            "m" => media.push(media_line(value)?),
            "a" => match media.last_mut() {
                Some(current) => apply(&mut current.attributes, value),
                None => apply(&mut session, value),
            },
            _ => {}
        }
    }
    Ok((session, media))
}

fn media_line(value: &str) -> Result<MediaScope, PeerError> {
    let mut fields = value.split_ascii_whitespace();
    let kind = match fields.next() {
        Some("audio") => Some(MediaKind::Audio),
        Some("video") => Some(MediaKind::Video),
        _ => None,
    };
    let port = fields
        .next()
        // "port/count" is legal SDP; the count does not matter here.
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| invalid("m= line", value))?;
    Ok(MediaScope {
        kind,
        port,
        attributes: Scope::default(),
    })
}

fn apply(scope: &mut Scope, attribute: &str) {
    let (name, value) = attribute.split_once(':').unwrap_or((attribute, ""));
    let value = value.trim();
    match name {
        "ice-ufrag" => scope.ice_ufrag = Some(value.to_owned()),
        "ice-pwd" => scope.ice_pwd = Some(value.to_owned()),
        "fingerprint" => scope.fingerprint = Some(value.to_owned()),
        "setup" => scope.setup = Some(value.to_ascii_lowercase()),
        "mid" => scope.mid = Some(value.to_owned()),
        "candidate" => scope.candidates.extend(parse_candidate(value)),
        "rtpmap" => scope.rtpmaps.extend(payload_and_rest(value)),
        "fmtp" => scope.fmtps.extend(payload_and_rest(value)),
        "rtcp-fb" => {
            if let Some((pt, rest)) = value.split_once(' ') {
                scope.feedback.push((pt.to_owned(), rest.trim().to_owned()));
            }
        }
        "extmap" => scope.extensions.extend(parse_extmap(value)),
        "ssrc" => {
            let ssrc = value.split(' ').next().and_then(|s| s.parse().ok());
            if let Some(ssrc) = ssrc.filter(|s| !scope.ssrcs.contains(s)) {
                scope.ssrcs.push(ssrc);
            }
        }
        "ssrc-group" => {
            let fields: Vec<&str> = value.split_ascii_whitespace().collect();
            if let ["FID", media, rtx] = fields.as_slice()
                && let (Ok(media), Ok(rtx)) = (media.parse(), rtx.parse())
            {
                scope.rtx_pairs.push((media, rtx));
            }
        }
        "inactive" => scope.inactive = true,
        "ice-lite" => scope.ice_lite = true,
        _ => {}
    }
}

/// `<foundation> <component> <transport> <priority> <address> <port> typ <type> ...`:
/// only component 1 (RTP, rtcp-mux) over UDP at a literal address.
fn parse_candidate(value: &str) -> Option<(u32, SocketAddr)> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_, component, transport, priority, address, port, ..] = fields.as_slice() else {
        return None;
    };
    if *component != "1" || !transport.eq_ignore_ascii_case("udp") {
        return None;
    }
    // mDNS names (RFC 8828 `*.local`) and other hostnames fail to parse and are skipped.
    let ip: IpAddr = address.parse().ok()?;
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    Some((priority.parse().unwrap_or(0), SocketAddr::new(ip, port)))
}

fn payload_and_rest(value: &str) -> Option<(u8, String)> {
    let (pt, rest) = value.split_once(' ')?;
    Some((pt.parse().ok()?, rest.trim().to_owned()))
}

/// `<id>[/<direction>] <uri> [<attributes>]`.
fn parse_extmap(value: &str) -> Option<Extension> {
    let mut fields = value.split_ascii_whitespace();
    let id = fields.next()?.split('/').next()?.parse().ok()?;
    let uri = fields.next()?.to_owned();
    Some(Extension { id, uri })
}

/// `sha-256 AB:CD:...`.
fn parse_fingerprint(value: &str) -> Result<Fingerprint, PeerError> {
    let (algorithm, hex) = value
        .split_once(' ')
        .ok_or_else(|| invalid("a=fingerprint", value))?;
    let bytes: Option<Vec<u8>> = hex
        .trim()
        .split(':')
        .map(|byte| {
            u8::from_str_radix(byte, 16)
                .ok()
                .filter(|_| byte.len() == 2)
        })
        .collect();
    match bytes {
        Some(value) if !value.is_empty() => Ok(Fingerprint {
            algorithm: algorithm.to_ascii_lowercase(),
            value,
        }),
        _ => Err(invalid("a=fingerprint", value)),
    }
}

/// One accepted m-line with the codecs we offered, or None if none of them is left.
fn section(media: &MediaScope) -> Option<MediaSection> {
    let kind = media.kind?;
    let scope = &media.attributes;
    let codecs: Vec<Codec> = scope
        .rtpmaps
        .iter()
        .filter_map(|(pt, rtpmap)| codec(scope, kind, *pt, rtpmap))
        .collect();
    if codecs.is_empty() {
        return None;
    }
    Some(MediaSection {
        mid: scope.mid.clone().unwrap_or_default(),
        kind,
        codecs,
        extensions: scope.extensions.clone(),
        ssrcs: scope.ssrcs.clone(),
        rtx_pairs: scope.rtx_pairs.clone(),
        simulcast: Vec::new(),
    })
}

/// `<name>/<clock rate>[/<channels>]`, if it is a codec we offered on this kind of m-line.
fn codec(scope: &Scope, kind: MediaKind, pt: u8, rtpmap: &str) -> Option<Codec> {
    let mut parts = rtpmap.split('/');
    let name = CodecName::from_sdp(parts.next()?)?;
    let offered = matches!(name, CodecName::Opus | CodecName::Vp8 | CodecName::H264);
    if !offered || name.kind() != kind {
        return None;
    }
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = parts.next().and_then(|c| c.parse().ok());
    let fmtp = fmtp_of(scope, pt).unwrap_or_default().to_owned();
    let rtx_payload_type = scope.fmtps.iter().find_map(|(rtx, fmtp)| {
        let apt = fmtp
            .split(';')
            .find_map(|p| p.trim().strip_prefix("apt="))?;
        (apt.parse::<u8>().ok()? == pt && is_rtx(scope, *rtx)).then_some(*rtx)
    });
    let pt_text = pt.to_string();
    let feedback = scope
        .feedback
        .iter()
        .filter(|(for_pt, _)| *for_pt == pt_text || for_pt == "*")
        .map(|(_, value)| value.clone())
        .collect();
    Some(Codec {
        payload_type: pt,
        name,
        clock_rate,
        channels,
        fmtp,
        rtx_payload_type,
        feedback,
    })
}

/// Whether `pt` is mapped to `rtx/<clock rate>`: `apt=` alone names no format.
fn is_rtx(scope: &Scope, pt: u8) -> bool {
    scope.rtpmaps.iter().any(|(for_pt, rtpmap)| {
        *for_pt == pt
            && rtpmap
                .split('/')
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case("rtx"))
    })
}

fn fmtp_of(scope: &Scope, pt: u8) -> Option<&str> {
    scope
        .fmtps
        .iter()
        .find(|(for_pt, _)| *for_pt == pt)
        .map(|(_, fmtp)| fmtp.as_str())
}

fn invalid(what: &'static str, value: &str) -> PeerError {
    PeerError::Invalid {
        what,
        value: value.chars().take(80).collect(),
    }
}

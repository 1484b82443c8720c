//! The typed view of an offer: what each m-line asks for, with transport attributes
//! resolved (media level wins over session level, as OBS writes them at session level).

use shardcast_control::{Extension, Fingerprint};

use super::SdpError;
use super::parse::{Attribute, MediaDescription, SessionDescription, parse, truncate};
use super::rid::{SimulcastStream, send_streams};

/// The offerer's `a=setup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    ActPass,
    Active,
    Passive,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// The mids of `a=group:BUNDLE`, if the offer has one.
    pub bundle: Option<Vec<String>>,
    pub media: Vec<OfferMedia>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OfferMedia {
    /// `audio`, `video`, `application`...
    pub media: String,
    pub port: u16,
    pub proto: String,
    pub formats: Vec<String>,
    pub line: usize,
    pub mid: Option<String>,
    pub ice_ufrag: Option<String>,
    pub ice_pwd: Option<String>,
    pub fingerprint: Option<Fingerprint>,
    pub setup: Option<Setup>,
    pub rtcp_mux: bool,
    pub rtcp_rsize: bool,
    /// Payload types of the m-line that have an `a=rtpmap`, in m-line order.
    pub payloads: Vec<OfferPayload>,
    pub extensions: Vec<Extension>,
    /// Distinct SSRCs from `a=ssrc`, in order of appearance.
    pub ssrcs: Vec<u32>,
    /// `a=ssrc-group:FID <media> <rtx>`.
    pub rtx_pairs: Vec<(u32, u32)>,
    /// The streams of `a=simulcast:send`, in offer order; empty without simulcast.
    pub simulcast: Vec<SimulcastStream>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPayload {
    pub payload_type: u8,
    /// The encoding name as written (`VP8`, `rtx`, `PCMU`...).
    pub name: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
    pub fmtp: String,
    pub feedback: Vec<String>,
}

impl Offer {
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let sdp = parse(text)?;
        let bundle = bundle_group(&sdp)?;
        let media = sdp
            .media
            .iter()
            .map(|media| media_section(&sdp, media))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Offer { bundle, media })
    }
}

fn bundle_group(sdp: &SessionDescription) -> Result<Option<Vec<String>>, SdpError> {
    for attribute in sdp.attributes.iter().filter(|a| a.name == "group") {
        let value = attribute.value.as_deref().unwrap_or_default();
        let mut fields = value.split_ascii_whitespace();
        if fields.next() == Some("BUNDLE") {
            let mids: Vec<String> = fields.map(str::to_owned).collect();
            if mids.is_empty() {
                return Err(SdpError::at(attribute.line, "a=group:BUNDLE lists no mid"));
            }
            return Ok(Some(mids));
        }
    }
    Ok(None)
}

fn media_section(
    sdp: &SessionDescription,
    media: &MediaDescription,
) -> Result<OfferMedia, SdpError> {
    // Media-level transport attributes win; the session level is the fallback.
    let transport = |name: &str| media.value(name).or_else(|| sdp.value(name));
    let text = |attribute: Option<&Attribute>| {
        attribute
            .and_then(|a| a.value.as_deref())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let fingerprint = media
        .attributes
        .iter()
        .filter(|a| a.name == "fingerprint")
        .chain(sdp.attributes.iter().filter(|a| a.name == "fingerprint"))
        .map(parse_fingerprint)
        .collect::<Result<Vec<_>, _>>()?;
    // Prefer sha-256, which every WebRTC stack offers; otherwise hand the engine the first.
    let fingerprint = fingerprint
        .iter()
        .find(|f| f.algorithm == "sha-256")
        .or(fingerprint.first())
        .cloned();
    let setup = transport("setup").map(parse_setup).transpose()?;
    let mut payloads = Vec::new();
    for format in &media.m.formats {
        let Ok(payload_type) = format.parse::<u8>() else {
            continue;
        };
        if let Some(payload) = payload(media, payload_type)? {
            payloads.push(payload);
        }
    }
    let mut extensions = Vec::new();
    let mut ssrcs = Vec::new();
    let mut rtx_pairs = Vec::new();
    for attribute in &media.attributes {
        let value = attribute.value.as_deref().unwrap_or_default();
        match attribute.name.as_str() {
            "extmap" => extensions.push(parse_extmap(value, attribute.line)?),
            "ssrc" => {
                let ssrc = parse_ssrc(value.split(' ').next().unwrap_or_default(), attribute.line)?;
                if !ssrcs.contains(&ssrc) {
                    ssrcs.push(ssrc);
                }
            }
            "ssrc-group" => {
                let mut fields = value.split_ascii_whitespace();
                if fields.next() == Some("FID") {
                    let media_ssrc = parse_ssrc(fields.next().unwrap_or_default(), attribute.line)?;
                    let rtx_ssrc = parse_ssrc(fields.next().unwrap_or_default(), attribute.line)?;
                    rtx_pairs.push((media_ssrc, rtx_ssrc));
                }
            }
            _ => {}
        }
    }
    Ok(OfferMedia {
        media: media.m.media.clone(),
        port: media.m.port,
        proto: media.m.proto.clone(),
        formats: media.m.formats.clone(),
        line: media.m.line,
        mid: text(media.value("mid")),
        ice_ufrag: text(transport("ice-ufrag")),
        ice_pwd: text(transport("ice-pwd")),
        fingerprint,
        setup,
        rtcp_mux: media.has("rtcp-mux"),
        rtcp_rsize: media.has("rtcp-rsize"),
        payloads,
        extensions,
        ssrcs,
        rtx_pairs,
        simulcast: send_streams(media)?,
    })
}

/// The rtpmap, fmtp and rtcp-fb of one payload type; None when it has no rtpmap.
fn payload(media: &MediaDescription, payload_type: u8) -> Result<Option<OfferPayload>, SdpError> {
    let mut found = None;
    let mut fmtp = String::new();
    let mut feedback = Vec::new();
    for attribute in &media.attributes {
        let value = attribute.value.as_deref().unwrap_or_default();
        let (target, rest) = value.split_once(' ').unwrap_or((value, ""));
        let applies = target == "*" || target.parse::<u8>().ok() == Some(payload_type);
        match attribute.name.as_str() {
            "rtpmap" if applies && target != "*" => {
                found = Some(parse_rtpmap(rest, attribute.line)?)
            }
            "fmtp" if applies && target != "*" => fmtp = rest.trim().to_owned(),
            "rtcp-fb" if applies => feedback.push(rest.trim().to_owned()),
            _ => {}
        }
    }
    Ok(found.map(|(name, clock_rate, channels)| OfferPayload {
        payload_type,
        name,
        clock_rate,
        channels,
        fmtp,
        feedback,
    }))
}

/// `<name>/<clock rate>[/<channels>]`
fn parse_rtpmap(value: &str, line: usize) -> Result<(String, u32, Option<u8>), SdpError> {
    let bad = || SdpError::at(line, format!("malformed a=rtpmap {:?}", truncate(value)));
    let mut parts = value.trim().split('/');
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
    let clock_rate = parts.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
    let channels = parts
        .next()
        .map(|c| c.parse().map_err(|_| bad()))
        .transpose()?;
    Ok((name.to_owned(), clock_rate, channels))
}

/// `<id>[/<direction>] <uri> [<extension attributes>]`
fn parse_extmap(value: &str, line: usize) -> Result<Extension, SdpError> {
    let bad = || SdpError::at(line, format!("malformed a=extmap {:?}", truncate(value)));
    let mut fields = value.split_ascii_whitespace();
    let id = fields.next().ok_or_else(bad)?;
    let id = id.split('/').next().unwrap_or(id);
    let id = id.parse::<u8>().ok().filter(|&id| id > 0).ok_or_else(bad)?;
    let uri = fields.next().ok_or_else(bad)?;
    Ok(Extension {
        id,
        uri: uri.to_owned(),
    })
}

fn parse_ssrc(value: &str, line: usize) -> Result<u32, SdpError> {
    value
        .parse()
        .map_err(|_| SdpError::at(line, format!("invalid SSRC {:?}", truncate(value))))
}

fn parse_setup(attribute: &Attribute) -> Result<Setup, SdpError> {
    match attribute.value.as_deref().map(str::trim) {
        Some("actpass") => Ok(Setup::ActPass),
        Some("active") => Ok(Setup::Active),
        Some("passive") => Ok(Setup::Passive),
        other => Err(SdpError::at(
            attribute.line,
            format!("unsupported a=setup value {:?}", other.unwrap_or_default()),
        )),
    }
}

/// `sha-256 AB:CD:...`
fn parse_fingerprint(attribute: &Attribute) -> Result<Fingerprint, SdpError> {
    let value = attribute.value.as_deref().unwrap_or_default();
    let bad = || {
        SdpError::at(
            attribute.line,
            format!("malformed a=fingerprint {:?}", truncate(value)),
        )
    };
    let (algorithm, hex) = value.trim().split_once(' ').ok_or_else(bad)?;
    let bytes = hex
        .trim()
        .split(':')
        .map(|byte| match byte.len() {
            2 => u8::from_str_radix(byte, 16).map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<u8>, _>>()?;
    Ok(Fingerprint {
        algorithm: algorithm.to_ascii_lowercase(),
        value: bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
        o=- 1 2 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        t=0 0\r\n\
        a=ice-ufrag:sess\r\n\
        a=ice-pwd:sessionpassword123456\r\n\
        a=fingerprint:sha-256 0A:1B:2C\r\n\
        a=group:BUNDLE 0\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 98\r\n\
        a=mid:0\r\n\
        a=ice-ufrag:media\r\n\
        a=setup:actpass\r\n\
        a=extmap:4/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtcp-fb:* nack\r\n\
        a=rtcp-fb:96 nack pli\r\n\
        a=rtpmap:97 rtx/90000\r\n\
        a=fmtp:97 apt=96\r\n\
        a=ssrc-group:FID 1 2\r\n\
        a=ssrc:1 cname:x\r\n\
        a=ssrc:1 msid:a b\r\n\
        a=ssrc:2 cname:x\r\n";

    #[test]
    fn media_level_wins_and_session_level_fills_in() {
        let offer = Offer::parse(OFFER).unwrap();
        let media = &offer.media[0];
        assert_eq!(media.ice_ufrag.as_deref(), Some("media"));
        assert_eq!(media.ice_pwd.as_deref(), Some("sessionpassword123456"));
        assert_eq!(
            media.fingerprint.as_ref().unwrap().value,
            vec![0x0a, 0x1b, 0x2c]
        );
        assert_eq!(media.setup, Some(Setup::ActPass));
        assert_eq!(offer.bundle, Some(vec!["0".to_owned()]));
    }

    #[test]
    fn collects_payloads_feedback_and_ssrcs() {
        let offer = Offer::parse(OFFER).unwrap();
        let media = &offer.media[0];
        // 98 has no rtpmap and is skipped.
        assert_eq!(media.payloads.len(), 2);
        assert_eq!(media.payloads[0].feedback, vec!["nack", "nack pli"]);
        assert_eq!(media.payloads[1].fmtp, "apt=96");
        assert_eq!(media.ssrcs, vec![1, 2]);
        assert_eq!(media.rtx_pairs, vec![(1, 2)]);
        assert_eq!(media.extensions[0].id, 4);
    }

    #[test]
    fn malformed_values_name_their_line() {
        let bad_fingerprint = OFFER.replace("0A:1B:2C", "0A:1B:ZZ");
        assert_eq!(Offer::parse(&bad_fingerprint).unwrap_err().line, Some(7));
        let bad_rtpmap = OFFER.replace("VP8/90000", "VP8");
        assert_eq!(Offer::parse(&bad_rtpmap).unwrap_err().line, Some(14));
        let bad_setup = OFFER.replace("actpass", "holdconn");
        assert!(
            Offer::parse(&bad_setup)
                .unwrap_err()
                .reason
                .contains("holdconn")
        );
    }
}

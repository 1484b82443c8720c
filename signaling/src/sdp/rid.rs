//! Rid-based simulcast in an offer: `a=rid` (RFC 8851) names the RTP streams of an m-line
//! with their restrictions, `a=simulcast` (RFC 8853) lists which of them are sent. Only the
//! shape is checked here; which layers to take is [`super::simulcast`]'s business.

use super::SdpError;
use super::parse::{Attribute, MediaDescription, truncate};

/// Browsers cap rids at 16 characters (W3C webrtc-pc `addTransceiver`), and so do we.
const MAX_RID_LENGTH: usize = 16;

/// One stream of `a=simulcast:send`: its alternatives in the offer's order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulcastStream {
    pub alternatives: Vec<SimulcastRid>,
}

/// A rid named by `a=simulcast:send`, with what its `a=rid` line says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulcastRid {
    pub id: String,
    /// Written `~id`: offered but not sent for now.
    pub paused: bool,
    pub restrictions: RidRestrictions,
}

/// The `a=rid` restrictions that tell layers apart (others are accepted and ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RidRestrictions {
    pub payload_types: Vec<u8>,
    pub max_width: Option<u64>,
    pub max_height: Option<u64>,
    /// Frame size in macroblocks.
    pub max_fs: Option<u64>,
    /// Bits per second.
    pub max_br: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Send,
    Recv,
}

impl Direction {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "send" => Some(Self::Send),
            "recv" => Some(Self::Recv),
            _ => None,
        }
    }

    fn as_sdp(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Recv => "recv",
        }
    }
}

struct Rid {
    id: String,
    direction: Direction,
    restrictions: RidRestrictions,
}

/// The streams the offerer sends (`a=simulcast:send`), in offer order; empty without one.
/// Every `a=rid` and `a=simulcast` line is checked, whichever direction it describes.
pub fn send_streams(media: &MediaDescription) -> Result<Vec<SimulcastStream>, SdpError> {
    let mut rids: Vec<Rid> = Vec::new();
    for attribute in media.attributes.iter().filter(|a| a.name == "rid") {
        let rid = parse_rid(attribute, &media.m.formats)?;
        if rids.iter().any(|r| r.id == rid.id) {
            return Err(SdpError::at(
                attribute.line,
                format!("a=rid:{} appears twice in this m-line", rid.id),
            ));
        }
        rids.push(rid);
    }
    let mut lines = media.attributes.iter().filter(|a| a.name == "simulcast");
    let Some(simulcast) = lines.next() else {
        return Ok(Vec::new());
    };
    if let Some(second) = lines.next() {
        return Err(SdpError::at(
            second.line,
            "a=simulcast may appear only once per m-line",
        ));
    }
    parse_simulcast(simulcast, &rids)
}

/// `<id> send|recv [pt=<list>;][<key>=<value>;...]`
fn parse_rid(attribute: &Attribute, formats: &[String]) -> Result<Rid, SdpError> {
    let line = attribute.line;
    let value = attribute.value.as_deref().unwrap_or_default();
    let mut fields = value.split_ascii_whitespace();
    let id = fields
        .next()
        .ok_or_else(|| SdpError::at(line, "a=rid needs <rid-id> send|recv"))?;
    check_rid_id(id, line)?;
    let direction = fields.next().unwrap_or_default();
    let direction = Direction::parse(direction).ok_or_else(|| {
        SdpError::at(
            line,
            format!(
                "a=rid:{id} direction must be send or recv, found {:?}",
                truncate(direction)
            ),
        )
    })?;
    let restrictions = match fields.next() {
        Some(params) => parse_restrictions(id, params, formats, line)?,
        None => RidRestrictions::default(),
    };
    if fields.next().is_some() {
        return Err(SdpError::at(
            line,
            format!("a=rid:{id} has text after its restrictions"),
        ));
    }
    Ok(Rid {
        id: id.to_owned(),
        direction,
        restrictions,
    })
}

/// RFC 8851: `rid-id = 1*(alpha-numeric / "-" / "_")`.
fn check_rid_id(id: &str, line: usize) -> Result<(), SdpError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.is_empty() || !id.chars().all(allowed) {
        return Err(SdpError::at(
            line,
            format!(
                "invalid rid {:?}: use letters, digits, - and _",
                truncate(id)
            ),
        ));
    }
    if id.len() > MAX_RID_LENGTH {
        return Err(SdpError::at(
            line,
            format!("rid {id:?} is longer than {MAX_RID_LENGTH} characters"),
        ));
    }
    Ok(())
}

fn parse_restrictions(
    id: &str,
    params: &str,
    formats: &[String],
    line: usize,
) -> Result<RidRestrictions, SdpError> {
    let mut restrictions = RidRestrictions::default();
    for param in params.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let bad = || {
            SdpError::at(
                line,
                format!(
                    "a=rid:{id} has a malformed {key}= value {:?}",
                    truncate(value)
                ),
            )
        };
        let number = || value.parse::<u64>().map_err(|_| bad());
        match key {
            "pt" => {
                for pt in value.split(',') {
                    if !formats.iter().any(|f| f == pt) {
                        return Err(SdpError::at(
                            line,
                            format!(
                                "a=rid:{id} names payload type {:?}, which is not on the m-line",
                                truncate(pt)
                            ),
                        ));
                    }
                    restrictions
                        .payload_types
                        .push(pt.parse().map_err(|_| bad())?);
                }
            }
            "max-width" => restrictions.max_width = Some(number()?),
            "max-height" => restrictions.max_height = Some(number()?),
            "max-fs" => restrictions.max_fs = Some(number()?),
            "max-br" => restrictions.max_br = Some(number()?),
            // max-fps, max-pps, max-bpp, depend and extensions do not rank layers.
            _ => {}
        }
    }
    Ok(restrictions)
}

/// `send <streams> [recv <streams>]` (either order), streams split by `;`, alternatives
/// by `,`, a paused rid written `~id`.
fn parse_simulcast(attribute: &Attribute, rids: &[Rid]) -> Result<Vec<SimulcastStream>, SdpError> {
    let line = attribute.line;
    let value = attribute.value.as_deref().unwrap_or_default();
    let mut fields = value.split_ascii_whitespace();
    let mut send = None;
    let mut seen = Vec::new();
    while let Some(word) = fields.next() {
        let direction = Direction::parse(word).ok_or_else(|| {
            SdpError::at(
                line,
                format!(
                    "a=simulcast expects send or recv, found {:?}",
                    truncate(word)
                ),
            )
        })?;
        if seen.contains(&direction) {
            return Err(SdpError::at(
                line,
                format!("a=simulcast lists {} twice", direction.as_sdp()),
            ));
        }
        seen.push(direction);
        let list = fields.next().ok_or_else(|| {
            SdpError::at(
                line,
                format!("a=simulcast:{} names no rid", direction.as_sdp()),
            )
        })?;
        let streams = parse_streams(list, direction, rids, line)?;
        if direction == Direction::Send {
            send = Some(streams);
        }
    }
    if seen.is_empty() {
        return Err(SdpError::at(line, "a=simulcast is empty"));
    }
    Ok(send.unwrap_or_default())
}

fn parse_streams(
    list: &str,
    direction: Direction,
    rids: &[Rid],
    line: usize,
) -> Result<Vec<SimulcastStream>, SdpError> {
    let mut named: Vec<&str> = Vec::new();
    let mut streams = Vec::new();
    for stream in list.split(';') {
        let mut alternatives = Vec::new();
        for alternative in stream.split(',') {
            let (id, paused) = match alternative.strip_prefix('~') {
                Some(id) => (id, true),
                None => (alternative, false),
            };
            check_rid_id(id, line)?;
            let rid = rids
                .iter()
                .find(|r| r.id == id && r.direction == direction)
                .ok_or_else(|| {
                    SdpError::at(
                        line,
                        format!(
                            "a=simulcast names rid {id:?}, which has no a=rid:{id} {} line",
                            direction.as_sdp()
                        ),
                    )
                })?;
            if named.contains(&id) {
                return Err(SdpError::at(
                    line,
                    format!("a=simulcast names rid {id:?} twice"),
                ));
            }
            named.push(id);
            alternatives.push(SimulcastRid {
                id: id.to_owned(),
                paused,
                restrictions: rid.restrictions.clone(),
            });
        }
        streams.push(SimulcastStream { alternatives });
    }
    Ok(streams)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::parse::parse;

    fn streams(lines: &str) -> Result<Vec<SimulcastStream>, SdpError> {
        let sdp = parse(&format!(
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n{lines}"
        ))
        .unwrap();
        send_streams(&sdp.media[0])
    }

    fn ids(streams: &[SimulcastStream]) -> Vec<Vec<(String, bool)>> {
        streams
            .iter()
            .map(|s| {
                s.alternatives
                    .iter()
                    .map(|a| (a.id.clone(), a.paused))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn reads_streams_alternatives_pauses_and_restrictions() {
        let parsed = streams(
            "a=rid:a send pt=96;max-width=1280;max-height=720;max-fps=30\r\n\
             a=rid:b send max-br=300000\r\n\
             a=rid:c send\r\n\
             a=rid:r recv\r\n\
             a=simulcast:send a,b;~c recv r\r\n",
        )
        .unwrap();
        assert_eq!(
            ids(&parsed),
            vec![
                vec![("a".to_owned(), false), ("b".to_owned(), false)],
                vec![("c".to_owned(), true)],
            ]
        );
        let a = &parsed[0].alternatives[0].restrictions;
        assert_eq!(
            (a.payload_types.as_slice(), a.max_width, a.max_height),
            (&[96u8][..], Some(1280), Some(720))
        );
        assert_eq!(parsed[0].alternatives[1].restrictions.max_br, Some(300000));
    }

    #[test]
    fn rids_without_simulcast_or_only_recv_send_nothing() {
        assert!(streams("a=rid:a send\r\n").unwrap().is_empty());
        assert!(
            streams("a=rid:a recv\r\na=simulcast:recv a\r\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        let reason = |lines: &str| streams(lines).unwrap_err().reason;
        assert_eq!(
            reason("a=rid:a.b send\r\n"),
            "invalid rid \"a.b\": use letters, digits, - and _"
        );
        assert_eq!(
            reason("a=rid:abcdefghijklmnopq send\r\n"),
            "rid \"abcdefghijklmnopq\" is longer than 16 characters"
        );
        assert_eq!(
            reason("a=rid:a sendrecv\r\n"),
            "a=rid:a direction must be send or recv, found \"sendrecv\""
        );
        assert_eq!(
            reason("a=rid:a send\r\na=rid:a send\r\n"),
            "a=rid:a appears twice in this m-line"
        );
        assert_eq!(
            reason("a=rid:a send max-width=wide\r\n"),
            "a=rid:a has a malformed max-width= value \"wide\""
        );
        assert_eq!(
            reason("a=rid:a send pt=100\r\n"),
            "a=rid:a names payload type \"100\", which is not on the m-line"
        );
        assert_eq!(
            reason("a=rid:a send\r\na=simulcast:send a;b\r\n"),
            "a=simulcast names rid \"b\", which has no a=rid:b send line"
        );
        assert_eq!(
            reason("a=rid:a recv\r\na=simulcast:send a\r\n"),
            "a=simulcast names rid \"a\", which has no a=rid:a send line"
        );
        assert_eq!(
            reason("a=rid:a send\r\na=simulcast:send a;~a\r\n"),
            "a=simulcast names rid \"a\" twice"
        );
        assert_eq!(
            reason("a=rid:a send\r\na=simulcast:send a;\r\n"),
            "invalid rid \"\": use letters, digits, - and _"
        );
        assert_eq!(
            reason("a=rid:a send\r\na=simulcast:sendonly a\r\n"),
            "a=simulcast expects send or recv, found \"sendonly\""
        );
        assert_eq!(
            reason("a=rid:a send\r\na=simulcast:send a\r\na=simulcast:send a\r\n"),
            "a=simulcast may appear only once per m-line"
        );
        let error = streams("a=rid:a send\r\na=simulcast:send x\r\n").unwrap_err();
        assert_eq!(error.line, Some(4));
    }
}

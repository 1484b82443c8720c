//! The generic SDP grammar (RFC 8866): lines of `<type>=<value>`, a session part and media
//! sections that each start at an `m=` line. Only the structure is checked here; what the
//! attributes mean is the business of [`super::offer`].

use super::SdpError;

/// One `a=name[:value]` line, with its 1-based line number for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
    pub line: usize,
}

/// `m=<media> <port> <proto> <fmt> ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    pub media: String,
    pub port: u16,
    pub proto: String,
    pub formats: Vec<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub m: MediaLine,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub attributes: Vec<Attribute>,
    pub media: Vec<MediaDescription>,
}

impl MediaDescription {
    /// The first value of attribute `name` in this section.
    pub fn value(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name == name)
    }
}

impl SessionDescription {
    pub fn value(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// Parses a whole description. Accepts CRLF or LF line ends and ignores blank lines.
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut session = SessionDescription {
        attributes: Vec::new(),
        media: Vec::new(),
    };
    let mut saw_version = false;
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let (kind, value) = split_line(line, number)?;
        if !saw_version {
            if kind != 'v' || value != "0" {
                return Err(SdpError::at(
                    number,
                    "an SDP description must start with v=0",
                ));
            }
            saw_version = true;
            continue;
        }
        match kind {
            'm' => session.media.push(MediaDescription {
                m: parse_media_line(value, number)?,
                attributes: Vec::new(),
            }),
            'a' => {
                let attribute = parse_attribute(value, number)?;
                match session.media.last_mut() {
                    Some(media) => media.attributes.push(attribute),
                    None => session.attributes.push(attribute),
                }
            }
            'v' => return Err(SdpError::at(number, "v= may only appear once")),
            // Origin, name, timing, connection, bandwidth and the rest carry nothing we use:
            // ICE candidates and the answer's own lines replace them.
            _ => {}
        }
    }
    if !saw_version {
        return Err(SdpError::general(
            "the body is empty, expected an SDP offer",
        ));
    }
    Ok(session)
}

/// Splits `<type>=<value>`, where type is one lowercase letter.
pub fn split_line(line: &str, number: usize) -> Result<(char, &str), SdpError> {
    let mut chars = line.chars();
    match (chars.next(), chars.next()) {
        (Some(kind), Some('=')) if kind.is_ascii_lowercase() => Ok((kind, chars.as_str())),
        _ => Err(SdpError::at(
            number,
            format!("expected <type>=<value>, found {:?}", truncate(line)),
        )),
    }
}

pub fn parse_attribute(value: &str, number: usize) -> Result<Attribute, SdpError> {
    let (name, value) = match value.split_once(':') {
        Some((name, value)) => (name, Some(value.to_owned())),
        None => (value, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(SdpError::at(number, "malformed attribute name"));
    }
    Ok(Attribute {
        name: name.to_owned(),
        value,
        line: number,
    })
}

fn parse_media_line(value: &str, number: usize) -> Result<MediaLine, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(media), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(SdpError::at(
            number,
            "m= needs <media> <port> <proto> <formats>",
        ));
    };
    // A port may carry a count (`9/2`); only the port matters.
    let port_text = port.split('/').next().unwrap_or(port);
    let port = port_text
        .parse::<u16>()
        .map_err(|_| SdpError::at(number, format!("invalid port {:?} in m=", truncate(port))))?;
    Ok(MediaLine {
        media: media.to_owned(),
        port,
        proto: proto.to_owned(),
        formats: fields.map(str::to_owned).collect(),
        line: number,
    })
}

/// Keeps error messages short when a peer sends a very long line.
pub fn truncate(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_session_and_media_attributes() {
        let sdp = parse("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n").unwrap();
        assert_eq!(sdp.attributes[0].name, "group");
        assert_eq!(sdp.media.len(), 1);
        assert_eq!(sdp.media[0].m.formats, vec!["111"]);
        assert_eq!(
            sdp.media[0].value("mid").unwrap().value.as_deref(),
            Some("0")
        );
    }

    #[test]
    fn reports_the_line_of_garbage() {
        let err = parse("v=0\nm=video 9 RTP/SAVPF 96\nthis is not sdp\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        let err = parse("hello").unwrap_err();
        assert_eq!(err.line, Some(1));
        let err = parse("v=0\nm=video port RTP/SAVPF 96\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn rejects_empty_and_non_ascii_types() {
        assert!(parse("").is_err());
        assert!(parse("\r\n\r\n").is_err());
        assert!(parse("v=0\né=x\n").is_err());
    }
}

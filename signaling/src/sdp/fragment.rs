//! Trickle ICE fragments (`application/trickle-ice-sdpfrag`, RFC 8840) sent with PATCH.

use super::SdpError;
use super::parse::{parse_attribute, split_line, truncate};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fragment {
    pub ice_ufrag: Option<String>,
    pub ice_pwd: Option<String>,
    /// `candidate:...` attribute values, as written (without `a=`).
    pub candidates: Vec<String>,
    pub end_of_candidates: bool,
}

pub fn parse_fragment(text: &str) -> Result<Fragment, SdpError> {
    let mut fragment = Fragment::default();
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let (kind, value) = split_line(line, number)?;
        if kind != 'a' {
            continue;
        }
        let attribute = parse_attribute(value, number)?;
        let value = attribute.value.as_deref().unwrap_or_default().trim();
        match attribute.name.as_str() {
            "ice-ufrag" => fragment.ice_ufrag = Some(value.to_owned()),
            "ice-pwd" => fragment.ice_pwd = Some(value.to_owned()),
            "end-of-candidates" => fragment.end_of_candidates = true,
            "candidate" => {
                // foundation component transport priority address port typ type
                if value.split_ascii_whitespace().count() < 8 {
                    return Err(SdpError::at(
                        number,
                        format!("malformed a=candidate {:?}", truncate(value)),
                    ));
                }
                fragment.candidates.push(format!("candidate:{value}"));
            }
            _ => {}
        }
    }
    Ok(fragment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_candidates_and_credentials() {
        let text = "a=ice-ufrag:abcd\r\na=ice-pwd:secret\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n\
            a=candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host\r\na=end-of-candidates\r\n";
        let fragment = parse_fragment(text).unwrap();
        assert_eq!(fragment.ice_ufrag.as_deref(), Some("abcd"));
        assert_eq!(
            fragment.candidates,
            vec!["candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host"]
        );
        assert!(fragment.end_of_candidates);
    }

    #[test]
    fn rejects_short_candidates() {
        let err = parse_fragment("a=ice-ufrag:x\na=candidate:1 1 udp\n").unwrap_err();
        assert_eq!(err.line, Some(2));
    }
}

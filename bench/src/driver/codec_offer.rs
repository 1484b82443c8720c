//! The publisher offers only the video codec it will send, as a browser does after
//! `setCodecPreferences`: a server that answers with the first codec it likes would
//! otherwise pick VP8 when the run asked for H.264.

use std::collections::HashSet;

/// `offer` with the video m-line cut down to `payload_type` and its RTX payload type, and
/// the other video formats' attributes dropped. Audio and everything else stay as written.
pub fn offer_only(offer: &str, payload_type: u8) -> String {
    let mut keep = HashSet::from([payload_type]);
    let mut video = false;
    for line in offer.lines() {
        video = section_is_video(line, video);
        if video
            && let Some((rtx, parameters)) = attribute(line, "a=fmtp:")
            && parameters
                .split(';')
                .any(|p| p.trim() == format!("apt={payload_type}"))
        {
            keep.insert(rtx);
        }
    }
    let mut filtered = String::with_capacity(offer.len());
    video = false;
    for line in offer.split_inclusive('\n') {
        video = section_is_video(line, video);
        if !video {
            filtered.push_str(line);
        } else if line.starts_with("m=video") {
            filtered.push_str(&media_line(line, &keep));
        } else if ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"]
            .iter()
            .filter_map(|prefix| attribute(line, prefix))
            .all(|(format, _)| keep.contains(&format))
        {
            filtered.push_str(line);
        }
    }
    filtered
}

/// Whether `line` is inside a video m-section, given whether the previous line was.
fn section_is_video(line: &str, previous: bool) -> bool {
    if line.starts_with("m=") {
        line.starts_with("m=video")
    } else {
        previous
    }
}

/// The payload type and the rest of an `a=<name>:<pt> <rest>` line.
fn attribute<'a>(line: &'a str, prefix: &str) -> Option<(u8, &'a str)> {
    let (format, rest) = line.strip_prefix(prefix)?.split_once(' ')?;
    Some((format.parse().ok()?, rest.trim_end()))
}

/// `m=video <port> <proto> <formats>` with only the kept formats, line ending kept.
fn media_line(line: &str, keep: &HashSet<u8>) -> String {
    let content = line.trim_end_matches(['\r', '\n']);
    let ending = &line[content.len()..];
    let mut fields = content.split(' ');
    let mut kept: Vec<&str> = fields.by_ref().take(3).collect();
    kept.extend(fields.filter(|f| f.parse().is_ok_and(|pt: u8| keep.contains(&pt))));
    format!("{}{ending}", kept.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\na=mid:1\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtpmap:97 rtx/90000\r\n\
        a=fmtp:97 apt=96\r\na=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack pli\r\n\
        a=fmtp:102 packetization-mode=1\r\na=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n\
        a=ssrc:1 cname:x\r\n";

    #[test]
    fn keeps_one_codec_and_its_rtx() {
        let h264 = offer_only(OFFER, 102);
        assert_eq!(
            h264,
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
             a=fmtp:111 minptime=10\r\nm=video 9 UDP/TLS/RTP/SAVPF 102 103\r\na=mid:1\r\n\
             a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack pli\r\n\
             a=fmtp:102 packetization-mode=1\r\na=rtpmap:103 rtx/90000\r\n\
             a=fmtp:103 apt=102\r\na=ssrc:1 cname:x\r\n"
        );
        let vp8 = offer_only(OFFER, 96);
        assert!(vp8.contains("SAVPF 96 97\r\n") && !vp8.contains("H264"));
        // Audio's attributes are never touched.
        assert!(vp8.contains("a=fmtp:111 minptime=10\r\n"));
    }
}

//! An HTTP/1.1 response read from bytes as they arrive (RFC 9112): the status line, the
//! header fields and a body framed by `Transfer-Encoding: chunked`, `Content-Length` or the
//! end of the connection. Pure: the caller reads the socket and asks again with more bytes.

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response {
    pub status: u16,
    /// The reason phrase of the status line, possibly empty.
    pub reason: String,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first field named `name` (any case), its value trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// The response in `bytes` once it is complete, `None` while more bytes are needed. With
/// `at_eof` (the peer closed) an incomplete response is an error, never `None`.
pub(super) fn parse_response(bytes: &[u8], at_eof: bool) -> Result<Option<Response>, &'static str> {
    let mut start = 0;
    loop {
        let Some(head_length) = find(&bytes[start..], b"\r\n\r\n") else {
            return incomplete(
                at_eof,
                "the connection closed before the response headers ended",
            );
        };
        let head = std::str::from_utf8(&bytes[start..start + head_length])
            .map_err(|_| "the response headers are not UTF-8")?;
        let (status, reason, headers) = parse_head(head)?;
        let body_start = start + head_length + 4;
        match status {
            101 => return Err("the server switched protocols"),
            // Interim responses such as 100 Continue come before the real one.
            100..=199 => {
                start = body_start;
                continue;
            }
            _ => {}
        }
        let mut response = Response {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        let rest = &bytes[body_start..];
        let body = if matches!(status, 204 | 304) {
            Some(Vec::new())
        } else if let Some(coding) = response.header("transfer-encoding") {
            let last = coding.rsplit(',').next().unwrap_or("").trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err("unsupported transfer-encoding");
            }
            decode_chunked(rest, at_eof)?
        } else if let Some(length) = response.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| "the content-length is not a number")?;
            match rest.get(..length) {
                Some(body) => Some(body.to_vec()),
                None => incomplete(at_eof, "the connection closed before the body ended")?,
            }
        } else {
            // Neither framing: the body runs until the server closes.
            at_eof.then(|| rest.to_vec())
        };
        return Ok(body.map(|body| {
            response.body = body;
            response
        }));
    }
}

fn incomplete<T>(at_eof: bool, problem: &'static str) -> Result<Option<T>, &'static str> {
    if at_eof { Err(problem) } else { Ok(None) }
}

type Head = (u16, String, Vec<(String, String)>);

fn parse_head(head: &str) -> Result<Head, &'static str> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let (version, rest) = status_line
        .split_once(' ')
        .ok_or("the status line is not `HTTP/1.x code reason`")?;
    if !version.starts_with("HTTP/1.") {
        return Err("the response is not HTTP/1.x");
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the status code is not three digits");
    }
    let status = code
        .parse()
        .map_err(|_| "the status code is not a number")?;
    let mut headers = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return Err("folded header lines are not supported");
        }
        let (name, value) = line.split_once(':').ok_or("a header line has no colon")?;
        if name.is_empty() || name.ends_with([' ', '\t']) {
            return Err("a header name is empty or followed by whitespace");
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok((status, reason.to_owned(), headers))
}

/// The body of a chunked message (RFC 9112 section 7.1); extensions and trailers are read
/// and dropped.
fn decode_chunked(bytes: &[u8], at_eof: bool) -> Result<Option<Vec<u8>>, &'static str> {
    const CLOSED: &str = "the connection closed inside a chunked body";
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_length) = find(&bytes[at..], b"\r\n") else {
            return incomplete(at_eof, CLOSED);
        };
        let line = std::str::from_utf8(&bytes[at..at + line_length])
            .map_err(|_| "a chunk size line is not text")?;
        let digits = line.split(';').next().unwrap_or("").trim();
        if digits.is_empty() {
            return Err("a chunk size is missing");
        }
        let size = usize::from_str_radix(digits, 16).map_err(|_| "a chunk size is not hex")?;
        at += line_length + 2;
        if size == 0 {
            return finish_trailers(bytes, at, at_eof).map(|done| done.then_some(body));
        }
        // The chunk and its CRLF must fit: `end + 2 <= len`, without overflow.
        let fits = |end: &usize| *end < bytes.len().saturating_sub(1);
        let Some(end) = at.checked_add(size).filter(fits) else {
            return incomplete(at_eof, CLOSED);
        };
        if &bytes[end..end + 2] != b"\r\n" {
            return Err("a chunk is longer than its size");
        }
        body.extend_from_slice(&bytes[at..end]);
        at = end + 2;
    }
}

/// Whether the trailer section starting at `at` is complete (it ends with an empty line).
fn finish_trailers(bytes: &[u8], mut at: usize, at_eof: bool) -> Result<bool, &'static str> {
    loop {
        let Some(line_length) = find(&bytes[at..], b"\r\n") else {
            return if at_eof {
                Err("the connection closed inside the trailers")
            } else {
                Ok(false)
            };
        };
        if line_length == 0 {
            return Ok(true);
        }
        at += line_length + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(text: &str) -> Response {
        parse_response(text.as_bytes(), false)
            .unwrap()
            .expect("complete")
    }

    #[test]
    fn content_length_framing_waits_for_the_whole_body() {
        let text = "HTTP/1.1 201 Created\r\nLocation: /s/1\r\nContent-Length: 5\r\n\r\nv=0\r\n";
        let response = complete(text);
        assert_eq!(
            (response.status, response.reason.as_str()),
            (201, "Created")
        );
        assert_eq!(response.header("LOCATION"), Some("/s/1"));
        assert_eq!(response.body, b"v=0\r\n");
        for cut in 0..text.len() {
            assert_eq!(parse_response(&text.as_bytes()[..cut], false), Ok(None));
            assert!(parse_response(&text.as_bytes()[..cut], true).is_err());
        }
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let text = "HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                    4;name=x\r\nv=0\n\r\nA\r\no=- 1 1 IN\r\n0\r\nExpires: never\r\n\r\n";
        assert_eq!(complete(text).body, b"v=0\no=- 1 1 IN");
        for cut in 0..text.len() {
            assert_eq!(parse_response(&text.as_bytes()[..cut], false), Ok(None));
        }
        let wrong = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n";
        assert!(parse_response(wrong.as_bytes(), false).is_err());
        let huge = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
        assert_eq!(parse_response(huge.as_bytes(), false), Ok(None));
        let gzip = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert!(parse_response(gzip.as_bytes(), true).is_err());
    }

    #[test]
    fn interim_responses_empty_statuses_and_bodies_until_close() {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let response = complete(text);
        assert_eq!((response.status, response.body.len()), (204, 0));

        let until_close = b"HTTP/1.0 404 Not Found\r\n\r\nno such session";
        assert_eq!(parse_response(until_close, false), Ok(None));
        let response = parse_response(until_close, true).unwrap().unwrap();
        assert_eq!(response.body, b"no such session");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let cases: [&[u8]; 7] = [
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 \xff\r\n\r\n",
        ];
        for bytes in cases {
            assert!(parse_response(bytes, false).is_err(), "{bytes:?}");
        }
    }
}

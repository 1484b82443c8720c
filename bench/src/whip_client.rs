//! A blocking WHIP/WHEP client: POST an SDP offer, get the answer and the session's URL,
//! DELETE the session at the end (RFC 9725; WHEP has the same shape). It also GETs a text
//! resource, for the server's `/metrics`.
//!
//! HTTP/1.1 over a [`TcpStream`], or over TLS on it for `https://` URLs, one connection per
//! request, everything bounded: one deadline for connecting, the TLS handshake, writing and
//! reading, and at most [`RESPONSE_LIMIT`] bytes read ([`TEXT_RESPONSE_LIMIT`] for a GET). It
//! never relies on PATCH, so trickle ICE and ICE restarts are not used.

mod response;
mod stream;
#[cfg(test)]
mod tests;
mod tls;
mod url;

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use response::{Response, parse_response};
use stream::{Stream, StreamError};
use url::{HttpUrl, Scheme};

pub use tls::{ClientTls, TlsSetupError};

/// The most bytes of a response (headers and body) read before giving up.
pub const RESPONSE_LIMIT: usize = 64 * 1024;

/// The same for [`get_text`]: a metrics page grows with the server's cores.
pub const TEXT_RESPONSE_LIMIT: usize = 1024 * 1024;

/// How much of an error response's body goes into the error message.
const REASON_LIMIT: usize = 512;

/// What a successful POST returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub answer_sdp: String,
    /// The absolute URL of the session, from the `Location` header: DELETE it to leave.
    pub resource_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WhipError {
    #[error("bad URL {url:?}: {problem}")]
    BadUrl { url: String, problem: &'static str },
    #[error("the bearer token holds characters an HTTP header cannot carry")]
    BadToken,
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        authority: String,
        source: io::Error,
    },
    #[error("{url}: no complete response within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url}: connection failed: {source}")]
    Io { url: String, source: io::Error },
    #[error("{url}: TLS failed: {source}{}", tls::certificate_hint(.source))]
    Tls { url: String, source: rustls::Error },
    #[error("{url}: malformed HTTP response: {problem}")]
    Malformed { url: String, problem: &'static str },
    #[error("{url}: the response is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: server answered {status} {reason}{}", describe_body(.body))]
    Status {
        url: String,
        status: u16,
        reason: String,
        /// The start of the response body, where servers explain themselves.
        body: String,
    },
    #[error("{url}: the 201 response has no Location header, so the session cannot be ended")]
    MissingLocation { url: String },
    #[error("{url}: the answer's content type is {found:?}, not application/sdp")]
    WrongContentType { url: String, found: Option<String> },
    #[error("{url}: the answer is empty or not UTF-8 text")]
    BadAnswer { url: String },
    #[error("{url}: the body is not UTF-8 text")]
    NotText { url: String },
}

fn describe_body(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// POSTs an SDP offer (WHIP or WHEP, same shape) and returns the answer and the absolute
/// session URL. Only `201 Created` with an `application/sdp` answer and a `Location` is a
/// success; any other status is an error carrying the server's reason. `tls` secures
/// `https://` URLs.
pub fn post_offer(
    url: &str,
    token: Option<&str>,
    offer_sdp: &str,
    timeout: Duration,
    tls: &ClientTls,
) -> Result<Negotiated, WhipError> {
    let target = parse_url(url)?;
    let request = Request {
        method: "POST",
        token,
        sdp: Some(offer_sdp),
        limit: RESPONSE_LIMIT,
    };
    let response = exchange(url, &target, &request, timeout, tls)?;
    if response.status != 201 {
        return Err(status_error(url, response));
    }
    let location = response
        .header("location")
        .filter(|location| !location.is_empty())
        .ok_or_else(|| WhipError::MissingLocation {
            url: url.to_owned(),
        })?;
    let content_type = response.header("content-type");
    let media_type = content_type.map(|value| value.split(';').next().unwrap_or("").trim());
    if !media_type.is_some_and(|media_type| media_type.eq_ignore_ascii_case("application/sdp")) {
        return Err(WhipError::WrongContentType {
            url: url.to_owned(),
            found: content_type.map(str::to_owned),
        });
    }
    let resource_url = target.resolve(location);
    let answer_sdp = String::from_utf8(response.body)
        .ok()
        .filter(|answer| !answer.trim().is_empty())
        .ok_or_else(|| WhipError::BadAnswer {
            url: url.to_owned(),
        })?;
    Ok(Negotiated {
        answer_sdp,
        resource_url,
    })
}

/// Ends a session (DELETE on the resource URL); 2xx or 404 (already gone) are fine.
pub fn delete_session(
    resource_url: &str,
    token: Option<&str>,
    timeout: Duration,
    tls: &ClientTls,
) -> Result<(), WhipError> {
    let target = parse_url(resource_url)?;
    let request = Request {
        method: "DELETE",
        token,
        sdp: None,
        limit: RESPONSE_LIMIT,
    };
    let response = exchange(resource_url, &target, &request, timeout, tls)?;
    match response.status {
        200..=299 | 404 => Ok(()),
        _ => Err(status_error(resource_url, response)),
    }
}

/// GETs `url` and returns its body as text; only `200 OK` is a success.
pub fn get_text(
    url: &str,
    token: Option<&str>,
    timeout: Duration,
    tls: &ClientTls,
) -> Result<String, WhipError> {
    let target = parse_url(url)?;
    let request = Request {
        method: "GET",
        token,
        sdp: None,
        limit: TEXT_RESPONSE_LIMIT,
    };
    let response = exchange(url, &target, &request, timeout, tls)?;
    if response.status != 200 {
        return Err(status_error(url, response));
    }
    String::from_utf8(response.body).map_err(|_| WhipError::NotText {
        url: url.to_owned(),
    })
}

fn parse_url(url: &str) -> Result<HttpUrl, WhipError> {
    HttpUrl::parse(url).map_err(|problem| WhipError::BadUrl {
        url: url.to_owned(),
        problem: problem.describe(),
    })
}

fn status_error(url: &str, response: Response) -> WhipError {
    let text = String::from_utf8_lossy(&response.body);
    let text = text.trim();
    let mut body: String = text.chars().take(REASON_LIMIT).collect();
    if body.len() < text.len() {
        body.push_str("...");
    }
    WhipError::Status {
        url: url.to_owned(),
        status: response.status,
        reason: response.reason,
        body,
    }
}

/// What to send; the URL says where.
struct Request<'a> {
    method: &'static str,
    token: Option<&'a str>,
    sdp: Option<&'a str>,
    /// The most bytes of the response to read.
    limit: usize,
}

/// One request and its response on a fresh connection, all before one deadline.
fn exchange(
    url: &str,
    target: &HttpUrl,
    request: &Request<'_>,
    timeout: Duration,
    tls: &ClientTls,
) -> Result<Response, WhipError> {
    let text = format_request(target, request)?;
    let deadline = Instant::now() + timeout;
    let timed_out = || WhipError::Timeout {
        url: url.to_owned(),
        timeout,
    };
    let on_error = |error: StreamError| match error {
        StreamError::Tls(source) => WhipError::Tls {
            url: url.to_owned(),
            source,
        },
        StreamError::Io(source) => match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
            _ => WhipError::Io {
                url: url.to_owned(),
                source,
            },
        },
    };
    let session = match target.scheme {
        Scheme::Http => None,
        Scheme::Https => Some(start_tls(url, target, tls)?),
    };
    let tcp = connect(target, deadline).map_err(|source| match source.kind() {
        io::ErrorKind::TimedOut => timed_out(),
        _ => WhipError::Connect {
            authority: target.authority.clone(),
            source,
        },
    })?;
    let mut stream = match session {
        Some(session) => Stream::tls(session, tcp),
        None => Stream::Plain(tcp),
    };
    stream
        .write_all(text.as_bytes(), deadline)
        .map_err(on_error)?;

    let mut received = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let count = stream.read(&mut chunk, deadline).map_err(on_error)?;
        received.extend_from_slice(&chunk[..count]);
        if received.len() > request.limit {
            return Err(WhipError::TooLarge {
                url: url.to_owned(),
                limit: request.limit,
            });
        }
        let at_eof = count == 0;
        let malformed = |problem| WhipError::Malformed {
            url: url.to_owned(),
            problem,
        };
        match parse_response(&received, at_eof).map_err(malformed)? {
            Some(response) => return Ok(response),
            None if at_eof => return Err(malformed("the connection closed early")),
            None => {}
        }
    }
}

/// The TLS session for `target`, made before connecting so a bad host name costs nothing.
fn start_tls(
    url: &str,
    target: &HttpUrl,
    tls: &ClientTls,
) -> Result<rustls::ClientConnection, WhipError> {
    let name = tls::server_name(&target.host).ok_or_else(|| WhipError::BadUrl {
        url: url.to_owned(),
        problem: "the host is not a name or address TLS can verify",
    })?;
    tls.connect(name).map_err(|source| WhipError::Tls {
        url: url.to_owned(),
        source,
    })
}

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// Tries each address of the host in turn until one connects or the deadline passes.
fn connect(target: &HttpUrl, deadline: Instant) -> io::Result<TcpStream> {
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for address in (target.host.as_str(), target.port).to_socket_addrs()? {
        let Some(left) = remaining(deadline) else {
            return Err(io::ErrorKind::TimedOut.into());
        };
        match TcpStream::connect_timeout(&address, left) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

fn format_request(target: &HttpUrl, request: &Request<'_>) -> Result<String, WhipError> {
    let Request {
        method, token, sdp, ..
    } = request;
    let mut text = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: shardcast-bench\r\nConnection: close\r\n",
        target.target, target.authority
    );
    if let Some(token) = token {
        // RFC 6750 b64token characters, at least: nothing that could end the header.
        if token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(WhipError::BadToken);
        }
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(sdp) = sdp {
        text.push_str(&format!(
            "Content-Type: application/sdp\r\nAccept: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
    } else {
        text.push_str("\r\n");
    }
    Ok(text)
}

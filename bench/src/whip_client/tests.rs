//! The client against a tiny in-test server on a loopback TcpListener: one thread accepts
//! one connection, reads the whole request, writes a canned response and hands the request
//! back for inspection. The https cases are in `https`.

mod https;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

use super::*;

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
const ANSWER: &str = "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
const TIMEOUT: Duration = Duration::from_secs(10);

struct Server {
    base: String,
    request: JoinHandle<String>,
}

impl Server {
    /// Answers one request with `response`; `hold` keeps the connection open without
    /// answering until the client closes it.
    fn start(response: Vec<u8>, hold: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let request = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let request = read_request(&mut stream).unwrap();
            if hold {
                // Returns when the client gives up and closes.
                let _ = stream.read(&mut [0; 1]);
            } else {
                // The client may stop reading early (response too large); that is its right.
                let _ = stream.write_all(&response);
            }
            request
        });
        Self { base, request }
    }

    fn answering(response: &str) -> Self {
        Self::start(response.as_bytes().to_vec(), false)
    }

    fn request(self) -> String {
        self.request.join().unwrap()
    }
}

/// Plain http:// URLs never use it.
fn http_only() -> ClientTls {
    ClientTls::insecure().unwrap()
}

/// Reads headers and a `Content-Length` body, the way the client sends them.
fn read_request(stream: &mut impl Read) -> io::Result<String> {
    let mut received = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|line| line.strip_prefix("Content-Length: "))
                .map_or(0, |length| length.parse().unwrap());
            if received.len() >= head_end + 4 + length {
                return Ok(text);
            }
        }
        let count = stream.read(&mut chunk)?;
        if count == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        received.extend_from_slice(&chunk[..count]);
    }
}

fn created(location: Option<&str>, content_type: &str, body: &str) -> String {
    let location = location.map_or(String::new(), |value| format!("Location: {value}\r\n"));
    format!(
        "HTTP/1.1 201 Created\r\n{location}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn posts_the_offer_and_resolves_a_relative_location() {
    let server = Server::answering(&created(Some("sessions/abc"), "application/sdp", ANSWER));
    let url = format!("{}/whip/live?room=1", server.base);
    let negotiated = post_offer(&url, Some("secret-token"), OFFER, TIMEOUT, &http_only()).unwrap();
    assert_eq!(negotiated.answer_sdp, ANSWER);
    assert_eq!(
        negotiated.resource_url,
        format!("{}/whip/sessions/abc", server.base)
    );

    let host = format!("Host: {}\r\n", &server.base["http://".len()..]);
    let request = server.request();
    assert!(request.starts_with("POST /whip/live?room=1 HTTP/1.1\r\n"));
    for header in [
        "Authorization: Bearer secret-token\r\n".to_owned(),
        "Content-Type: application/sdp\r\n".to_owned(),
        "Accept: application/sdp\r\n".to_owned(),
        format!("Content-Length: {}\r\n", OFFER.len()),
        host,
    ] {
        assert!(
            request.contains(&header),
            "{header:?} missing in {request:?}"
        );
    }
    assert!(request.ends_with(&format!("\r\n\r\n{OFFER}")));
}

#[test]
fn reads_a_chunked_answer() {
    let (first, second) = ANSWER.split_at(10);
    let response = format!(
        "HTTP/1.1 201 Created\r\nlocation: /resource/1\r\ncontent-type: Application/SDP; charset=utf-8\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    let server = Server::answering(&response);
    let negotiated = post_offer(
        &format!("{}/whep", server.base),
        None,
        OFFER,
        TIMEOUT,
        &http_only(),
    )
    .unwrap();
    assert_eq!(negotiated.answer_sdp, ANSWER);
    assert_eq!(
        negotiated.resource_url,
        format!("{}/resource/1", server.base)
    );
    assert!(
        !server.request().contains("Authorization"),
        "no token, no header"
    );
}

#[test]
fn an_error_status_carries_the_servers_reason() {
    let reason = "stream key rejected";
    let server = Server::answering(&format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\n\r\n{reason}",
        reason.len()
    ));
    let url = format!("{}/whip", server.base);
    let error = post_offer(&url, Some("wrong"), OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(
        matches!(&error, WhipError::Status { status: 403, body, .. } if body == reason),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("{url}: server answered 403 Forbidden: stream key rejected")
    );

    // WHIP says 201: a 200 is an error too, though it carries an answer.
    let server = Server::answering(
        &created(Some("/s"), "application/sdp", ANSWER).replace("201 Created", "200 OK"),
    );
    let error = post_offer(&server.base, None, OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(
        matches!(error, WhipError::Status { status: 200, .. }),
        "{error:?}"
    );
}

#[test]
fn refuses_answers_it_cannot_use() {
    let server = Server::answering(&created(None, "application/sdp", ANSWER));
    let error = post_offer(&server.base, None, OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(
        matches!(error, WhipError::MissingLocation { .. }),
        "{error:?}"
    );

    let server = Server::answering(&created(Some("/s"), "text/html", "<html>"));
    let error = post_offer(&server.base, None, OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(
        matches!(&error, WhipError::WrongContentType { found: Some(found), .. } if found == "text/html"),
        "{error:?}"
    );

    let server = Server::answering(&created(Some("/s"), "application/sdp", ""));
    let error = post_offer(&server.base, None, OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(matches!(error, WhipError::BadAnswer { .. }), "{error:?}");

    let server = Server::answering("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    let error = post_offer(&server.base, None, OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(matches!(error, WhipError::Malformed { .. }), "{error:?}");
}

#[test]
fn stops_reading_at_the_size_limit() {
    let mut response = b"HTTP/1.1 201 Created\r\nContent-Length: 100000\r\n\r\n".to_vec();
    response.resize(response.len() + 100_000, b'a');
    let server = Server::start(response, false);
    let error = post_offer(&server.base, None, OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(matches!(error, WhipError::TooLarge { .. }), "{error:?}");
    server.request();
}

#[test]
fn gives_up_on_a_silent_server_at_the_deadline() {
    let server = Server::start(Vec::new(), true);
    let timeout = Duration::from_millis(100);
    let error = post_offer(&server.base, None, OFFER, timeout, &http_only()).unwrap_err();
    assert!(matches!(error, WhipError::Timeout { .. }), "{error:?}");
    server.request();
}

#[test]
fn deletes_sessions_and_accepts_gone_ones() {
    for (status, fine) in [
        ("204 No Content", true),
        ("404 Not Found", true),
        ("500 Oops", false),
    ] {
        let server = Server::answering(&format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n"));
        let url = format!("{}/sessions/abc", server.base);
        let result = delete_session(&url, Some("t"), TIMEOUT, &http_only());
        assert_eq!(result.is_ok(), fine, "{status}: {result:?}");
        let request = server.request();
        assert!(request.starts_with("DELETE /sessions/abc HTTP/1.1\r\n"));
        assert!(request.contains("Authorization: Bearer t\r\n"));
    }
}

#[test]
fn gets_text_and_only_a_200_is_a_success() {
    let body = "# TYPE m counter\nm 1\n";
    let server = Server::answering(&format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let url = format!("{}/metrics", server.base);
    assert_eq!(
        get_text(&url, Some("t"), TIMEOUT, &http_only()).unwrap(),
        body
    );
    let request = server.request();
    assert!(
        request.starts_with("GET /metrics HTTP/1.1\r\n"),
        "{request:?}"
    );
    assert!(request.contains("Authorization: Bearer t\r\n"));
    assert!(request.ends_with("\r\n\r\n") && !request.contains("Content-Length"));

    let server = Server::answering(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 22\r\n\r\nshard 1 did not answer",
    );
    let error = get_text(&server.base, None, TIMEOUT, &http_only()).unwrap_err();
    assert!(
        matches!(&error, WhipError::Status { status: 503, body, .. } if body == "shard 1 did not answer"),
        "{error:?}"
    );

    // Larger than a WHIP answer may be, well within what a metrics page may be.
    let mut large = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
    large.resize(large.len() + 100_000, b'a');
    let server = Server::start(large, false);
    assert_eq!(
        get_text(&server.base, None, TIMEOUT, &http_only())
            .unwrap()
            .len(),
        100_000
    );
}

#[test]
fn clear_errors_before_any_exchange() {
    let error =
        post_offer("wss://example.com/whip", None, OFFER, TIMEOUT, &http_only()).unwrap_err();
    assert!(
        error.to_string().contains("only http:// and https://"),
        "{error}"
    );
    let error = delete_session("example.com/whip", None, TIMEOUT, &http_only()).unwrap_err();
    assert!(matches!(error, WhipError::BadUrl { .. }), "{error:?}");
    let error = post_offer(
        "http://127.0.0.1:9/",
        Some("a\r\nX: y"),
        OFFER,
        TIMEOUT,
        &http_only(),
    )
    .unwrap_err();
    assert!(matches!(error, WhipError::BadToken), "{error:?}");

    // A port nobody listens on any more.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = post_offer(
        &format!("http://{closed}/whip"),
        None,
        OFFER,
        TIMEOUT,
        &http_only(),
    )
    .unwrap_err();
    assert!(matches!(error, WhipError::Connect { .. }), "{error:?}");
}

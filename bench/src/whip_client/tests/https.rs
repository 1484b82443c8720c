//! The client over TLS against a tiny in-test https server: rustls with a self-signed
//! certificate for `localhost` and 127.0.0.1, answering each connection with a canned 201.

use std::io::{self, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use rustls::crypto::aws_lc_rs;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::{ANSWER, OFFER, TIMEOUT, created, read_request};
use crate::whip_client::{ClientTls, WhipError, post_offer};

struct HttpsServer {
    port: u16,
    /// The server's certificate, PEM: the only CA that vouches for it.
    certificate: String,
    /// What each connection received, in order, or how it failed.
    requests: JoinHandle<Vec<io::Result<String>>>,
}

impl HttpsServer {
    /// Answers `connections` connections, one after the other, with `response`.
    fn start(connections: usize, response: String) -> Self {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names).unwrap();
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![certified.cert.der().clone()],
                PrivateKeyDer::Pkcs8(key),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::thread::spawn(move || {
            (0..connections)
                .map(|_| {
                    let (tcp, _) = listener.accept()?;
                    let session =
                        ServerConnection::new(config.clone()).map_err(io::Error::other)?;
                    let mut stream = StreamOwned::new(session, tcp);
                    let request = read_request(&mut stream)?;
                    stream.write_all(response.as_bytes())?;
                    stream.conn.send_close_notify();
                    stream.flush()?;
                    Ok(request)
                })
                .collect()
        });
        Self {
            port,
            certificate: certified.cert.pem(),
            requests,
        }
    }

    fn requests(self) -> Vec<io::Result<String>> {
        self.requests.join().unwrap()
    }
}

fn ca_file(pem: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "shardcast-bench-https-{}-{}.pem",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::write(&path, pem).unwrap();
    path
}

#[test]
fn posts_over_tls_to_a_self_signed_server_with_insecure() {
    let server = HttpsServer::start(1, created(Some("sessions/abc"), "application/sdp", ANSWER));
    let url = format!("https://127.0.0.1:{}/whip/live", server.port);
    let negotiated = post_offer(
        &url,
        Some("t"),
        OFFER,
        TIMEOUT,
        &ClientTls::insecure().unwrap(),
    )
    .unwrap();
    assert_eq!(negotiated.answer_sdp, ANSWER);
    assert_eq!(
        negotiated.resource_url,
        format!("https://127.0.0.1:{}/whip/sessions/abc", server.port)
    );
    let requests = server.requests();
    let request = requests[0].as_ref().unwrap();
    assert!(
        request.starts_with("POST /whip/live HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains("Authorization: Bearer t\r\n"), "{request}");
    assert!(request.ends_with(&format!("\r\n\r\n{OFFER}")), "{request}");
}

#[test]
fn verifies_the_server_against_a_given_ca_by_name_and_by_address() {
    let server = HttpsServer::start(2, created(Some("/s/1"), "application/sdp", ANSWER));
    let path = ca_file(&server.certificate);
    let tls = ClientTls::verifying(std::slice::from_ref(&path));
    let _ = std::fs::remove_file(&path);
    let tls = tls.unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/whep", server.port);
        let negotiated = post_offer(&url, None, OFFER, TIMEOUT, &tls).unwrap();
        assert_eq!(
            negotiated.resource_url,
            format!("https://{host}:{}/s/1", server.port)
        );
    }
    assert!(server.requests().iter().all(Result::is_ok));
}

#[test]
fn an_unknown_issuer_is_a_clear_tls_error() {
    let server = HttpsServer::start(1, created(Some("/s/1"), "application/sdp", ANSWER));
    let url = format!("https://127.0.0.1:{}/whep", server.port);
    let tls = ClientTls::verifying(&[]).unwrap();
    let error = post_offer(&url, None, OFFER, TIMEOUT, &tls).unwrap_err();
    assert!(
        matches!(
            &error,
            WhipError::Tls {
                source: rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.starts_with(&url), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(
        message.contains("--ca-cert") && message.contains("--insecure"),
        "{message}"
    );
    // The server hears why: the client's alert ends its handshake.
    assert!(server.requests()[0].is_err());
}

#[test]
fn a_silent_tls_server_meets_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/whip", listener.local_addr().unwrap());
    let silent = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        // Takes the ClientHello, never answers, returns once the client gives up.
        let _ = io::copy(&mut tcp, &mut io::sink());
    });
    let timeout = std::time::Duration::from_millis(100);
    let error =
        post_offer(&url, None, OFFER, timeout, &ClientTls::insecure().unwrap()).unwrap_err();
    assert!(matches!(error, WhipError::Timeout { .. }), "{error:?}");
    silent.join().unwrap();
}

#[test]
fn a_host_tls_cannot_name_is_a_bad_url() {
    let error = post_offer(
        "https://bad_host!:8443/whip",
        None,
        OFFER,
        TIMEOUT,
        &ClientTls::insecure().unwrap(),
    )
    .unwrap_err();
    assert!(matches!(error, WhipError::BadUrl { .. }), "{error:?}");
}

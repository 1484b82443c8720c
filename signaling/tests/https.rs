//! HTTPS: with --tls-cert/--tls-key the same API is served over TLS (rustls on aws-lc-rs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use shardcast_signaling::{Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A fresh directory for one test's files.
fn temp_dir() -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("shardcast-https-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a self-signed certificate for `localhost` and its key as PEM files.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    (cert_path, key_path, certified.cert.der().to_vec())
}

fn config(dir: &std::path::Path, tls: (std::path::PathBuf, std::path::PathBuf)) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        control_dir: dir.to_path_buf(),
        tls: Some(tls),
        token: None,
        cors_origin: "*".into(),
    }
}

#[tokio::test]
async fn pages_and_api_are_served_over_tls() {
    let dir = temp_dir();
    let (cert, key, der) = self_signed(&dir);
    let server = Server::bind(config(&dir, (cert, key))).await.unwrap();
    let address = server.local_addr().unwrap();
    tokio::spawn(server.run());

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(der)).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /watch/demo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("<video"), "the watch page came back");

    // Without an engine the API answers too, over TLS, with its usual error.
    let tcp = TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(
        b"POST /whep/demo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    )
    .await
    .unwrap();
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.unwrap();
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 415"));
}

#[tokio::test]
async fn a_key_that_does_not_fit_the_certificate_is_refused_at_start() {
    let dir = temp_dir();
    let (cert, _, _) = self_signed(&dir);
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (_, other_key, _) = self_signed(&other);
    let error = Server::bind(config(&dir, (cert, other_key)))
        .await
        .err()
        .expect("mismatched key refused");
    assert!(error.to_string().contains("do not fit"), "{error}");
}

#[tokio::test]
async fn a_missing_certificate_file_is_named_in_the_error() {
    let dir = temp_dir();
    let missing = dir.join("missing.pem");
    let error = Server::bind(config(&dir, (missing.clone(), missing)))
        .await
        .err()
        .expect("missing file refused");
    assert!(error.to_string().contains("missing.pem"), "{error}");
}

//! The listener: accepts TCP (or TLS) connections and serves HTTP/1.1 on each.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, AppState};
use crate::engine::EngineClient;
use crate::sessions::Sessions;
use crate::tls;

/// A slow or silent client must not hold a task forever in the handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub control_dir: PathBuf,
    /// Certificate chain and private key (PEM); HTTPS when set.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub token: Option<String>,
    pub cors_origin: String,
}

pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
}

impl Server {
    pub async fn bind(config: Config) -> io::Result<Self> {
        let cors_origin = HeaderValue::from_str(&config.cors_origin).map_err(|_| {
            io::Error::other(format!("invalid --cors-origin {:?}", config.cors_origin))
        })?;
        let tls = match &config.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };
        let listener = TcpListener::bind(config.listen).await?;
        let state = Arc::new(AppState {
            engine: EngineClient::new(config.control_dir),
            sessions: Sessions::default(),
            token: config.token,
            cors_origin,
        });
        Ok(Self {
            listener,
            tls,
            state,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped.
    pub async fn run(self) {
        tracing::info!(
            address = ?self.listener.local_addr().ok(),
            tls = self.tls.is_some(),
            control_dir = %self.state.engine.dir().display(),
            "signaling listening"
        );
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let state = self.state.clone();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve(state, stream, peer).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(stream)) => serve(state, stream, peer).await,
                            Ok(Err(error)) => {
                                tracing::debug!(%peer, %error, "TLS handshake failed")
                            }
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
            });
        }
    }
}

async fn serve<S>(state: Arc<AppState>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(api::handle(&state, request).await) }
    });
    if let Err(error) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

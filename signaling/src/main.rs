//! `shardcast-signaling`: parse flags, start logging, serve until Ctrl-C or SIGTERM.

use clap::Parser;
use shardcast_signaling::Server;
use shardcast_signaling::cli::Args;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Logs go to stderr: stdout stays quiet.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Args::parse().into_config();
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::error!(%error, "cannot watch SIGTERM");
            return std::process::ExitCode::FAILURE;
        }
    };
    tokio::select! {
        () = server.run() => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, exiting"),
        _ = terminate.recv() => tracing::info!("terminated, exiting"),
    }
    std::process::ExitCode::SUCCESS
}

//! The `shardcast` binary: parses the command line and runs the engine or the supervisor.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use shardcast::cli::{Cli, Command, EngineArgs};
use shardcast::signal::ShutdownSignal;
use shardcast::{Engine, up};
use tracing_subscriber::EnvFilter;

/// How often the main thread checks that every shard is still alive while waiting for a signal.
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// See the workspace's Cargo.toml for why mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match Cli::parse().command {
        Command::Engine(args) => run_engine(&args),
        Command::Up(args) => up::run(&args),
    };
    result.unwrap_or_else(|error| {
        tracing::error!(%error, "shardcast failed");
        ExitCode::FAILURE
    })
}

fn run_engine(args: &EngineArgs) -> std::io::Result<ExitCode> {
    let signal = ShutdownSignal::install()?;
    let engine = Engine::start(args.to_config())?;
    let code = loop {
        if signal.wait(Some(HEALTH_INTERVAL)) {
            tracing::info!("stopping");
            break ExitCode::SUCCESS;
        }
        if !engine.is_running() {
            tracing::error!("a shard stopped; shutting down");
            break ExitCode::FAILURE;
        }
    };
    engine.stop();
    Ok(code)
}

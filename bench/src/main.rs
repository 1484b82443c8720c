//! `shardcast-bench`: one real WHIP publisher and many real WHEP viewers against any
//! server, then a table of what the viewers saw and what the server spent; `compare` does
//! that for several servers and viewer counts and sets them side by side; `baseline` sends
//! the same fan-out through plain syscalls or glommio, without a server.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "shardcast-bench",
    version,
    about = "Load generator for WHIP/WHEP servers: one real publisher, many real viewers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish over WHIP, ramp WHEP viewers up, measure a steady window, print the results.
    #[command(after_help = "Exit codes: 0 all viewers connected, 1 the run failed, \
                            2 bad arguments, 3 the run completed but some viewers failed.")]
    Run(cli::RunArgs),
    /// Run the same workload against each --target in turn (at each --sweep viewer count),
    /// printing each run's results, then one table comparing them.
    #[command(
        after_help = "Exit codes: 0 every viewer of every run connected, 1 a run \
                            failed, 2 bad arguments, 3 every run completed but some viewers \
                            failed."
    )]
    Compare(cli::CompareArgs),
    /// No server: the engine's per-viewer work (header rewrite, SRTP) for a stream like the
    /// publisher's, sent to N sockets on 127.0.0.1 through sendto, sendmmsg or glommio,
    /// reporting the sender's CPU time per viewer-packet.
    Baseline(cli::BaselineArgs),
}

/// See the workspace's Cargo.toml for why mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => cli::run(&args),
        Command::Compare(args) => cli::compare(&args),
        Command::Baseline(args) => cli::baseline(&args),
    }
}

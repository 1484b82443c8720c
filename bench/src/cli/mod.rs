//! The subcommands' flags and what each does with them; `main` only dispatches.

mod baseline;
mod compare;
mod run;
mod workload;

use std::fmt::Display;
use std::process::ExitCode;

pub use baseline::{BaselineArgs, baseline};
pub use compare::{CompareArgs, compare};
pub use run::{RunArgs, run};
pub use workload::WorkloadArgs;

/// The exit code of a run that completed but where some viewers never connected or were lost.
const SOME_VIEWERS_FAILED: u8 = 3;
const BAD_ARGUMENTS: u8 = 2;

fn bad_arguments(message: impl Display) -> ExitCode {
    eprintln!("shardcast-bench: {message}");
    ExitCode::from(BAD_ARGUMENTS)
}

fn failed(message: impl Display) -> ExitCode {
    eprintln!("shardcast-bench: {message}");
    ExitCode::FAILURE
}

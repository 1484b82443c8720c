//! `shardcast-bench baseline`: the engine's per-viewer work sent through plain syscalls or
//! glommio, no server involved.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use shardcast_bench::baseline::{self, BaselineConfig, SenderKind};

use super::{bad_arguments, failed};

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Viewers: UDP sockets on 127.0.0.1, each sent every packet.
    #[arg(long, default_value_t = 200)]
    viewers: usize,
    /// How long the publisher stream plays.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// How datagrams are sent.
    #[arg(long, value_enum, default_value_t = Sender::Sendto)]
    sender: Sender,
    /// Pin the sender to this CPU.
    #[arg(long, value_name = "K")]
    cpu: Option<usize>,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Sender {
    /// One sendto syscall per datagram.
    Sendto,
    /// One sendmmsg syscall per 64 datagrams.
    Sendmmsg,
    /// glommio's UdpSocket::send_to in a LocalExecutor.
    Glommio,
}

/// Viewers beyond this would need more file descriptors than a default limit allows.
const MAX_VIEWERS: usize = 10_000;
/// A run longer than this is not a baseline but a soak test.
const MAX_SECONDS: f64 = 600.0;

impl BaselineArgs {
    fn config(&self) -> Result<BaselineConfig, String> {
        if !(1..=MAX_VIEWERS).contains(&self.viewers) {
            return Err(format!("--viewers must be 1 to {MAX_VIEWERS}"));
        }
        if !(self.seconds > 0.0 && self.seconds <= MAX_SECONDS) {
            return Err(format!(
                "--seconds must be above 0 and at most {MAX_SECONDS}"
            ));
        }
        Ok(BaselineConfig {
            viewers: self.viewers,
            duration: Duration::from_secs_f64(self.seconds),
            sender: match self.sender {
                Sender::Sendto => SenderKind::Sendto,
                Sender::Sendmmsg => SenderKind::Sendmmsg,
                Sender::Glommio => SenderKind::Glommio,
            },
            cpu: self.cpu,
        })
    }
}

#[allow(clippy::print_stdout)]
pub fn baseline(args: &BaselineArgs) -> ExitCode {
    let config = match args.config() {
        Ok(config) => config,
        Err(message) => return bad_arguments(message),
    };
    let report = match baseline::run(&config) {
        Ok(report) => report,
        Err(error) => return failed(error),
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(error) => return failed(error),
        }
    } else {
        print!("{}", report.table());
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::{Cli, Command};

    use super::*;

    fn baseline_args(arguments: &[&str]) -> Result<BaselineArgs, clap::Error> {
        let cli = Cli::try_parse_from(["shardcast-bench", "baseline"].iter().chain(arguments))?;
        match cli.command {
            Command::Baseline(args) => Ok(args),
            _ => panic!("parsed as another command"),
        }
    }

    #[test]
    fn the_command_line_becomes_a_config() {
        let args = baseline_args(&[
            "--viewers=500",
            "--seconds=2.5",
            "--sender=glommio",
            "--cpu=1",
            "--json",
        ])
        .unwrap();
        assert!(args.json);
        let config = args.config().unwrap();
        assert_eq!(config.viewers, 500);
        assert_eq!(config.duration, Duration::from_millis(2500));
        assert_eq!(config.sender, SenderKind::Glommio);
        assert_eq!(config.cpu, Some(1));

        let defaults = baseline_args(&[]).unwrap();
        assert!(!defaults.json);
        let config = defaults.config().unwrap();
        assert_eq!(
            (config.viewers, config.duration),
            (200, Duration::from_secs(5))
        );
        assert_eq!((config.sender, config.cpu), (SenderKind::Sendto, None));
        let sendmmsg = baseline_args(&["--sender=sendmmsg"]).unwrap().config();
        assert_eq!(sendmmsg.unwrap().sender, SenderKind::Sendmmsg);

        assert!(baseline_args(&["--sender=io_uring"]).is_err());
        assert!(baseline_args(&["--viewers=-1"]).is_err());
        for bad in [&["--viewers=0"][..], &["--seconds=0"], &["--seconds=nan"]] {
            assert!(baseline_args(bad).unwrap().config().is_err(), "{bad:?}");
        }
    }
}

//! `shardcast-bench run`: one server, one viewer count, the full table.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use shardcast_bench::compare::{Target, default_name};
use shardcast_bench::driver::{self, BenchConfig};
use shardcast_bench::plot::{self, LineChart};
use shardcast_bench::report;

use super::{SOME_VIEWERS_FAILED, WorkloadArgs, bad_arguments, failed};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The WHIP endpoint the publisher posts to; `{stream}` is replaced by --stream.
    #[arg(long, value_name = "URL")]
    whip: String,
    /// The WHEP endpoint the viewers post to; `{stream}` is replaced by --stream.
    #[arg(long, value_name = "URL")]
    whep: String,
    /// Sent as `Authorization: Bearer <TOKEN>` with every request.
    #[arg(long)]
    token: Option<String>,
    /// A server process to measure (CPU %, RSS) over the steady window; repeatable.
    #[arg(long = "server-pid", value_name = "PID")]
    server_pids: Vec<u32>,
    /// The server's Prometheus page, like http://127.0.0.1:8080/metrics (shardcast-signaling):
    /// scraped at both ends of the steady window to report how late its probe timer fired.
    #[arg(long, value_name = "URL")]
    metrics: Option<String>,
    /// Also write every figure to this file as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also draw the video and audio latency distributions to this SVG file.
    #[arg(long, value_name = "PATH")]
    plot: Option<PathBuf>,
    #[command(flatten)]
    workload: WorkloadArgs,
}

impl RunArgs {
    fn config(&self) -> Result<BenchConfig, String> {
        let target = self.workload.expand(Target {
            name: default_name(&self.whip),
            whip_url: self.whip.clone(),
            whep_url: self.whep.clone(),
            token: self.token.clone(),
            server_pids: self.server_pids.clone(),
            metrics_url: self.metrics.clone(),
        })?;
        let tls = self.workload.tls()?;
        Ok(self.workload.config(&target, self.workload.viewers, &tls))
    }
}

#[allow(clippy::print_stdout)]
pub fn run(args: &RunArgs) -> ExitCode {
    if let Some(path) = &args.plot
        && let Err(error) = plot::check_svg_path(path)
    {
        return bad_arguments(error);
    }
    let config = match args.config() {
        Ok(config) => config,
        Err(message) => return bad_arguments(message),
    };
    let run = match driver::run(&config) {
        Ok(run) => run,
        Err(error) => return failed(error),
    };
    print!("{}", report::table(&run));
    if let Some(path) = &args.json
        && let Err(error) = report::write_json(&run, path)
    {
        return failed(format_args!("cannot write {}: {error}", path.display()));
    }
    if let Some(path) = &args.plot {
        let tracks = [
            ("video".to_owned(), &run.video),
            ("audio".to_owned(), &run.audio),
        ];
        let chart = LineChart::latency_cdf("end-to-end latency", &tracks);
        if let Err(error) = plot::write_svg(path, &[chart]) {
            return failed(error);
        }
    }
    if run.viewers_failed > 0 {
        eprintln!(
            "shardcast-bench: {} of {} viewers failed",
            run.viewers_failed, run.viewers_requested
        );
        return ExitCode::from(SOME_VIEWERS_FAILED);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use clap::Parser;
    use shardcast_bench::driver::BenchCodec;

    use crate::{Cli, Command};

    use super::*;

    fn run_args(arguments: &[&str]) -> Result<RunArgs, clap::Error> {
        let cli = Cli::try_parse_from(["shardcast-bench", "run"].iter().chain(arguments))?;
        match cli.command {
            Command::Run(args) => Ok(args),
            _ => panic!("parsed as another command"),
        }
    }

    #[test]
    fn the_command_line_becomes_a_config() {
        let args = run_args(&[
            "--whip=http://s/whip/{stream}",
            "--whep=http://s/whep/{stream}",
            "--stream=live",
            "--token=t",
            "--viewers=500",
            "--ramp=100",
            "--duration=1m",
            "--threads=2",
            "--cpus=2-3",
            "--lite=16",
            "--codec=h264",
            "--no-offer-candidates",
            "--server-pid=10",
            "--server-pid=11",
            "--json=out.json",
            "--plot=out.svg",
            "--metrics=http://s/metrics",
            "--link-delay=20ms",
        ])
        .unwrap();
        assert_eq!(args.json, Some(PathBuf::from("out.json")));
        assert_eq!(args.plot, Some(PathBuf::from("out.svg")));
        let config = args.config().unwrap();
        assert_eq!(config.whip_url, "http://s/whip/live");
        assert_eq!(config.whep_url, "http://s/whep/live");
        assert_eq!(config.token.as_deref(), Some("t"));
        assert_eq!((config.viewers, config.threads), (500, 2));
        assert_eq!(config.ramp_per_second, 100.0);
        assert_eq!(config.duration, Duration::from_secs(60));
        assert_eq!(config.cpus, vec![2, 3]);
        assert_eq!(config.lite, NonZeroU32::new(16));
        assert_eq!(config.codec, BenchCodec::H264);
        assert!(!config.offer_candidates);
        assert_eq!(config.server_pids, vec![10, 11]);
        assert_eq!(config.metrics_url.as_deref(), Some("http://s/metrics"));
        assert_eq!(config.link_delay, Duration::from_millis(20));

        let config = run_args(&["--whip=http://s/a", "--whep=http://s/b"])
            .unwrap()
            .config()
            .unwrap();
        assert_eq!((config.viewers, config.threads), (20, 1));
        assert_eq!(config.ramp_per_second, 50.0);
        assert_eq!(config.duration, Duration::from_secs(30));
        assert_eq!((config.lite, config.codec), (None, BenchCodec::Vp8));
        assert!(config.offer_candidates && config.cpus.is_empty());
        assert_eq!(config.metrics_url, None);
        assert_eq!(config.link_delay, Duration::ZERO, "no delay unless asked");

        assert!(run_args(&["--whip=http://s/a"]).is_err());
        assert!(run_args(&["--whip=a", "--whep=b", "--lite=0"]).is_err());
        assert!(run_args(&["--whip=a", "--whep=b", "--link-delay=20"]).is_err());
        assert!(run_args(&["--whip=a", "--whep=b", "--insecure", "--ca-cert=c.pem"]).is_err());
        let unexpanded = run_args(&["--whip=http://s/{stream}", "--whep=http://s/b"]).unwrap();
        assert!(unexpanded.config().unwrap_err().contains("--stream"));
    }
}

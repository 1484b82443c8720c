//! `shardcast-bench compare`: the same workload against each `--target` in turn, at each
//! `--sweep` viewer count, then one table of them all.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use shardcast_bench::compare::{self, CompareRun, Target};
use shardcast_bench::{driver, plot, report};

use super::{SOME_VIEWERS_FAILED, WorkloadArgs, bad_arguments, failed};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A server to run against, repeatable:
    /// `name=NAME,whip=URL,whep=URL,token=TOKEN,pid=PID,pid=PID`. whip and whep are required,
    /// pid repeats, name defaults to the WHIP URL's host:port; `{stream}` in the URLs is
    /// replaced by --stream.
    #[arg(long = "target", value_name = "SPEC", required = true, value_parser = compare::parse_target)]
    targets: Vec<Target>,
    /// Viewer counts to run every target at, in this order, like 100,250,500,1000 (default:
    /// --viewers).
    #[arg(long, value_name = "COUNTS", value_parser = compare::parse_sweep)]
    sweep: Option<Counts>,
    /// Also write every run's figures and full report to this file as a JSON array.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also draw server CPU and unrecovered loss against viewers, and each server's latency
    /// distribution, to this SVG file.
    #[arg(long, value_name = "PATH")]
    plot: Option<PathBuf>,
    #[command(flatten)]
    workload: WorkloadArgs,
}

/// Viewer counts. Named because clap's derive reads a field spelled `Vec<_>` as a
/// repeatable flag, and `--sweep` is one comma-separated value.
type Counts = Vec<usize>;

impl CompareArgs {
    /// The targets with their URLs expanded, checked before anything runs.
    fn targets(&self) -> Result<Vec<Target>, String> {
        let targets = self
            .targets
            .iter()
            .map(|target| self.workload.expand(target.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        compare::check_unique_names(&targets)?;
        Ok(targets)
    }

    fn viewer_counts(&self) -> Vec<usize> {
        self.sweep
            .clone()
            .unwrap_or_else(|| vec![self.workload.viewers])
    }
}

#[allow(clippy::print_stdout)]
pub fn compare(args: &CompareArgs) -> ExitCode {
    if let Some(path) = &args.plot
        && let Err(error) = plot::check_svg_path(path)
    {
        return bad_arguments(error);
    }
    let targets = match args.targets() {
        Ok(targets) => targets,
        Err(message) => return bad_arguments(message),
    };
    let tls = match args.workload.tls() {
        Ok(tls) => tls,
        Err(message) => return bad_arguments(message),
    };
    let runs = compare::run_all(
        &targets,
        &args.viewer_counts(),
        |target, viewers| driver::run(&args.workload.config(target, viewers, &tls)),
        print_run,
    );
    println!("{}", compare::table(&runs));
    let mut code = exit_code(&runs);
    if let Some(path) = &args.json
        && let Err(error) = compare::write_json(&runs, path)
    {
        code = failed(format_args!("cannot write {}: {error}", path.display()));
    }
    if let Some(path) = &args.plot
        && let Err(error) = plot::write_svg(path, &compare::charts(&runs))
    {
        code = failed(error);
    }
    code
}

/// A run's own full table as soon as it ends, so a long sweep shows its progress.
#[allow(clippy::print_stdout)]
fn print_run(run: &CompareRun) {
    println!("== {}, {} viewers ==", run.target, run.viewers);
    match &run.result {
        Ok(report) => println!("{}", report::table(report)),
        Err(error) => println!("failed: {error}\n"),
    }
}

/// 1 when a run failed, else 3 when a run lost viewers, else 0.
fn exit_code(runs: &[CompareRun]) -> ExitCode {
    let failures = runs.iter().filter(|run| run.result.is_err()).count();
    if failures > 0 {
        eprintln!("shardcast-bench: {failures} of {} runs failed", runs.len());
        return ExitCode::FAILURE;
    }
    let lost_viewers = runs
        .iter()
        .filter_map(|run| run.result.as_ref().ok())
        .any(|report| report.viewers_failed > 0);
    if lost_viewers {
        eprintln!("shardcast-bench: some viewers failed (see the tables above)");
        return ExitCode::from(SOME_VIEWERS_FAILED);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::{Cli, Command};

    use super::*;

    fn compare_args(arguments: &[&str]) -> Result<CompareArgs, clap::Error> {
        let cli = Cli::try_parse_from(["shardcast-bench", "compare"].iter().chain(arguments))?;
        match cli.command {
            Command::Compare(args) => Ok(args),
            _ => panic!("parsed as another command"),
        }
    }

    const SHARDCAST: &str = "--target=name=shardcast,whip=http://a:1/whip/{stream},\
                             whep=http://a:1/whep/{stream},pid=7";
    const OTHER: &str = "--target=whip=http://b:2/whip,whep=http://b:2/whep,token=t";

    #[test]
    fn targets_and_a_sweep() {
        let args = compare_args(&[
            SHARDCAST,
            OTHER,
            "--sweep=100,250",
            "--stream=live",
            "--duration=10s",
            "--json=c.json",
            "--plot=c.svg",
        ])
        .unwrap();
        assert_eq!(args.viewer_counts(), [100, 250]);
        let targets = args.targets().unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].name, "shardcast");
        assert_eq!(targets[0].whip_url, "http://a:1/whip/live");
        assert_eq!(targets[0].server_pids, [7]);
        assert_eq!(targets[1].name, "b:2");
        assert_eq!(targets[1].token.as_deref(), Some("t"));
        let config = args
            .workload
            .config(&targets[1], 250, &args.workload.tls().unwrap());
        assert_eq!(
            (config.viewers, config.whep_url.as_str()),
            (250, "http://b:2/whep")
        );
        assert_eq!(config.duration, std::time::Duration::from_secs(10));
        assert_eq!(config.token.as_deref(), Some("t"));
    }

    #[test]
    fn without_a_sweep_the_count_is_viewers() {
        let args = compare_args(&[OTHER, "--viewers=40"]).unwrap();
        assert_eq!(args.viewer_counts(), [40]);
    }

    #[test]
    fn bad_compare_command_lines() {
        assert!(compare_args(&[]).is_err(), "a target is required");
        assert!(compare_args(&[OTHER, "--sweep=100,0"]).is_err());
        assert!(compare_args(&[OTHER, "--sweep="]).is_err());
        assert!(compare_args(&["--target=whip=http://a/whip"]).is_err());
        let twice = compare_args(&[OTHER, OTHER]).unwrap();
        assert!(twice.targets().unwrap_err().contains("b:2"));
        let no_stream = compare_args(&[SHARDCAST]).unwrap();
        assert!(no_stream.targets().unwrap_err().contains("--stream"));
    }
}

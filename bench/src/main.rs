//! `shardcast-bench`: one real WHIP publisher and many real WHEP viewers against any
//! server, then a table of what the viewers saw and what the server spent.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use shardcast_bench::driver::{self, BenchCodec, BenchConfig};
use shardcast_bench::report;

/// The exit code of a run that completed but where some viewers never connected or were lost.
const SOME_VIEWERS_FAILED: u8 = 3;

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
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The WHIP endpoint the publisher posts to; `{stream}` is replaced by --stream.
    #[arg(long, value_name = "URL")]
    whip: String,
    /// The WHEP endpoint the viewers post to; `{stream}` is replaced by --stream.
    #[arg(long, value_name = "URL")]
    whep: String,
    /// The stream name put in place of `{stream}` in the URLs (percent-encoded).
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// Sent as `Authorization: Bearer <TOKEN>` with every request.
    #[arg(long)]
    token: Option<String>,
    /// How many WHEP viewers to run.
    #[arg(long, default_value_t = 20)]
    viewers: usize,
    /// Viewers started per second.
    #[arg(long, value_name = "PER_SECOND", default_value_t = 50.0)]
    ramp: f64,
    /// The steady window measured after the ramp, like 30s, 500ms, 2m or 1m30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Viewer threads, each running many viewers on its own io_uring.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Cores to pin the viewer threads to, like 2,3 or 0-3 (thread i on the i-th, cycling).
    #[arg(long, value_name = "LIST", value_parser = parse_cpu_list)]
    cpus: Option<CpuList>,
    /// Lite viewers: verify the SRTP tag of 1 packet in N, read the rest from the clear header.
    #[arg(long, value_name = "N")]
    lite: Option<NonZeroU32>,
    /// The video codec the publisher sends (with Opus audio).
    #[arg(long, value_enum, default_value_t = Codec::Vp8)]
    codec: Codec,
    /// Offer no host candidates (some ICE-lite servers drop sessions whose offer has them).
    #[arg(long)]
    no_offer_candidates: bool,
    /// A server process to measure (CPU %, RSS) over the steady window; repeatable.
    #[arg(long = "server-pid", value_name = "PID")]
    server_pids: Vec<u32>,
    /// Also write every figure to this file as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Codec {
    Vp8,
    H264,
}

/// Core numbers, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CpuList(Vec<usize>);

impl RunArgs {
    fn into_config(self) -> Result<BenchConfig, String> {
        let stream = self.stream.as_deref();
        Ok(BenchConfig {
            whip_url: expand_template("--whip", &self.whip, stream)?,
            whep_url: expand_template("--whep", &self.whep, stream)?,
            token: self.token,
            viewers: self.viewers,
            ramp_per_second: self.ramp,
            duration: self.duration,
            threads: self.threads,
            cpus: self.cpus.map(|CpuList(cpus)| cpus).unwrap_or_default(),
            lite: self.lite,
            codec: match self.codec {
                Codec::Vp8 => BenchCodec::Vp8,
                Codec::H264 => BenchCodec::H264,
            },
            offer_candidates: !self.no_offer_candidates,
            server_pids: self.server_pids,
        })
    }
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let Command::Run(args) = Cli::parse().command;
    let json_path = args.json.clone();
    let config = match args.into_config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("shardcast-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let run = match driver::run(&config) {
        Ok(run) => run,
        Err(error) => {
            eprintln!("shardcast-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report::table(&run));
    if let Some(path) = json_path
        && let Err(error) = report::write_json(&run, &path)
    {
        eprintln!("shardcast-bench: cannot write {}: {error}", path.display());
        return ExitCode::FAILURE;
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

/// Puts the percent-encoded stream name in place of every `{stream}` in `url`.
fn expand_template(flag: &str, url: &str, stream: Option<&str>) -> Result<String, String> {
    const PLACEHOLDER: &str = "{stream}";
    if !url.contains(PLACEHOLDER) {
        return Ok(url.to_owned());
    }
    let stream = stream.ok_or_else(|| format!("{flag} holds {PLACEHOLDER}: give --stream NAME"))?;
    if stream.is_empty() {
        return Err("--stream is empty".to_owned());
    }
    Ok(url.replace(PLACEHOLDER, &percent_encode(stream)))
}

/// RFC 3986 2.1: every byte but the unreserved characters as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A duration as one or more `<integer><unit>` terms, units `ms`, `s`, `m` and `h`:
/// `30s`, `500ms`, `2m`, `1m30s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 4] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];
    let invalid = |why: &str| format!("{text:?}: {why} (like 30s, 500ms, 2m or 1m30s)");
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    let mut rest = text;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid("expected a whole number"));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid("too long"))?;
        rest = &rest[digits..];
        let unit_length = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, after) = rest.split_at(unit_length);
        let (_, scale) = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .ok_or_else(|| {
                invalid(if unit.is_empty() {
                    "missing unit"
                } else {
                    "unknown unit"
                })
            })?;
        total_ms = number
            .checked_mul(*scale)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| invalid("too long"))?;
        rest = after;
    }
    Ok(Duration::from_millis(total_ms))
}

/// A list of cores like `0,2-3,6`, each at most once.
fn parse_cpu_list(text: &str) -> Result<CpuList, String> {
    const MOST: usize = 4096;
    let number = |part: &str| {
        part.trim()
            .parse::<usize>()
            .ok()
            .filter(|&cpu| cpu < MOST)
            .ok_or_else(|| format!("{text:?}: {part:?} is not a core number below {MOST}"))
    };
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((first, last)) => (number(first)?, number(last)?),
            None => (number(part)?, number(part)?),
        };
        if first > last {
            return Err(format!("{text:?}: the range {part:?} runs backwards"));
        }
        for cpu in first..=last {
            if cpus.contains(&cpu) {
                return Err(format!("{text:?}: core {cpu} appears twice"));
            }
            cpus.push(cpu);
        }
    }
    Ok(CpuList(cpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_by_hand() {
        let ms = Duration::from_millis;
        let cases = [
            ("5s", ms(5_000)),
            ("500ms", ms(500)),
            ("2m", ms(120_000)),
            ("1h", ms(3_600_000)),
            ("1m30s", ms(90_000)),
            ("0s", ms(0)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "30",
            "s",
            "1.5s",
            "5 s",
            "5sec",
            "-1s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("30").unwrap_err().contains("missing unit"));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("2"), Ok(CpuList(vec![2])));
        assert_eq!(parse_cpu_list("0,2-4, 7"), Ok(CpuList(vec![0, 2, 3, 4, 7])));
        for bad in ["", "a", "3-1", "1,1", "0-2,2", "1-", "99999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_templates() {
        let url = "http://h/whep/{stream}?s={stream}";
        assert_eq!(
            expand_template("--whep", url, Some("cam 1/ü")),
            Ok("http://h/whep/cam%201%2F%C3%BC?s=cam%201%2F%C3%BC".to_owned())
        );
        assert_eq!(
            expand_template("--whip", "http://h/whip", None),
            Ok("http://h/whip".to_owned())
        );
        let missing = expand_template("--whip", url, None).unwrap_err();
        assert!(missing.contains("--stream"), "{missing}");
        assert!(expand_template("--whip", url, Some("")).is_err());
    }

    #[test]
    fn the_command_line_becomes_a_config() {
        let cli = Cli::try_parse_from([
            "shardcast-bench",
            "run",
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
        ])
        .unwrap();
        let Command::Run(args) = cli.command;
        assert_eq!(args.json, Some(PathBuf::from("out.json")));
        let config = args.into_config().unwrap();
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

        let defaults = Cli::try_parse_from(["b", "run", "--whip=http://s/a", "--whep=http://s/b"]);
        let Command::Run(args) = defaults.unwrap().command;
        let config = args.into_config().unwrap();
        assert_eq!((config.viewers, config.threads), (20, 1));
        assert_eq!(config.ramp_per_second, 50.0);
        assert_eq!(config.duration, Duration::from_secs(30));
        assert_eq!((config.lite, config.codec), (None, BenchCodec::Vp8));
        assert!(config.offer_candidates && config.cpus.is_empty());

        assert!(Cli::try_parse_from(["b", "run", "--whip=http://s/a"]).is_err());
        assert!(Cli::try_parse_from(["b", "run", "--whip=a", "--whep=b", "--lite=0"]).is_err());
    }
}

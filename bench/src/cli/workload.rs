//! The flags `run` and `compare` share: what the publisher and viewers do, whatever the
//! server. Turned into the driver's [`BenchConfig`] for one target at one viewer count.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use shardcast_bench::compare::Target;
use shardcast_bench::driver::{BenchCodec, BenchConfig};
use shardcast_bench::whip_client::ClientTls;

#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// The stream name put in place of `{stream}` in the URLs (percent-encoded).
    #[arg(long, value_name = "NAME")]
    pub stream: Option<String>,
    /// How many WHEP viewers to run.
    #[arg(long, default_value_t = 20)]
    pub viewers: usize,
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
    /// Lite viewers: verify the SRTP tag of 1 packet in N (and of each stream's first packet and
    /// first after a sequence wrap, which SRTP needs), read the rest from the clear header.
    #[arg(long, value_name = "N")]
    lite: Option<NonZeroU32>,
    /// The video codec the publisher sends (with Opus audio).
    #[arg(long, value_enum, default_value_t = Codec::Vp8)]
    codec: Codec,
    /// Offer no host candidates (some ICE-lite servers drop sessions whose offer has them).
    #[arg(long)]
    no_offer_candidates: bool,
    /// No progress bar on stderr (it is shown only when stderr is a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// Also trust this CA certificate (PEM) for https:// URLs; repeatable.
    #[arg(long = "ca-cert", value_name = "PATH")]
    ca_certs: Vec<PathBuf>,
    /// Accept any certificate for https:// URLs (self-signed test boxes only).
    #[arg(long, conflicts_with = "ca_certs")]
    insecure: bool,
    /// Emulate a slow link, like 20ms: the publisher and every viewer hold each datagram
    /// this long before sending it and this long after receiving it, so the round trip
    /// grows by twice this (as `tc netem delay` on both ends of the link). 0s is off.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    link_delay: Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Codec {
    Vp8,
    H264,
}

/// Core numbers, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CpuList(Vec<usize>);

impl WorkloadArgs {
    /// How https:// URLs are checked, the system's roots read once for every run.
    pub fn tls(&self) -> Result<ClientTls, String> {
        let tls = if self.insecure {
            ClientTls::insecure()
        } else {
            ClientTls::verifying(&self.ca_certs)
        };
        tls.map_err(|error| error.to_string())
    }

    /// `target` with `{stream}` in its URLs replaced by `--stream`.
    pub fn expand(&self, target: Target) -> Result<Target, String> {
        let stream = self.stream.as_deref();
        Ok(Target {
            whip_url: expand_template("whip", &target.whip_url, stream)?,
            whep_url: expand_template("whep", &target.whep_url, stream)?,
            ..target
        })
    }

    /// The driver's configuration for a run against `target` (already expanded) with
    /// `viewers` viewers.
    pub fn config(&self, target: &Target, viewers: usize, tls: &ClientTls) -> BenchConfig {
        BenchConfig {
            whip_url: target.whip_url.clone(),
            whep_url: target.whep_url.clone(),
            token: target.token.clone(),
            tls: tls.clone(),
            viewers,
            ramp_per_second: self.ramp,
            duration: self.duration,
            threads: self.threads,
            cpus: self
                .cpus
                .clone()
                .map(|CpuList(cpus)| cpus)
                .unwrap_or_default(),
            lite: self.lite,
            codec: match self.codec {
                Codec::Vp8 => BenchCodec::Vp8,
                Codec::H264 => BenchCodec::H264,
            },
            offer_candidates: !self.no_offer_candidates,
            server_pids: target.server_pids.clone(),
            metrics_url: target.metrics_url.clone(),
            progress: !self.no_progress,
            link_delay: self.link_delay,
        }
    }
}

/// Puts the percent-encoded stream name in place of every `{stream}` in `url`, the URL
/// given as `what`.
fn expand_template(what: &str, url: &str, stream: Option<&str>) -> Result<String, String> {
    const PLACEHOLDER: &str = "{stream}";
    if !url.contains(PLACEHOLDER) {
        return Ok(url.to_owned());
    }
    let stream =
        stream.ok_or_else(|| format!("the {what} URL holds {PLACEHOLDER}: give --stream NAME"))?;
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
            expand_template("whep", url, Some("cam 1/ü")),
            Ok("http://h/whep/cam%201%2F%C3%BC?s=cam%201%2F%C3%BC".to_owned())
        );
        assert_eq!(
            expand_template("whip", "http://h/whip", None),
            Ok("http://h/whip".to_owned())
        );
        let missing = expand_template("whip", url, None).unwrap_err();
        assert!(missing.contains("--stream"), "{missing}");
        assert!(expand_template("whip", url, Some("")).is_err());
    }
}

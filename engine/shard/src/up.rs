//! `shardcast up`: the engine and signaling as two child processes, started together and
//! stopped together.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use shardcast_control::{EngineInfo, decode, engine_info_path};

use crate::cli::UpArgs;
use crate::cores::{Placement, available_cores, keep_off_shards, spare_cores};
use crate::signal::ShutdownSignal;

const SIGNALING_BINARY: &str = "shardcast-signaling";
/// How long the engine may take to write engine.json.
const ENGINE_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a child may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often the supervisor looks at its children between signals.
const SUPERVISE_INTERVAL: Duration = Duration::from_millis(200);
/// How long after a child's exit a signal to the whole group may still arrive here.
const SIGNAL_GRACE: Duration = Duration::from_millis(200);

pub fn run(args: &UpArgs) -> io::Result<ExitCode> {
    let signal = ShutdownSignal::install()?;
    let exe = std::env::current_exe()?;
    let control_dir = args.engine.control_dir();

    let mut engine = spawn("engine", Command::new(&exe).args(args.engine.to_args()))?;
    let signaling_exe = signaling_path(&exe);
    let mut signaling = match spawn(
        "signaling",
        Command::new(&signaling_exe).args(signaling_args(args, &control_dir)),
    ) {
        Ok(child) => child,
        Err(error) => {
            stop(&mut engine, "engine");
            return Err(error);
        }
    };
    keep_signaling_off_shards(args, signaling.id());

    let mut children = [(&mut engine, "engine"), (&mut signaling, "signaling")];
    match wait_for_engine(&control_dir, &mut children, &signal)? {
        EngineStart::Ready => print_urls(&base_url(args)),
        EngineStart::Interrupted => {
            children
                .iter_mut()
                .for_each(|(child, name)| stop(child, name));
            return Ok(ExitCode::SUCCESS);
        }
        EngineStart::Failed => {
            children
                .iter_mut()
                .for_each(|(child, name)| stop(child, name));
            return Ok(ExitCode::FAILURE);
        }
    }

    loop {
        if signal.wait(Some(SUPERVISE_INTERVAL)) {
            tracing::info!("stopping");
            children
                .iter_mut()
                .for_each(|(child, name)| stop(child, name));
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(exited) = first_exited(&mut children) {
            // Ctrl-C in a terminal signals the whole process group: a child may be gone before
            // our own signal is seen. Then this is a stop, not a failure.
            if signal.wait(Some(SIGNAL_GRACE)) {
                tracing::info!(child = exited, "stopping");
                children
                    .iter_mut()
                    .for_each(|(child, name)| stop(child, name));
                return Ok(ExitCode::SUCCESS);
            }
            tracing::error!(child = exited, "a child process exited; stopping the other");
            children
                .iter_mut()
                .for_each(|(child, name)| stop(child, name));
            return Ok(ExitCode::FAILURE);
        }
    }
}

fn spawn(name: &str, command: &mut Command) -> io::Result<Child> {
    command.spawn().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot start {name} ({}): {error}",
                command.get_program().to_string_lossy()
            ),
        )
    })
}

/// Signaling shares no core with a shard when there is a spare one, and yields to shards
/// when there is not: its scheduling delays their timers.
fn keep_signaling_off_shards(args: &UpArgs, pid: u32) {
    let available = available_cores();
    let shards = args.engine.to_config().shards;
    let spare = spare_cores(shards, &args.engine.cpus, &available);
    match keep_off_shards(pid, &spare) {
        Ok(Placement::Pinned(cores)) => {
            tracing::info!(?cores, "signaling pinned off the shards' cores")
        }
        Ok(Placement::Yielding(nice)) => {
            tracing::info!(
                nice,
                "every core has a shard: signaling runs at a lower priority"
            );
        }
        Err(error) => tracing::warn!(%error, "cannot keep signaling off the shards' cores"),
    }
}

fn signaling_args(args: &UpArgs, control_dir: &Path) -> Vec<OsString> {
    let mut forwarded: Vec<OsString> = vec![
        "--listen".into(),
        args.listen.to_string().into(),
        "--control-dir".into(),
        control_dir.as_os_str().to_owned(),
    ];
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        forwarded.extend([
            "--tls-cert".into(),
            cert.as_os_str().to_owned(),
            "--tls-key".into(),
            key.as_os_str().to_owned(),
        ]);
    }
    if let Some(token) = &args.token {
        forwarded.extend(["--token".into(), token.into()]);
    }
    forwarded
}

enum EngineStart {
    Ready,
    Interrupted,
    Failed,
}

/// Waits for an engine.json written by our engine child (a stale one names another pid).
fn wait_for_engine(
    control_dir: &Path,
    children: &mut [(&mut Child, &str)],
    signal: &ShutdownSignal,
) -> io::Result<EngineStart> {
    let engine_pid = children[0].0.id();
    let path = engine_info_path(control_dir);
    let give_up = Instant::now() + ENGINE_START_TIMEOUT;
    while Instant::now() < give_up {
        let written_by_child = std::fs::read(&path)
            .ok()
            .and_then(|bytes| decode::<EngineInfo>(&bytes).ok())
            .is_some_and(|info| info.pid == engine_pid);
        if written_by_child {
            return Ok(EngineStart::Ready);
        }
        if let Some(exited) = first_exited(children) {
            tracing::error!(child = exited, "exited during start");
            return Ok(EngineStart::Failed);
        }
        if signal.wait(Some(Duration::from_millis(50))) {
            return Ok(EngineStart::Interrupted);
        }
    }
    tracing::error!(path = %path.display(), "the engine did not start in time");
    Ok(EngineStart::Failed)
}

/// The name of the first child that has exited, if any.
fn first_exited(children: &mut [(&mut Child, &str)]) -> Option<String> {
    children
        .iter_mut()
        .find_map(|(child, name)| match child.try_wait() {
            Ok(Some(status)) => Some(format!("{name} ({status})")),
            Ok(None) => None,
            Err(error) => Some(format!("{name} (cannot wait: {error})")),
        })
}

/// SIGTERM, then up to `STOP_GRACE` for the child to exit, then SIGKILL.
fn stop(child: &mut Child, name: &str) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    match libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid, which stays reserved until we reap it.
        Ok(pid) if unsafe { libc::kill(pid, libc::SIGTERM) } == 0 => {}
        _ => tracing::warn!(child = name, "cannot send SIGTERM"),
    }
    let give_up = Instant::now() + STOP_GRACE;
    while Instant::now() < give_up {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    tracing::warn!(child = name, "did not exit after SIGTERM; killing it");
    if let Err(error) = child.kill().and_then(|()| child.wait().map(drop)) {
        tracing::warn!(child = name, %error, "cannot kill");
    }
}

/// `--public-url` without a trailing slash, or the URL of `--listen` with 127.0.0.1 standing in
/// for an unspecified address.
pub fn base_url(args: &UpArgs) -> String {
    if let Some(url) = &args.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let host = match args.listen {
        SocketAddr::V4(v4) if !v4.ip().is_unspecified() => v4.ip().to_string(),
        SocketAddr::V6(v6) if !v6.ip().is_unspecified() => format!("[{}]", v6.ip()),
        _ => "127.0.0.1".to_owned(),
    };
    format!("{scheme}://{host}:{}", args.listen.port())
}

#[allow(clippy::print_stdout)]
fn print_urls(base: &str) {
    println!("publish (WHIP): {base}/publish/demo");
    println!("watch   (WHEP): {base}/watch/demo");
}

/// Where `shardcast up` looks for the signaling binary: next to its own executable.
pub fn signaling_path(exe: &Path) -> PathBuf {
    exe.with_file_name(SIGNALING_BINARY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command as CliCommand};
    use clap::Parser;

    fn up(args: &[&str]) -> UpArgs {
        let cli = Cli::try_parse_from(["shardcast", "up"].iter().chain(args)).unwrap();
        let CliCommand::Up(up) = cli.command else {
            panic!("not up");
        };
        up
    }

    #[test]
    fn base_url_uses_loopback_for_unspecified_listen_addresses() {
        assert_eq!(base_url(&up(&[])), "http://127.0.0.1:8080");
        assert_eq!(
            base_url(&up(&["--listen", "[::]:80"])),
            "http://127.0.0.1:80"
        );
        assert_eq!(
            base_url(&up(&[
                "--listen",
                "192.0.2.3:8443",
                "--tls-cert",
                "c",
                "--tls-key",
                "k"
            ])),
            "https://192.0.2.3:8443"
        );
        assert_eq!(
            base_url(&up(&["--listen", "[2001:db8::1]:8080"])),
            "http://[2001:db8::1]:8080"
        );
        assert_eq!(
            base_url(&up(&["--public-url", "https://live.example/"])),
            "https://live.example"
        );
    }

    #[test]
    fn signaling_gets_listen_control_dir_tls_and_token() {
        let args = up(&[
            "--listen",
            "127.0.0.1:1",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--token",
            "t",
        ]);
        let forwarded = signaling_args(&args, Path::new("/run/s"));
        let forwarded: Vec<&str> = forwarded.iter().filter_map(|a| a.to_str()).collect();
        assert_eq!(
            forwarded,
            [
                "--listen",
                "127.0.0.1:1",
                "--control-dir",
                "/run/s",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
                "--token",
                "t"
            ]
        );
    }

    #[test]
    fn signaling_binary_sits_next_to_ours() {
        assert_eq!(
            signaling_path(Path::new("/opt/bin/shardcast")),
            PathBuf::from("/opt/bin/shardcast-signaling")
        );
    }
}

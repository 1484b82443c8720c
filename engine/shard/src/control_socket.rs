//! A shard's control socket: a plain thread accepts one request per connection, hands it to
//! the shard thread (channel + wake) and writes the shard's answer back. Keeping the blocking
//! socket work off the shard thread means a slow client never stalls media.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use shardcast_control::{ErrorKind, MAX_LINE, Request, Response, decode, encode};

use crate::cores;
use crate::wake::Waker;

/// How long a client may take to send its line or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the shard's answer before telling the client it is unavailable.
const SHARD_TIMEOUT: Duration = Duration::from_secs(5);

/// A request on its way to the shard thread, with where to put the answer.
pub struct ControlRequest {
    pub request: Request,
    pub reply: SyncSender<Response>,
}

/// The accepting thread of one shard's socket.
pub struct ControlServer {
    path: PathBuf,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Where requests go: the shard's queue and the wake that makes it look.
pub struct ShardInbox {
    pub requests: Sender<ControlRequest>,
    pub waker: Arc<Waker>,
}

/// Binds `path` (replacing a stale socket file) without accepting yet, so the caller knows
/// every shard's socket exists before announcing the engine.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "removed a stale control socket"),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    UnixListener::bind(path)
}

impl ControlServer {
    /// Starts the accepting thread, on `spare_cores` (those no shard runs on) when there are
    /// any: woken by every request, it would otherwise take a busy shard's core, and each
    /// time delay that shard's timers.
    pub fn spawn(
        listener: UnixListener,
        path: PathBuf,
        index: usize,
        inbox: ShardInbox,
        spare_cores: Vec<usize>,
    ) -> io::Result<Self> {
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("control-{index}"))
            .spawn({
                let stopping = Arc::clone(&stopping);
                move || {
                    if !spare_cores.is_empty()
                        && let Err(error) = cores::keep_off_shards(0, &spare_cores)
                    {
                        tracing::warn!(shard = index, %error, "control thread left on any core");
                    }
                    accept_loop(&listener, &stopping, &inbox)
                }
            })?;
        Ok(Self {
            path,
            stopping,
            thread: Some(thread),
        })
    }

    /// Stops accepting, waits for the thread and removes the socket file.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stopping.store(true, Ordering::Release);
        // accept() has no timeout: one connection of our own wakes it to see the flag.
        if let Err(error) = UnixStream::connect(&self.path) {
            tracing::warn!(%error, "cannot wake the control socket thread");
        }
        if thread.join().is_err() {
            tracing::error!(path = %self.path.display(), "control socket thread panicked");
        }
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove the control socket");
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &UnixListener, stopping: &AtomicBool, inbox: &ShardInbox) {
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                if let Err(error) = serve(stream, inbox) {
                    tracing::debug!(%error, "control connection failed");
                }
            }
            Err(error) => tracing::warn!(%error, "control socket accept failed"),
        }
    }
}

/// One connection: one line in, one line out.
fn serve(stream: UnixStream, inbox: &ShardInbox) -> io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut line = Vec::new();
    // One byte more than allowed tells an over-long line from one that exactly fits.
    BufReader::new(&stream)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    let response = if line.len() > MAX_LINE {
        bad_request(format!("request longer than {MAX_LINE} bytes"))
    } else {
        match decode::<Request>(&line) {
            Ok(request) => ask_shard(request, inbox),
            Err(error) => bad_request(error.to_string()),
        }
    };
    (&stream).write_all(&encode(&response))
}

fn ask_shard(request: Request, inbox: &ShardInbox) -> Response {
    let (reply, answer) = mpsc::sync_channel(1);
    if inbox
        .requests
        .send(ControlRequest { request, reply })
        .is_err()
    {
        return unavailable("the shard has stopped");
    }
    inbox.waker.wake();
    answer
        .recv_timeout(SHARD_TIMEOUT)
        .unwrap_or_else(|_| unavailable("the shard did not answer"))
}

fn bad_request(reason: String) -> Response {
    Response::Error {
        kind: ErrorKind::BadRequest,
        reason,
    }
}

fn unavailable(reason: &str) -> Response {
    Response::Error {
        kind: ErrorKind::Unavailable,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A shard stand-in that answers every request with `Ok`, on its own thread.
    fn answering_inbox() -> ShardInbox {
        let (requests, queue) = mpsc::channel::<ControlRequest>();
        std::thread::spawn(move || {
            for request in queue {
                request.reply.send(Response::Ok).unwrap();
            }
        });
        ShardInbox {
            requests,
            waker: Arc::new(Waker::new().unwrap()),
        }
    }

    fn exchange(path: &Path, bytes: &[u8]) -> Response {
        let mut stream = UnixStream::connect(path).unwrap();
        stream.write_all(bytes).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        decode(&answer).unwrap()
    }

    fn temp_socket(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shardcast-cs-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("shard-0.sock")
    }

    #[test]
    fn passes_requests_to_the_shard_and_rejects_garbage_and_long_lines() {
        let path = temp_socket("exchange");
        std::fs::write(&path, b"stale").unwrap();
        let listener = bind(&path).unwrap();
        let mut server =
            ControlServer::spawn(listener, path.clone(), 0, answering_inbox(), Vec::new()).unwrap();

        let request = Request::DeleteSession {
            session: "s".into(),
        };
        assert_eq!(exchange(&path, &encode(&request)), Response::Ok);
        assert!(matches!(
            exchange(&path, b"{not json\n"),
            Response::Error {
                kind: ErrorKind::BadRequest,
                ..
            }
        ));
        let long = vec![b' '; MAX_LINE + 10];
        assert!(matches!(
            exchange(&path, &long),
            Response::Error {
                kind: ErrorKind::BadRequest,
                ..
            }
        ));

        server.stop();
        assert!(!path.exists());
    }

    #[test]
    fn answers_unavailable_when_the_shard_is_gone() {
        let path = temp_socket("gone");
        let (requests, queue) = mpsc::channel();
        drop(queue);
        let inbox = ShardInbox {
            requests,
            waker: Arc::new(Waker::new().unwrap()),
        };
        let mut server =
            ControlServer::spawn(bind(&path).unwrap(), path.clone(), 0, inbox, Vec::new()).unwrap();
        let request = Request::DeleteSession {
            session: "s".into(),
        };
        assert!(matches!(
            exchange(&path, &encode(&request)),
            Response::Error {
                kind: ErrorKind::Unavailable,
                ..
            }
        ));
        server.stop();
    }
}

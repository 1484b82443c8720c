//! The client side of the engine's control sockets: one request per connection, one JSON
//! line each way.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use shardcast_control::{
    EngineInfo, MAX_LINE, Request, Response, control_socket_path, decode, encode, engine_info_path,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// How long one exchange with a shard may take before the engine counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum EngineError {
    /// No engine.json, no listener, or no answer in time.
    Unreachable(String),
    /// The shard answered something that is not a response.
    Malformed(String),
}

pub struct EngineClient {
    dir: PathBuf,
    /// The shard count from engine.json; dropped after a failure so a restarted engine is re-read.
    shards: Mutex<Option<usize>>,
}

impl EngineClient {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            shards: Mutex::new(None),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The number of shards, from the cache or engine.json.
    pub async fn shards(&self) -> Result<usize, EngineError> {
        if let Some(shards) = *self.shards.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(shards);
        }
        let path = engine_info_path(&self.dir);
        let text = tokio::fs::read(&path).await.map_err(|e| {
            EngineError::Unreachable(format!("cannot read {}: {e}", path.display()))
        })?;
        let info: EngineInfo = serde_json::from_slice(&text).map_err(|e| {
            EngineError::Unreachable(format!("{} is not valid: {e}", path.display()))
        })?;
        if info.shards == 0 {
            return Err(EngineError::Unreachable(format!(
                "{} lists no shards",
                path.display()
            )));
        }
        *self.shards.lock().unwrap_or_else(|e| e.into_inner()) = Some(info.shards);
        Ok(info.shards)
    }

    /// Sends one request to shard `index` and reads its response.
    pub async fn call(&self, index: usize, request: &Request) -> Result<Response, EngineError> {
        let path = control_socket_path(&self.dir, index);
        let result = match tokio::time::timeout(TIMEOUT, exchange(&path, request)).await {
            Ok(result) => result,
            Err(_) => Err(EngineError::Unreachable(format!(
                "shard {index} did not answer within {TIMEOUT:?}"
            ))),
        };
        if result.is_err() {
            self.forget();
        }
        result
    }

    fn forget(&self) {
        *self.shards.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

async fn exchange(path: &Path, request: &Request) -> Result<Response, EngineError> {
    let unreachable =
        |e: std::io::Error| EngineError::Unreachable(format!("{}: {e}", path.display()));
    let mut stream = UnixStream::connect(path).await.map_err(unreachable)?;
    stream
        .write_all(&encode(request))
        .await
        .map_err(unreachable)?;
    let mut line = Vec::new();
    let mut reader = BufReader::new(stream).take(MAX_LINE as u64);
    reader
        .read_until(b'\n', &mut line)
        .await
        .map_err(unreachable)?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() >= MAX_LINE {
            EngineError::Malformed(format!("response longer than {MAX_LINE} bytes"))
        } else {
            EngineError::Unreachable(format!("{} closed without a response", path.display()))
        });
    }
    decode(&line).map_err(|e| EngineError::Malformed(format!("undecodable response: {e}")))
}

//! What signaling remembers between requests: live sessions (for PATCH and DELETE) and each
//! stream's publisher codecs (for negotiating viewers).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use shardcast_control::{Role, shard_for};

use crate::sdp::negotiate::PublisherCodecs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub role: Role,
    pub stream: String,
    pub shard: usize,
    pub etag: String,
    /// The peer's ICE ufrag: a PATCH with another one asks for an ICE restart.
    pub remote_ufrag: String,
}

#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, SessionEntry>>,
    publishers: Mutex<HashMap<String, Publisher>>,
    next_viewer_shard: AtomicUsize,
}

struct Publisher {
    session: String,
    codecs: PublisherCodecs,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these maps half-updated (each update is one insert or
    // remove), so a poisoned lock is still safe to use.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sessions {
    pub fn get(&self, session: &str) -> Option<SessionEntry> {
        locked(&self.sessions).get(session).cloned()
    }

    pub fn insert(&self, session: String, entry: SessionEntry) {
        locked(&self.sessions).insert(session, entry);
    }

    /// Forgets a session, and the stream's codecs if it was the stream's publisher.
    pub fn remove(&self, session: &str) {
        let Some(entry) = locked(&self.sessions).remove(session) else {
            return;
        };
        let mut publishers = locked(&self.publishers);
        if publishers
            .get(&entry.stream)
            .is_some_and(|p| p.session == session)
        {
            publishers.remove(&entry.stream);
        }
    }

    pub fn publisher_codecs(&self, stream: &str) -> Option<PublisherCodecs> {
        locked(&self.publishers)
            .get(stream)
            .map(|p| p.codecs.clone())
    }

    pub fn set_publisher(&self, stream: &str, session: &str, codecs: PublisherCodecs) {
        locked(&self.publishers).insert(
            stream.to_owned(),
            Publisher {
                session: session.to_owned(),
                codecs,
            },
        );
    }

    /// A new viewer session id whose hash lands on the next shard in turn, so viewers spread
    /// evenly while `shard = shard_for(session)` stays true.
    pub fn viewer_session_id(&self, shards: usize) -> String {
        let target = self.next_viewer_shard.fetch_add(1, Ordering::Relaxed) % shards.max(1);
        // Each draw hits the target with probability 1/shards; the bound only guards against
        // a broken random source, and any id is still placed correctly by its hash.
        let mut id = random_session_id();
        for _ in 0..shards.saturating_mul(64) {
            if shard_for(&id, shards) == target {
                break;
            }
            id = random_session_id();
        }
        id
    }
}

/// 128 random bits in hex.
pub fn random_session_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_ids_rotate_across_shards() {
        let sessions = Sessions::default();
        let placed: Vec<usize> = (0..6)
            .map(|_| shard_for(&sessions.viewer_session_id(3), 3))
            .collect();
        assert_eq!(placed, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn removing_the_publisher_forgets_its_codecs() {
        let sessions = Sessions::default();
        let entry = SessionEntry {
            role: Role::Publish,
            stream: "s".into(),
            shard: 0,
            etag: "\"e\"".into(),
            remote_ufrag: "u".into(),
        };
        sessions.insert("p1".into(), entry);
        sessions.set_publisher("s", "p1", PublisherCodecs::new());
        assert!(sessions.publisher_codecs("s").is_some());
        sessions.remove("p1");
        assert!(sessions.publisher_codecs("s").is_none());
        assert!(sessions.get("p1").is_none());
    }
}

//! Which sessions and shards want each stream, and what shards say to each other.
//!
//! A stream's home shard (`shard_for(stream)`) holds its publisher. Every shard with viewers
//! of the stream subscribes to the home shard once, however many viewers it has, and then
//! receives one shared packet per media packet, which it fans out to its own viewers.

use std::collections::HashMap;
use std::sync::Arc;

use shardcast_control::MediaKind;

use crate::egress::RtxCache;
use crate::egress::recent_keyframes::RecentKeyframes;
use crate::media::MediaPacket;

/// A session's handle inside its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(pub u64);

/// What shards say to each other. The sending shard's index travels beside the message.
#[derive(Debug)]
pub enum ShardMessage {
    /// The sender has its first viewer of `stream`: send it the stream's media.
    Subscribe { stream: Arc<str> },
    /// The sender's last viewer of `stream` left.
    Unsubscribe { stream: Arc<str> },
    /// One media packet for all of the receiver's viewers of `stream`.
    Media {
        stream: Arc<str>,
        packet: Arc<MediaPacket>,
    },
    /// The publisher's clock mapping for one track, from its sender report.
    SenderClock {
        stream: Arc<str>,
        clock: SenderClock,
    },
    /// A viewer on the sender needs a keyframe of one simulcast layer of `stream` (0 without
    /// simulcast).
    KeyframeRequest { stream: Arc<str>, layer: u8 },
}

/// The publisher's NTP <-> RTP mapping of one track (RFC 3550 6.4.1), which viewers' sender
/// reports reuse so that lip sync survives the timestamp rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderClock {
    pub source: u64,
    pub kind: MediaKind,
    pub ntp: u64,
    pub rtp_timestamp: u32,
}

/// One stream as this shard sees it.
pub struct StreamRoute {
    pub name: Arc<str>,
    /// The publishing session, when this is the home shard and someone publishes.
    pub publisher: Option<SessionKey>,
    /// Local viewers.
    pub viewers: Vec<SessionKey>,
    /// Other shards with viewers (home shard only).
    pub subscribers: Vec<usize>,
    /// The latest publisher clock per kind, so late viewers can send reports at once.
    pub clocks: Vec<SenderClock>,
    /// The stream's recent packets, for viewers' NACKs and for joiners to start from.
    pub rtx: RtxCache,
    /// Where each layer's latest keyframe starts among those packets.
    pub recent: RecentKeyframes,
}

impl StreamRoute {
    fn is_unused(&self) -> bool {
        self.publisher.is_none() && self.viewers.is_empty() && self.subscribers.is_empty()
    }

    pub fn set_clock(&mut self, clock: SenderClock) {
        self.clocks.retain(|c| c.kind != clock.kind);
        self.clocks.push(clock);
    }
}

/// Where a removed viewer was in its stream's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedViewer {
    pub position: usize,
    /// It was the last local viewer: time to unsubscribe.
    pub was_last: bool,
}

#[derive(Default)]
pub struct StreamTable {
    routes: HashMap<Arc<str>, StreamRoute>,
}

impl StreamTable {
    pub fn get(&self, stream: &str) -> Option<&StreamRoute> {
        self.routes.get(stream)
    }

    pub fn get_mut(&mut self, stream: &str) -> Option<&mut StreamRoute> {
        self.routes.get_mut(stream)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route of `stream`, created on first use (control path only: it allocates).
    fn entry(&mut self, stream: &str) -> &mut StreamRoute {
        let name: Arc<str> = Arc::from(stream);
        self.routes
            .entry(name.clone())
            .or_insert_with(|| StreamRoute {
                name,
                publisher: None,
                viewers: Vec::new(),
                subscribers: Vec::new(),
                clocks: Vec::new(),
                rtx: RtxCache::new(),
                recent: RecentKeyframes::default(),
            })
    }

    /// Makes `key` the publisher; returns the publisher it replaces.
    pub fn set_publisher(&mut self, stream: &str, key: SessionKey) -> Option<SessionKey> {
        self.entry(stream).publisher.replace(key)
    }

    pub fn clear_publisher(&mut self, stream: &str, key: SessionKey) {
        if let Some(route) = self.routes.get_mut(stream)
            && route.publisher == Some(key)
        {
            route.publisher = None;
            route.clocks.clear();
            self.remove_if_unused(stream);
        }
    }

    /// Adds a local viewer; true when it is the first one (time to subscribe upstream).
    pub fn add_viewer(&mut self, stream: &str, key: SessionKey) -> (Arc<str>, bool) {
        let route = self.entry(stream);
        route.viewers.push(key);
        (route.name.clone(), route.viewers.len() == 1)
    }

    /// Removes a local viewer, keeping the others in order (pending fan-out jobs hold
    /// positions in that list). `None` when it was not a viewer of `stream`.
    pub fn remove_viewer(&mut self, stream: &str, key: SessionKey) -> Option<RemovedViewer> {
        let route = self.routes.get_mut(stream)?;
        let position = route.viewers.iter().position(|&v| v == key)?;
        route.viewers.remove(position);
        let was_last = route.viewers.is_empty();
        self.remove_if_unused(stream);
        Some(RemovedViewer { position, was_last })
    }

    pub fn add_subscriber(&mut self, stream: &str, shard: usize) -> Arc<str> {
        let route = self.entry(stream);
        if !route.subscribers.contains(&shard) {
            route.subscribers.push(shard);
        }
        route.name.clone()
    }

    pub fn remove_subscriber(&mut self, stream: &str, shard: usize) {
        if let Some(route) = self.routes.get_mut(stream) {
            route.subscribers.retain(|&s| s != shard);
            self.remove_if_unused(stream);
        }
    }

    fn remove_if_unused(&mut self, stream: &str) {
        if self.routes.get(stream).is_some_and(StreamRoute::is_unused) {
            self.routes.remove(stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_last_viewer_are_reported() {
        let mut table = StreamTable::default();
        let (_, first) = table.add_viewer("s", SessionKey(1));
        assert!(first);
        let (_, first) = table.add_viewer("s", SessionKey(2));
        assert!(!first);
        table.add_viewer("s", SessionKey(3));
        let removed = |position, was_last| Some(RemovedViewer { position, was_last });
        assert_eq!(table.remove_viewer("s", SessionKey(2)), removed(1, false));
        assert_eq!(
            table.get("s").unwrap().viewers,
            [SessionKey(1), SessionKey(3)]
        );
        assert_eq!(table.remove_viewer("s", SessionKey(1)), removed(0, false));
        assert_eq!(table.remove_viewer("s", SessionKey(3)), removed(0, true));
        assert!(table.is_empty(), "an unused stream is forgotten");
        assert_eq!(table.remove_viewer("s", SessionKey(3)), None);
    }

    #[test]
    fn publisher_replacement_and_subscribers_keep_route_alive() {
        let mut table = StreamTable::default();
        assert_eq!(table.set_publisher("s", SessionKey(1)), None);
        assert_eq!(table.set_publisher("s", SessionKey(2)), Some(SessionKey(1)));
        table.add_subscriber("s", 1);
        table.add_subscriber("s", 1);
        assert_eq!(table.get("s").unwrap().subscribers, vec![1]);
        table.clear_publisher("s", SessionKey(1));
        assert_eq!(table.get("s").unwrap().publisher, Some(SessionKey(2)));
        table.clear_publisher("s", SessionKey(2));
        assert!(table.get("s").is_some(), "a subscriber keeps the route");
        table.remove_subscriber("s", 1);
        assert!(table.is_empty());
    }
}

//! What the shard does with session events: route media to other shards and queue it for
//! local viewers, carry keyframe requests to the publisher, and forget closed sessions.

use std::sync::Arc;
use std::time::Instant;

use tracing::debug;

use super::ShardCore;
use crate::media::MediaPacket;
use crate::router::{SenderClock, SessionKey, ShardMessage};
use crate::session::SessionEvent;

impl ShardCore {
    /// Collects a session's output and acts on its events, until it has nothing more.
    pub(super) fn after_session(&mut self, now: Instant, key: SessionKey) {
        loop {
            let Some(session) = self.sessions.get_mut(&key) else {
                return;
            };
            while let Some(transmit) = session.poll_transmit() {
                self.transmits.push_back(transmit);
            }
            let Some(event) = session.poll_event() else {
                self.timers.set(key, session.poll_timeout());
                return;
            };
            let stream = session.stream().clone();
            match event {
                SessionEvent::AddressVerified(address) => {
                    self.by_address.insert(address, key);
                }
                SessionEvent::Connected => {
                    // A new viewer should not wait for the publisher's next periodic keyframe:
                    // it starts from one that just went by, else asks for one.
                    if !session.is_publisher()
                        && !self.start_from_recent_keyframe(now, key)
                        && let Some(session) = self.sessions.get(&key)
                    {
                        let layer = session.wanted_layer();
                        self.request_keyframe(now, &stream, layer);
                    }
                }
                SessionEvent::Media(packet) => {
                    self.counters.media_packets_in += 1;
                    self.route_media(&stream, packet);
                }
                SessionEvent::SenderClock(clock) => {
                    self.apply_clock(&stream, clock);
                    let subscribers = self
                        .streams
                        .get(&stream)
                        .map(|route| route.subscribers.clone())
                        .unwrap_or_default();
                    for shard in subscribers {
                        let stream = stream.clone();
                        self.messages
                            .push_back((shard, ShardMessage::SenderClock { stream, clock }));
                    }
                }
                SessionEvent::KeyframeRequest { layer } => {
                    self.request_keyframe(now, &stream, layer);
                }
                SessionEvent::RetransmitReady => self.retransmit_ready.push_back(key),
                SessionEvent::Closed(_) => self.remove_session(key),
            }
        }
    }

    /// A publisher's packet: kept for NACKs, once to each other shard with viewers, then
    /// queued for local viewers.
    pub(super) fn route_media(&mut self, stream: &Arc<str>, packet: MediaPacket) {
        let packet = self.packets.share(packet);
        self.cache_published(stream, &packet);
        if let Some(route) = self.streams.get(stream) {
            for &shard in &route.subscribers {
                self.messages.push_back((
                    shard,
                    ShardMessage::Media {
                        stream: route.name.clone(),
                        packet: packet.clone(),
                    },
                ));
            }
        }
        self.enqueue_fanout(stream, packet);
    }

    pub(super) fn apply_clock(&mut self, stream: &str, clock: SenderClock) {
        let Some(route) = self.streams.get_mut(stream) else {
            return;
        };
        route.set_clock(clock);
        for key in &route.viewers {
            if let Some(viewer) = self.sessions.get_mut(key) {
                viewer.set_clock(clock);
            }
        }
    }

    /// Carries a keyframe request for one simulcast layer to the publisher's shard, or to the
    /// publisher itself.
    pub(super) fn request_keyframe(&mut self, now: Instant, stream: &str, layer: u8) {
        let home = self.home_of(stream);
        if home != self.config.index {
            if let Some(route) = self.streams.get(stream) {
                self.counters.keyframe_requests_forwarded += 1;
                let stream = route.name.clone();
                self.messages
                    .push_back((home, ShardMessage::KeyframeRequest { stream, layer }));
            }
            return;
        }
        let Some(publisher) = self.streams.get(stream).and_then(|route| route.publisher) else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(&publisher) {
            session.request_keyframe(now, layer);
            self.after_session(now, publisher);
        }
    }

    fn remove_session(&mut self, key: SessionKey) {
        let Some(session) = self.sessions.remove(&key) else {
            return;
        };
        self.counters.sessions_closed += 1;
        // What it counted stays in the shard's totals.
        self.counters.repair += session.repair_counters();
        self.counters.publisher_transport_feedback_sent += session.transport_feedback_sent();
        if let Some((_, switches)) = session.viewer_layer() {
            self.counters.layer_switches += switches;
        }
        self.timers.set(key, None);
        self.by_id.remove(session.id());
        self.by_ufrag.remove(session.ice_ufrag());
        for address in session.addresses() {
            if self.by_address.get(address) == Some(&key) {
                self.by_address.remove(address);
            }
        }
        let stream = session.stream().clone();
        if session.is_publisher() {
            self.streams.clear_publisher(&stream, key);
        } else if let Some(removed) = self.streams.remove_viewer(&stream, key) {
            self.fanout.viewer_removed(&stream, removed.position);
            if removed.was_last && !self.is_home_of(&stream) {
                let home = self.home_of(&stream);
                self.messages
                    .push_back((home, ShardMessage::Unsubscribe { stream }));
            }
        }
        debug!(session = %session.id(), "session removed");
    }
}

//! Events beside the message stream: frames for a room's sockets (read
//! receipts, typing, presence) or for one user's sockets (`member`, a read marker
//! seen from their other sockets). They skip the sequencer: they carry no id and
//! no order, and a socket that has not joined the room yet simply misses them.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, MutexGuard},
};

use bytestring::ByteString;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Hub, State,
    linger::{self, RoomEvent},
};
use crate::fanout::{Delivery, Kind, SocketId, member::SocketEntry, relay::Jobs};

/// An event for the hub to hand to local sockets.
#[derive(Debug)]
pub enum Event {
    /// To the room's sockets but `except`.
    Room {
        room: String,
        frame: ByteString,
        except: Option<SocketId>,
    },
    /// To the user's sockets but those that joined `skip_room` (they get the
    /// same frame from the room).
    User {
        user: Uuid,
        frame: ByteString,
        skip_room: Option<String>,
    },
}

impl Hub {
    /// Takes events to hand to local sockets. Room events wait for the room's
    /// next release (`linger.rs`); what none picks up, and users' events, go
    /// out together when due. A replica's read markers are flushed together
    /// (`CHAT_READ_FLUSH_MS`), so their receipts come from Redis as a burst —
    /// 50 per socket per flush in chat-fanout-mixed — which one event at a
    /// time made 50 relay jobs per worker and 50 wake-ups per socket.
    pub fn events(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut state = self.state();
        let mut started = false;
        for event in events {
            match event {
                Event::Room {
                    room,
                    frame,
                    except,
                } => {
                    let Some(name) = state
                        .rooms
                        .get_key_value(room.as_str())
                        .map(|(n, _)| Arc::clone(n))
                    else {
                        continue;
                    };
                    let delivery =
                        Arc::new(Delivery::event(Arc::clone(&name), frame, Kind::RoomEvent));
                    started |= state.lingering.park_room(&name, (delivery, except), now);
                }
                Event::User { .. } => {
                    let bytes = event.frame_len();
                    started |= state.lingering.park_user(event, bytes, now);
                }
            }
        }
        if state.lingering.is_full() {
            let (rooms, users) = state.lingering.take_all();
            return self.deliver(state, rooms, users);
        }
        drop(state);
        if started {
            self.linger.notify_one();
        }
    }

    /// Queues events, in order, to their local sockets: one run of frames per
    /// socket and one job per worker for all of them. Consumes the state lock.
    fn deliver(
        &self,
        state: MutexGuard<'_, State>,
        rooms: HashMap<Arc<str>, Vec<RoomEvent>>,
        users: Vec<Event>,
    ) {
        let mut runs = Runs::new();
        let mut bytes = 0;
        for (room, events) in rooms {
            let Some(r) = state.rooms.get(&room) else {
                continue;
            };
            bytes += events.iter().map(|(d, _)| d.frame.len()).sum::<usize>();
            for (id, entry) in &r.members {
                for delivery in linger::for_socket(&events, *id) {
                    push(&mut runs, *id, entry, delivery);
                }
            }
        }
        for event in users {
            let Event::User {
                user,
                frame,
                skip_room,
            } = event
            else {
                continue;
            };
            let Some(ids) = state.by_user.get(&user) else {
                continue;
            };
            bytes += frame.len();
            let room = skip_room.as_deref().unwrap_or_default();
            let delivery = Arc::new(Delivery::event(Arc::from(room), frame, Kind::UserEvent));
            for id in ids {
                let Some((entry, rooms)) = state.sockets.get(id) else {
                    continue;
                };
                if skip_room
                    .as_deref()
                    .is_some_and(|skip| rooms.contains(skip))
                {
                    continue;
                }
                push(&mut runs, *id, entry, Arc::clone(&delivery));
            }
        }
        drop(state);
        if runs.is_empty() {
            return;
        }
        let mut jobs = Jobs::default();
        for (entry, frames) in runs.into_values() {
            jobs.push(&entry, frames.into());
        }
        jobs.send(bytes, &self.metrics);
    }

    /// Hands over what no release picked up once it is due; everything at shutdown.
    pub async fn run_lingering(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let due = self.state().lingering.due();
            tokio::select! {
                () = self.linger.notified() => {}
                () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    self.flush_lingering(Instant::now());
                }
                () = shutdown.cancelled() => break,
            }
        }
        self.flush_lingering(Instant::now() + linger::LINGER);
    }

    /// Hands over everything waiting if it is due at `now`.
    fn flush_lingering(&self, now: Instant) {
        let mut state = self.state();
        if state.lingering.due().is_none_or(|due| due > now) {
            return;
        }
        let (rooms, users) = state.lingering.take_all();
        self.deliver(state, rooms, users);
    }

    /// The users with local sockets in each room, with their display names:
    /// what this replica contributes to the rooms' presence.
    pub fn local_presence(&self, rooms: &[Arc<str>]) -> Vec<Vec<(Uuid, Arc<str>)>> {
        let state = self.state();
        rooms
            .iter()
            .map(|room| {
                let Some(r) = state.rooms.get(room) else {
                    return Vec::new();
                };
                let mut seen = HashSet::new();
                r.members
                    .values()
                    .filter(|entry| seen.insert(entry.user))
                    .map(|entry| (entry.user, Arc::clone(&entry.name)))
                    .collect()
            })
            .collect()
    }

    /// Rooms whose presence changed here since the last call.
    pub fn take_presence_changes(&self) -> Vec<Arc<str>> {
        self.state().presence_dirty.drain().collect()
    }

    /// Looks at a room's presence again on the next turn (a failed update).
    pub fn presence_retry(&self, room: &Arc<str>) {
        self.state().presence_dirty.insert(Arc::clone(room));
    }

    pub async fn presence_changed(&self) {
        self.presence.notified().await;
    }

    /// Every room this replica follows.
    pub fn followed_rooms(&self) -> Vec<Arc<str>> {
        self.state().rooms.keys().cloned().collect()
    }

    /// Whether the socket has joined the room.
    pub fn has_joined(&self, id: SocketId, room: &str) -> bool {
        self.state()
            .sockets
            .get(&id)
            .is_some_and(|(_, rooms)| rooms.contains(room))
    }

    /// The last id released to this replica's sockets in `room`, if followed.
    pub fn last_released(&self, room: &str) -> Option<i64> {
        self.state().rooms.get(room).and_then(|r| r.seq.last())
    }
}

impl Event {
    fn frame_len(&self) -> usize {
        match self {
            Self::Room { frame, .. } | Self::User { frame, .. } => frame.len(),
        }
    }
}

/// Each socket's frames of one batch of events, in order.
type Runs = HashMap<SocketId, (Arc<SocketEntry>, Vec<Arc<Delivery>>)>;

fn push(runs: &mut Runs, id: SocketId, entry: &Arc<SocketEntry>, delivery: Arc<Delivery>) {
    runs.entry(id)
        .or_insert_with(|| (Arc::clone(entry), Vec::new()))
        .1
        .push(delivery);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        domain::RoomName,
        fanout::{
            hub::HubSettings,
            member::{Inbox, Kill, Outbox},
            sequencer::Ordering,
        },
        metrics::Metrics,
    };

    fn hub() -> Hub {
        let metrics = Metrics::register(&prometheus::Registry::new()).unwrap();
        Hub::new(
            metrics,
            HubSettings {
                ordering: Ordering {
                    wait: Duration::from_millis(100),
                    hold_items: 16,
                    hold_bytes: 1 << 20,
                },
                max_sockets_per_user: 8,
                relay_jobs: 16,
            },
        )
    }

    /// A socket with no relay: the hub queues straight into its outbox.
    fn socket(hub: &Hub, user: Uuid) -> (SocketId, Inbox) {
        let (outbox, inbox) = Outbox::new(64, 1 << 20);
        let id = hub
            .register(SocketEntry {
                outbox,
                kill: Arc::new(Kill::new(&CancellationToken::new())),
                relay: None,
                user,
                name: Arc::from("u"),
                sid: Uuid::new_v4(),
                jti: Uuid::new_v4(),
            })
            .unwrap();
        (id, inbox)
    }

    fn frames(inbox: &mut Inbox) -> Vec<String> {
        std::iter::from_fn(|| inbox.try_recv())
            .map(|d| d.frame.to_string())
            .collect()
    }

    #[test]
    fn a_batch_of_events_reaches_each_socket_in_order_once_each() {
        let hub = hub();
        let (reader, writer) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, mut in_a) = socket(&hub, reader);
        let (b, mut in_b) = socket(&hub, writer);
        let (_elsewhere, mut in_c) = socket(&hub, reader);
        let room = RoomName::parse("r").unwrap();
        let _ = hub.join(a, &room);
        let _ = hub.join(b, &room);
        let event = |room: &str, frame: &'static str, except| Event::Room {
            room: room.to_owned(),
            frame: ByteString::from_static(frame),
            except,
        };
        hub.events(vec![
            event("r", "typing from a", Some(a)),
            Event::User {
                user: reader,
                frame: ByteString::from_static("read by reader"),
                skip_room: Some("r".to_owned()),
            },
            event("r", "read by reader", Some(a)),
            event("other", "nobody here", None),
            event("r", "presence", None),
        ]);
        hub.flush_lingering(Instant::now() + super::linger::LINGER);
        assert_eq!(frames(&mut in_a), ["presence"]);
        assert_eq!(
            frames(&mut in_b),
            ["typing from a", "read by reader", "presence"]
        );
        assert_eq!(
            frames(&mut in_c),
            ["read by reader"],
            "the reader's socket outside the room hears it from the user's channel"
        );
    }

    #[test]
    fn room_events_ride_in_front_of_the_rooms_next_message_and_the_rest_go_when_due() {
        let hub = hub();
        let (a, mut in_a) = socket(&hub, Uuid::new_v4());
        let (b, mut in_b) = socket(&hub, Uuid::new_v4());
        let room = RoomName::parse("r").unwrap();
        let _ = hub.join(a, &room);
        let _ = hub.join(b, &room);
        hub.subscribed(&[room.shared()]);
        let work = hub.take_work(std::time::Instant::now());
        let starts: Vec<_> = work
            .starts
            .iter()
            .map(|(r, e)| (Arc::clone(r), *e, 0))
            .collect();
        hub.started(&starts);

        hub.events(vec![Event::Room {
            room: "r".to_owned(),
            frame: ByteString::from_static("typing from a"),
            except: Some(a),
        }]);
        assert!(frames(&mut in_b).is_empty(), "it waits for a message");
        let message = Delivery {
            room: room.shared(),
            id: 1,
            frame: ByteString::from_static("message 1"),
            kind: Kind::Message,
        };
        hub.offer(&[Arc::new(message)]);
        assert_eq!(frames(&mut in_b), ["typing from a", "message 1"], "one run");
        assert_eq!(frames(&mut in_a), ["message 1"], "never back to its sender");

        hub.events(vec![Event::Room {
            room: "r".to_owned(),
            frame: ByteString::from_static("read by b"),
            except: Some(b),
        }]);
        hub.flush_lingering(Instant::now());
        assert!(frames(&mut in_a).is_empty(), "not due yet");
        hub.flush_lingering(Instant::now() + super::linger::LINGER);
        assert_eq!(
            frames(&mut in_a),
            ["read by b"],
            "no message came: alone, when due"
        );
        assert!(frames(&mut in_b).is_empty());
    }
}

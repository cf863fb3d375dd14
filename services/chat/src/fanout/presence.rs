//! Who is in a room, counted over every replica and surviving a replica's death.
//! Each room has one Redis hash: a field per present user holding their name and,
//! per replica that has a socket of theirs in the room, until when that replica
//! vouches for them. Every replica re-states its own users of every room it
//! follows every `PRESENCE_TTL / 3` — one script call per room, pipelined, never
//! a round trip per socket — and whenever a user's first socket joins or last
//! leaves. The same script drops what expired (a dead replica's users stop
//! counting within `PRESENCE_TTL`), and reports every user whose presence
//! changed, exactly once: the one call that saw the change announces it.
//! One key per script call, so it stays within one hash slot.

use std::{sync::Arc, time::Duration};

use deadpool_redis::redis::{self, Script};
use uuid::Uuid;

/// Arguments: replica, entry lifetime (ms), key lifetime (ms), then a user id
/// and display name for every user this replica has in the room. Returns
/// `[user, name, "1"|"0", …]` for each user that came online or went offline.
const SYNC: &str = r"
local key = KEYS[1]
local replica = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = now + tonumber(ARGV[2])
local mine = {}
for i = 4, #ARGV, 2 do mine[ARGV[i]] = ARGV[i + 1] end
local changes = {}
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local user = fields[i]
  local entry = cjson.decode(fields[i + 1])
  local live = {}
  local any = false
  for r, until_ms in pairs(entry.r) do
    if r ~= replica and until_ms > now then live[r] = until_ms; any = true end
  end
  if mine[user] then
    live[replica] = expiry
    any = true
    entry.n = mine[user]
    mine[user] = nil
  end
  if any then
    entry.r = live
    redis.call('HSET', key, user, cjson.encode(entry))
  else
    redis.call('HDEL', key, user)
    table.insert(changes, user)
    table.insert(changes, entry.n)
    table.insert(changes, '0')
  end
end
for user, name in pairs(mine) do
  local r = {}
  r[replica] = expiry
  redis.call('HSET', key, user, cjson.encode({n = name, r = r}))
  table.insert(changes, user)
  table.insert(changes, name)
  table.insert(changes, '1')
end
if redis.call('HLEN', key) > 0 then redis.call('PEXPIRE', key, tonumber(ARGV[3])) end
return changes
";

/// The users some replica still vouches for: `[user, name, …]`.
const READ: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local entry = cjson.decode(fields[i + 1])
  for _, until_ms in pairs(entry.r) do
    if until_ms > now then
      table.insert(out, fields[i])
      table.insert(out, entry.n)
      break
    end
  end
end
return out
";

/// A room and this replica's users in it (id, display name).
pub type RoomUsers = (Arc<str>, Vec<(Uuid, Arc<str>)>);

/// A user who came online (`true`) or went offline in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub user: Uuid,
    pub name: String,
    pub online: bool,
}

#[derive(Clone)]
pub struct Presence {
    pool: deadpool_redis::Pool,
    key_prefix: String,
    replica: Uuid,
    ttl: Duration,
    sync: Arc<Script>,
    read: Arc<Script>,
}

impl Presence {
    pub fn new(pool: deadpool_redis::Pool, key_prefix: &str, replica: Uuid, ttl: Duration) -> Self {
        Self {
            pool,
            key_prefix: format!("{key_prefix}chat:presence:"),
            replica,
            ttl,
            sync: Arc::new(Script::new(SYNC)),
            read: Arc::new(Script::new(READ)),
        }
    }

    /// How often a replica re-states its users: a third of the TTL, so an entry
    /// (which lives two thirds) is renewed well before it lapses.
    pub fn period(&self) -> Duration {
        self.ttl / 3
    }

    fn key(&self, room: &str) -> String {
        format!("{}{room}", self.key_prefix)
    }

    /// States this replica's users of each room (none: it has left) and returns
    /// the changes, room by room, in one pipeline.
    pub async fn sync(
        &self,
        rooms: &[RoomUsers],
    ) -> anyhow::Result<Vec<Vec<Change>>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let entry_ms = self.ttl.saturating_sub(self.period()).as_millis();
        let key_ms = (self.ttl * 2).as_millis();
        let mut conn = self.pool.get().await?;
        // SCRIPT LOAD first (cheap, once per pipeline): a restarted Redis has
        // forgotten it, and EVALSHA in a pipeline does not load it by itself.
        let mut pipe = redis::pipe();
        pipe.load_script(&self.sync).ignore();
        let replica = self.replica.simple().to_string();
        for (room, users) in rooms {
            let mut call = self.sync.prepare_invoke();
            call.key(self.key(room))
                .arg(&replica)
                .arg(entry_ms.to_string())
                .arg(key_ms.to_string());
            for (user, name) in users {
                call.arg(user.to_string()).arg(&**name);
            }
            pipe.invoke_script(&call);
        }
        let replies: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
        Ok(replies.into_iter().map(|r| changes(&r)).collect())
    }

    /// The users present in a room, on any replica.
    pub async fn read(&self, room: &str) -> anyhow::Result<Vec<(Uuid, String)>> {
        let mut conn = self.pool.get().await?;
        let flat: Vec<String> = self
            .read
            .key(self.key(room))
            .invoke_async(&mut conn)
            .await?;
        Ok(flat
            .chunks_exact(2)
            .filter_map(|pair| Some((Uuid::parse_str(&pair[0]).ok()?, pair[1].clone())))
            .collect())
    }
}

fn changes(flat: &[String]) -> Vec<Change> {
    flat.chunks_exact(3)
        .filter_map(|c| {
            Some(Change {
                user: Uuid::parse_str(&c[0]).ok()?,
                name: c[1].clone(),
                online: c[2] == "1",
            })
        })
        .collect()
}

/// Keeps this replica's part of every room's presence in Redis and announces
/// the changes it is the one to see.
pub struct PresenceTask {
    pub presence: Presence,
    pub hub: Arc<super::Hub>,
    pub announce: super::announce::Announcer,
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl PresenceTask {
    pub async fn run(self) {
        let mut tick = tokio::time::interval(self.presence.period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let every_room = tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = self.hub.presence_changed() => false,
                _ = tick.tick() => true,
            };
            let mut rooms = self.hub.take_presence_changes();
            if every_room {
                rooms.extend(self.hub.followed_rooms());
                rooms.sort_unstable();
                rooms.dedup();
            }
            let users = self.hub.local_presence(&rooms);
            self.sync(rooms.into_iter().zip(users).collect()).await;
        }
        // Leaving: this replica's users go offline now rather than at expiry.
        let mut rooms = self.hub.followed_rooms();
        rooms.extend(self.hub.take_presence_changes());
        rooms.sort_unstable();
        rooms.dedup();
        self.sync(rooms.into_iter().map(|r| (r, Vec::new())).collect())
            .await;
    }

    async fn sync(&self, rooms: Vec<RoomUsers>) {
        match self.presence.sync(&rooms).await {
            Ok(changes) => {
                for ((room, _), changes) in rooms.iter().zip(changes) {
                    for change in changes {
                        let frame = crate::domain::ServerFrame::Presence {
                            room,
                            user_id: change.user,
                            user: &change.name,
                            online: change.online,
                        };
                        self.announce.to_room(room, &frame, None);
                    }
                }
            }
            // The next turn states every followed room again; what expires
            // meanwhile is announced by whichever replica sees it go.
            Err(e) => tracing::warn!(error = %e, "presence sync failed"),
        }
    }
}

//! Who is in a room, counted over every replica and surviving a replica's death.
//!
//! One Redis hash per room (one key per script call, so it stays in one hash
//! slot): a field per present user, `{"n": name, "r": [replicas with a socket of
//! theirs here]}`, and a field `~replicas`, `{replica: alive until (ms)}`. A
//! replica sends only what changed — a user's first local socket came (`+`) or
//! last one went (`-`) — and, every `PRESENCE_TTL / 3`, a heartbeat per room it
//! follows: O(changes) and O(rooms) work, never O(users) or a round trip per
//! socket. A replica that stops renewing (it died) is taken out of every entry
//! by the next call that finds it expired, so its users stop counting within
//! `PRESENCE_TTL`; only then is a room's whole hash read. Each call returns the
//! users that came or went, and the one call that saw a change announces it.

use std::{collections::HashMap, sync::Arc, time::Duration};

use deadpool_redis::redis::{self, Script};
use platform::redis::slots;
use uuid::Uuid;

/// `ARGV`: replica, alive (ms), key lifetime (ms), then `op, user, name` per
/// change. Returns users present, whether this replica was known here ("1";
/// "0": the key is new or was lost), then `user, name, "1"|"0"` per change.
const UPDATE: &str = r"
local key = KEYS[1]
local replica = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local function went(user, name) table.insert(out, user); table.insert(out, name); table.insert(out, '0') end
local raw = redis.call('HGET', key, '~replicas')
local replicas = raw and cjson.decode(raw) or {}
local known = replicas[replica] ~= nil
local dead, any_dead = {}, false
for r, until_ms in pairs(replicas) do
  if r ~= replica and until_ms <= now then dead[r] = true; any_dead = true end
end
if any_dead then
  for r in pairs(dead) do replicas[r] = nil end
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if fields[i] ~= '~replicas' then
      local entry = cjson.decode(fields[i + 1])
      local left = {}
      for _, r in ipairs(entry.r) do if not dead[r] then table.insert(left, r) end end
      if #left > 0 then
        entry.r = left
        redis.call('HSET', key, fields[i], cjson.encode(entry))
      else
        redis.call('HDEL', key, fields[i])
        went(fields[i], entry.n)
      end
    end
  end
end
replicas[replica] = now + tonumber(ARGV[2])
redis.call('HSET', key, '~replicas', cjson.encode(replicas))
for i = 4, #ARGV, 3 do
  local op, user, name = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local raw_entry = redis.call('HGET', key, user)
  local entry = raw_entry and cjson.decode(raw_entry)
  if op == '+' then
    if entry then
      local has = false
      for _, r in ipairs(entry.r) do if r == replica then has = true end end
      if not has then table.insert(entry.r, replica) end
      entry.n = name
      redis.call('HSET', key, user, cjson.encode(entry))
    else
      redis.call('HSET', key, user, cjson.encode({n = name, r = {replica}}))
      table.insert(out, user); table.insert(out, name); table.insert(out, '1')
    end
  elseif entry then
    local left = {}
    for _, r in ipairs(entry.r) do if r ~= replica then table.insert(left, r) end end
    if #left > 0 then
      entry.r = left
      redis.call('HSET', key, user, cjson.encode(entry))
    else
      redis.call('HDEL', key, user)
      went(user, entry.n)
    end
  end
end
redis.call('PEXPIRE', key, tonumber(ARGV[3]))
table.insert(out, 1, known and '1' or '0')
table.insert(out, 1, tostring(redis.call('HLEN', key) - 1))
return out
";

/// The users some live replica has in the room: `[user, name, …]`.
const READ: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #fields, 2 do
  if fields[i] == '~replicas' then
    for r, until_ms in pairs(cjson.decode(fields[i + 1])) do live[r] = until_ms > now end
  end
end
local out = {}
for i = 1, #fields, 2 do
  if fields[i] ~= '~replicas' then
    local entry = cjson.decode(fields[i + 1])
    for _, r in ipairs(entry.r) do
      if live[r] then
        table.insert(out, fields[i])
        table.insert(out, entry.n)
        break
      end
    end
  end
end
return out
";

/// What this replica changed in one room: users whose first local socket
/// came (with their display name) and users whose last one went.
#[derive(Debug, Clone, Default)]
pub struct RoomUpdate {
    pub room: Arc<str>,
    pub came: Vec<(Uuid, Arc<str>)>,
    pub went: Vec<Uuid>,
}

/// What one update of a room found.
#[derive(Debug, Clone, Default)]
pub struct Updated {
    /// Users present in the room, over every replica.
    pub present: usize,
    /// False when the room's state held nothing of this replica (new, or lost
    /// with a Redis restart): the replica should state all its users again.
    pub known: bool,
    pub changes: Vec<Change>,
}

/// A user who came online (`true`) or went offline in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub user: Uuid,
    pub name: String,
    pub online: bool,
}

#[derive(Clone)]
pub struct Presence {
    redis: platform::redis::Shared,
    key_prefix: String,
    replica: String,
    ttl: Duration,
    update: Arc<Script>,
    read: Arc<Script>,
}

impl Presence {
    pub fn new(
        redis: platform::redis::Shared,
        key_prefix: &str,
        replica: Uuid,
        ttl: Duration,
    ) -> Self {
        Self {
            redis,
            key_prefix: format!("{key_prefix}chat:presence:"),
            replica: replica.simple().to_string(),
            ttl,
            update: Arc::new(Script::new(UPDATE)),
            read: Arc::new(Script::new(READ)),
        }
    }

    /// How often a replica renews its rooms: a third of the TTL, so one that
    /// stops counts as gone after two thirds and is announced within the TTL.
    pub fn period(&self) -> Duration {
        self.ttl / 3
    }

    fn key(&self, room: &str) -> String {
        format!("{}{room}", self.key_prefix)
    }

    /// Applies each room's changes (none: a heartbeat), pipelined.
    pub async fn update(&self, rooms: &[RoomUpdate]) -> anyhow::Result<Vec<Updated>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let alive_ms = self
            .ttl
            .saturating_sub(self.period())
            .as_millis()
            .to_string();
        let key_ms = (self.ttl * 2).as_millis().to_string();
        // One pipeline per slot on a cluster (a pipeline keeps to one), each
        // preceded by SCRIPT LOAD (cheap): a restarted Redis, or a node that
        // took over, has forgotten the script, and a pipelined EVALSHA does not
        // load it by itself.
        let cluster = self.redis.is_cluster();
        let mut groups: HashMap<u16, (redis::Pipeline, Vec<usize>)> = HashMap::new();
        for (at, update) in rooms.iter().enumerate() {
            let key = self.key(&update.room);
            let slot = if cluster { slots::slot(&key) } else { 0 };
            let (pipe, members) = groups.entry(slot).or_insert_with(|| {
                let mut pipe = redis::pipe();
                pipe.load_script(&self.update).ignore();
                (pipe, Vec::new())
            });
            members.push(at);
            let mut call = self.update.prepare_invoke();
            call.key(key).arg(&self.replica).arg(&alive_ms).arg(&key_ms);
            for (user, name) in &update.came {
                call.arg("+").arg(user.to_string()).arg(&**name);
            }
            for user in &update.went {
                call.arg("-").arg(user.to_string()).arg("");
            }
            pipe.invoke_script(&call);
        }
        let sent = futures_util::future::try_join_all(groups.into_values().map(|(pipe, at)| {
            let mut conn = self.redis.clone();
            async move {
                let replies: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
                redis::RedisResult::Ok(at.into_iter().zip(replies).collect::<Vec<_>>())
            }
        }))
        .await?;
        let mut results = vec![Updated::default(); rooms.len()];
        for (at, reply) in sent.into_iter().flatten() {
            results[at] = updated(&reply);
        }
        Ok(results)
    }

    /// The users present in a room, on any replica.
    pub async fn read(&self, room: &str) -> anyhow::Result<Vec<(Uuid, String)>> {
        let mut conn = self.redis.clone();
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

fn updated(flat: &[String]) -> Updated {
    let [present, known, rest @ ..] = flat else {
        return Updated::default();
    };
    Updated {
        present: present.parse().unwrap_or(0),
        known: known == "1",
        changes: rest
            .chunks_exact(3)
            .filter_map(|c| {
                Some(Change {
                    user: Uuid::parse_str(&c[0]).ok()?,
                    name: c[1].clone(),
                    online: c[2] == "1",
                })
            })
            .collect(),
    }
}

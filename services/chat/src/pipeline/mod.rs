//! The write path and the ordering work above `store` and `fanout`: storing a
//! sender's message, handing it to this replica's sockets and to Redis, and
//! reading from PostgreSQL whatever the fan-out missed.
//!
//! - [`writer`]: batches of messages stored on the writer's own connection,
//!   retried or split so each message succeeds or fails on its own, then
//!   released locally (the echo does not wait for Redis) and queued to publish.
//! - [`backfill`]: the reads the hub asks for — a room's baseline before it goes
//!   live, a gap's missing ids, and sweeps of every room's last id.
//! - [`memberships`]: who joined which room, and read markers, coalesced;
//!   [`receipts`] paces their announcements per room.

pub mod backfill;
pub mod memberships;
pub mod receipts;
pub mod writer;

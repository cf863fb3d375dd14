//! A socket's place in the hub, taken before the WebSocket upgrade so that a
//! user over the per-replica socket limit is refused with an HTTP 429 rather
//! than a socket that opens and closes. Dropped unused, it gives the place back.

use std::sync::Arc;

use auth::Claims;

use super::SocketContext;
use crate::fanout::{
    SocketId,
    hub::TooManySockets,
    member::{Inbox, Kill, Outbox, SocketEntry},
};

pub struct Admission {
    ctx: Arc<SocketContext>,
    id: SocketId,
    kill: Arc<Kill>,
    inbox: Option<Inbox>,
}

impl Admission {
    /// Call it on the actix worker the socket will run on (its relay is that
    /// thread's).
    pub fn take(ctx: &Arc<SocketContext>, claims: &Claims) -> Result<Self, TooManySockets> {
        let (outbox, inbox) = Outbox::new(
            ctx.tuning.outbox_capacity,
            ctx.tuning.outbox_bytes.saturating_mul(super::BURST_FACTOR),
        );
        let kill = Arc::new(Kill::new(&ctx.shutdown));
        let id = ctx.hub.register(SocketEntry {
            outbox,
            kill: Arc::clone(&kill),
            relay: Some(ctx.hub.local_relay()),
            user: claims.sub,
            name: Arc::from(claims.name.as_str()),
            sid: claims.sid,
            jti: claims.jti,
        })?;
        Ok(Self {
            ctx: Arc::clone(ctx),
            id,
            kill,
            inbox: Some(inbox),
        })
    }

    pub(super) fn into_parts(mut self) -> (Arc<SocketContext>, SocketId, Arc<Kill>, Inbox) {
        // Taking the inbox hands the place over: the socket's task unregisters
        // when it ends, and `drop` below no longer does.
        let inbox = self.inbox.take().unwrap_or_else(|| Outbox::new(1, 0).1);
        (
            Arc::clone(&self.ctx),
            self.id,
            Arc::clone(&self.kill),
            inbox,
        )
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.inbox.is_some() {
            self.ctx.hub.unregister(self.id);
        }
    }
}

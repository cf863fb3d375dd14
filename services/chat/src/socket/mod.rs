//! One task per WebSocket: a single `select!` loop over the client's frames, the
//! socket's bounded outbox of live messages, its pending store answers and
//! replays, a heartbeat, the token's expiry, the replica draining, and the kill
//! switch (slow consumer, revocation, shutdown).

mod admission;
mod event;
mod events;
mod handlers;
mod outbound;
mod rooms;

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_ws::{CloseReason, MessageStream};
use auth::{Claims, RevocationKeys};
use bytes::BytesMut;
use futures_util::{FutureExt, StreamExt, stream::FuturesUnordered};
use tokio_util::sync::CancellationToken;

pub use self::admission::Admission;
pub use self::outbound::Outbound;
use self::{
    event::{Event, ReplayRequest},
    rooms::{BufferLimits, Rooms},
};
use crate::{
    config::{Limits, Tuning},
    domain::{RoomName, SocketClose, rate::TokenBucket},
    fanout::{
        Delivery, Hub, KillReason, SocketId,
        announce::Announcer,
        member::{Inbox, Kill},
    },
    pipeline::{memberships::Memberships, writer::Writer},
    store::Store,
};

/// Most live frames sent in one turn of the loop, so that a long backlog does
/// not keep the loop's other arms (the client's frames, the kill switch)
/// waiting; the turn's frames leave in one write all the same.
const LIVE_RUN_MAX: usize = 32;

/// Bytes a socket's frames may take in its connection's send buffer before a
/// write waits (`outbound.rs`): a turn's run of [`LIVE_RUN_MAX`] frames of a
/// few hundred bytes each goes out in one write, and a stalled client holds at
/// most this much, and the one frame that crossed it (24 KiB at the longest
/// message), beyond actix-http's own buffer and the kernel's: where actix-ws's
/// channel of 32 frames could hold 32 of the longest.
pub const SEND_BUFFER_BYTES: usize = 64 << 10;

/// How long a close frame may wait for room in a stalled socket's send queue.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A socket's outbox (and a catch-up buffer) may take this many times
/// `CHAT_OUTBOX_BYTES` at once; past that it is too far behind at once. The
/// hub hands a socket whole releases before its task can run: one socket's
/// burst within CHAT_BURST of the largest messages is 40 × 24 KB (4 000
/// characters escaped as `\u0001`), and with the outbox refused at 1 MiB two
/// such bursts closed every reader of the room that kept up (6 runs of 6).
pub(crate) const BURST_FACTOR: usize = 8;

/// How long a socket's outbox may stay above `CHAT_OUTBOX_BYTES` before the
/// socket counts as too far behind: a reader that keeps up drains a burst in
/// milliseconds, one that cannot stays above.
const BEHIND_GRACE: Duration = Duration::from_secs(2);

/// What every socket task shares.
pub struct SocketContext {
    pub hub: Arc<Hub>,
    pub writer: Writer,
    pub memberships: Memberships,
    pub announce: Announcer,
    pub store: Store,
    pub redis: platform::redis::Shared,
    pub revocation_keys: RevocationKeys,
    pub limits: Limits,
    pub tuning: Tuning,
    /// Cancelled first on shutdown: stop reading frames, finish what is in flight.
    pub draining: CancellationToken,
    /// Cancelled last: every socket still open closes with 1001.
    pub shutdown: CancellationToken,
}

/// Why the loop ended, and so how the socket is closed.
enum Stop {
    Close(SocketClose, &'static str),
    /// The client sent a close frame: answer it.
    ClientClosed(Option<CloseReason>),
    /// The connection is gone, or stopped answering: nothing more to send.
    Gone,
}

type Pending = FuturesUnordered<Pin<Box<dyn Future<Output = Event>>>>;

struct Connection {
    ctx: Arc<SocketContext>,
    id: SocketId,
    claims: Claims,
    session: Outbound,
    kill: Arc<Kill>,
    url_room: RoomName,
    rooms: Rooms,
    /// `CHAT_RATE`/`CHAT_BURST`: message frames.
    messages: TokenBucket,
    /// Every other frame, the malformed included.
    control: TokenBucket,
    last_heard: Instant,
    /// A fragmented frame being reassembled: (is text, bytes so far).
    partial: Option<(bool, BytesMut)>,
    pending: Pending,
    /// Replays wait here so that a socket runs one at a time.
    replays: VecDeque<ReplayRequest>,
    replaying: bool,
    /// Messages this socket sent that the store has not answered yet.
    writes_in_flight: usize,
    /// Stored messages of this socket whose echo has not been sent yet.
    awaiting_echo: Vec<(Arc<str>, i64)>,
    /// The replica is shutting down: no more frames are read.
    draining: bool,
    /// When this socket last announced typing.
    last_typing: Option<Instant>,
    /// Since when its outbox has held more than `CHAT_OUTBOX_BYTES`.
    over_since: Option<Instant>,
}

/// Starts the socket's task on the current actix worker.
pub fn spawn(
    admission: Admission,
    claims: Claims,
    room: RoomName,
    since: Option<i64>,
    session: Outbound,
    stream: MessageStream,
) {
    let (ctx, id, kill, inbox) = admission.into_parts();
    let span = tracing::info_span!("socket", id, user = %claims.sub);
    let limits = ctx.limits;
    let connection = Connection {
        messages: TokenBucket::new(limits.rate_per_sec, limits.burst),
        control: TokenBucket::new(limits.control_rate_per_sec, limits.control_burst),
        rooms: Rooms::new(BufferLimits {
            items: ctx.tuning.outbox_capacity,
            bytes: ctx.tuning.outbox_bytes.saturating_mul(BURST_FACTOR),
        }),
        ctx,
        id,
        claims,
        session,
        kill,
        url_room: room,
        last_heard: Instant::now(),
        partial: None,
        pending: FuturesUnordered::new(),
        replays: VecDeque::new(),
        replaying: false,
        writes_in_flight: 0,
        awaiting_echo: Vec::new(),
        draining: false,
        last_typing: None,
        over_since: None,
    };
    actix_web::rt::spawn(tracing::Instrument::instrument(
        connection.run(stream, inbox, since),
        span,
    ));
}

impl Connection {
    async fn run(mut self, mut stream: MessageStream, mut inbox: Inbox, since: Option<i64>) {
        tracing::debug!("socket open");
        let expiry = tokio::time::sleep(until_expiry(&self.claims));
        tokio::pin!(expiry);
        let beat = self.ctx.tuning.heartbeat_interval;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let kill = Arc::clone(&self.kill);
        let ctx = Arc::clone(&self.ctx);
        // One waiter on each switch for the socket's whole life, rather than
        // one registered and removed (two lock round trips) at every turn.
        let killed = kill.token().cancelled();
        tokio::pin!(killed);
        let draining = ctx.draining.cancelled();
        tokio::pin!(draining);
        self.check_revoked();
        if let Err(stop) = self.start_join(self.url_room.clone(), since).await {
            self.ctx.hub.unregister(self.id);
            Box::pin(self.finish(stop)).await;
            return;
        }

        let stop = loop {
            let reading = !self.draining && !self.rooms.joining();
            let step = tokio::select! {
                () = &mut killed => Err(self.killed()),
                () = &mut expiry => Err(Stop::Close(SocketClose::TokenExpired, "token expired")),
                () = &mut draining, if !self.draining => {
                    self.draining = true;
                    Ok(())
                }
                // Handlers are boxed: the loop's future lives as long as the socket,
                // and with them inline it would be as large as the largest of them
                // on every idle socket (3.1 KiB instead of 1.7). A box per wake-up
                // costs far less than the frames' own syscalls.
                frame = stream.recv(), if reading => Box::pin(self.on_inbound(frame)).await,
                Some(delivery) = inbox.recv() => Box::pin(self.on_live_run(&delivery, &mut inbox)).await,
                Some(event) = self.pending.next(), if !self.pending.is_empty() => {
                    Box::pin(self.on_event(event)).await
                }
                _ = heartbeat.tick() => Box::pin(self.on_heartbeat()).await,
            };
            if let Err(stop) = step {
                break stop;
            }
            if self.draining && self.writes_in_flight == 0 && self.awaiting_echo.is_empty() {
                break Stop::Close(SocketClose::ServerShutdown, "server shutting down");
            }
        };
        self.ctx.hub.unregister(self.id);
        Box::pin(self.finish(stop)).await;
    }

    /// Sends `first` and whatever else is already queued (up to [`LIVE_RUN_MAX`])
    /// before going back to the loop: the frames wait together in the send
    /// buffer (`outbound.rs`), so actix-http writes them with one syscall
    /// instead of one each.
    async fn on_live_run(&mut self, first: &Arc<Delivery>, inbox: &mut Inbox) -> Result<(), Stop> {
        self.on_live(first).await?;
        for _ in 1..LIVE_RUN_MAX {
            let Some(delivery) = inbox.try_recv() else {
                break;
            };
            self.on_live(&delivery).await?;
        }
        self.check_behind(inbox.bytes())
    }

    /// Closes the socket whose outbox stayed above `CHAT_OUTBOX_BYTES` for
    /// [`BEHIND_GRACE`]: it is not keeping up.
    fn check_behind(&mut self, queued: usize) -> Result<(), Stop> {
        if queued <= self.ctx.tuning.outbox_bytes {
            self.over_since = None;
            return Ok(());
        }
        let since = *self.over_since.get_or_insert_with(Instant::now);
        if since.elapsed() < BEHIND_GRACE {
            return Ok(());
        }
        if self.kill.kill(KillReason::SlowConsumer) {
            self.ctx.hub.count_slow_consumer();
        }
        Err(self.killed())
    }

    /// The close a kill asks for; no reason means the server is shutting down.
    fn killed(&self) -> Stop {
        match self.kill.reason() {
            Some(KillReason::SlowConsumer) => Stop::Close(
                SocketClose::TooFarBehind,
                "too far behind; rejoin with since",
            ),
            Some(KillReason::Revoked) => Stop::Close(SocketClose::TokenRevoked, "token revoked"),
            None => Stop::Close(SocketClose::ServerShutdown, "server shutting down"),
        }
    }

    /// Every write races the kill switch and the silence deadline (see [`guarded`]).
    async fn send(&mut self, frame: &str) -> Result<(), Stop> {
        let deadline = self.silence_deadline();
        let sent = guarded(&self.kill, deadline, self.session.text(frame)).await;
        sent.map_err(|i| self.interrupted(i))
    }

    async fn pong(&mut self, payload: &[u8]) -> Result<(), Stop> {
        let deadline = self.silence_deadline();
        let sent = guarded(&self.kill, deadline, self.session.pong(payload)).await;
        sent.map_err(|i| self.interrupted(i))
    }

    async fn on_heartbeat(&mut self) -> Result<(), Stop> {
        if self.last_heard.elapsed() >= self.ctx.tuning.client_timeout {
            tracing::debug!("dropping a socket that stopped answering pings");
            return Err(Stop::Gone);
        }
        let deadline = self.silence_deadline();
        let sent = guarded(&self.kill, deadline, self.session.ping(b"")).await;
        sent.map_err(|i| self.interrupted(i))
    }

    fn silence_deadline(&self) -> Instant {
        self.last_heard + self.ctx.tuning.client_timeout
    }

    fn interrupted(&self, why: Interrupted) -> Stop {
        match why {
            Interrupted::Killed => self.killed(),
            Interrupted::Silent | Interrupted::Closed => Stop::Gone,
        }
    }

    async fn finish(mut self, stop: Stop) {
        let reason = match stop {
            Stop::Close(code, description) => {
                tracing::debug!(?code, description, "closing socket");
                Some(CloseReason {
                    code: code.into(),
                    description: Some(description.to_owned()),
                })
            }
            Stop::ClientClosed(reason) => reason,
            Stop::Gone => {
                tracing::debug!("socket gone");
                return;
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.session.close(reason)).await;
    }
}

enum Interrupted {
    Killed,
    Silent,
    Closed,
}

/// A write to the session, cut short by a kill, or by the client staying silent
/// past the timeout (a client that stops reading fills the queue and the write
/// would otherwise wait forever).
async fn guarded(
    kill: &Kill,
    deadline: Instant,
    write: impl Future<Output = Result<(), outbound::Closed>>,
) -> Result<(), Interrupted> {
    if kill.is_killed() {
        return Err(Interrupted::Killed);
    }
    let mut write = std::pin::pin!(write);
    // Almost every write finds room in the send buffer and is done at once;
    // only one that would wait needs the timer (a timer-wheel insert and removal
    // per frame otherwise) and a waiter on the kill switch.
    if let Some(sent) = (&mut write).now_or_never() {
        return sent.map_err(|_| Interrupted::Closed);
    }
    tokio::select! {
        biased;
        () = kill.token().cancelled() => Err(Interrupted::Killed),
        () = tokio::time::sleep_until(deadline.into()) => Err(Interrupted::Silent),
        sent = write => sent.map_err(|_| Interrupted::Closed),
    }
}

fn until_expiry(claims: &Claims) -> Duration {
    Duration::from_secs(claims.remaining_secs(chrono::Utc::now().timestamp()))
}

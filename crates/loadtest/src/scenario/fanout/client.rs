//! Each socket's two tasks. The writer sends what the senders and the socket's
//! own reader queue. The reader classifies every frame by its type before
//! looking at anything else (a `read` frame has an `id` too, which must never
//! pass for a message's), times and counts our messages, checks that the room's
//! ids arrive in order with none skipped, counts `read` and `typing` frames, and
//! during a mixed step marks what it received read ([`ReadMarker`]).

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use tokio::{sync::mpsc, time::Instant};
use tokio_tungstenite::tungstenite::Message;

use super::{
    MARKER, State, StepState,
    chatter::{READ_EVERY, ReadMarker},
    parse_body,
};
use crate::ws::{self, Socket};

/// What a socket's reader needs to answer: its number, room and writer.
pub struct Member {
    pub k: usize,
    pub room: Arc<str>,
    pub writer: mpsc::Sender<Message>,
}

pub async fn write_all(mut sink: SplitSink<Socket, Message>, mut rx: mpsc::Receiver<Message>) {
    while let Some(message) = rx.recv().await {
        if sink.feed(message).await.is_err() {
            return;
        }
        while let Ok(message) = rx.try_recv() {
            if sink.feed(message).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

/// The last message id a socket saw in its room, and what broke the order.
#[derive(Debug, Default)]
struct Order {
    last: Option<i64>,
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Next,
    /// An id at or below the last one: a repeat or a step back.
    Repeat,
    /// Ids were skipped.
    Gap,
}

impl Order {
    fn see(&mut self, id: i64) -> Seen {
        let seen = match self.last {
            Some(last) if id <= last => return Seen::Repeat,
            Some(last) if id > last + 1 => Seen::Gap,
            _ => Seen::Next,
        };
        self.last = Some(id);
        seen
    }
}

pub async fn read_all(member: Member, mut stream: SplitStream<Socket>, state: Arc<State>) {
    let k = member.k;
    let mut order = Order::default();
    let mut marker = ReadMarker::new(READ_EVERY);
    // One timer, moved only when the waiting marker's time changes: a new
    // timer per frame would cost the reader more than the frame does.
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        let due = marker.due();
        if due != armed {
            if let Some(at) = due {
                timer.as_mut().reset(at);
            }
            armed = due;
        }
        let frame = tokio::select! {
            frame = stream.next() => frame,
            () = &mut timer, if armed.is_some() => {
                armed = None;
                if state.chatter.load(Ordering::Relaxed) {
                    if let Some(id) = marker.poll(Instant::now()) {
                        send_read(&member, &state, id);
                    }
                } else {
                    marker.pause();
                }
                continue;
            }
        };
        let Some(frame) = frame else { break };
        match frame {
            Ok(Message::Text(text)) => {
                let now = Instant::now();
                match ws::frame_type(&text) {
                    Some("message") => {
                        let Some(id) = on_message(k, &text, now, &state, &mut order) else {
                            continue;
                        };
                        if state.chatter.load(Ordering::Relaxed) {
                            if let Some(id) = marker.received(id, now) {
                                send_read(&member, &state, id);
                            }
                        } else {
                            marker.pause();
                        }
                    }
                    Some("read") => {
                        current(&state)
                            .reads_received
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Some("typing") => {
                        current(&state)
                            .typing_received
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Some("error") => {
                        let code = ws::error_code(&text).unwrap_or("unknown");
                        current(&state)
                            .stats
                            .with(k, |s| s.add(&format!("error_{code}"), 1));
                    }
                    // Presence while the sockets join, and whatever else a
                    // server may add: counted once for the whole run.
                    other => {
                        let kind = other.unwrap_or("untyped");
                        state.misc.with(k, |s| s.add(&format!("frame_{kind}"), 1));
                        state.other_frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(Message::Close(frame)) => {
                let code =
                    frame.map_or_else(|| "none".to_owned(), |f| u16::from(f.code).to_string());
                state.misc.with(k, |s| s.add(&format!("closed_{code}"), 1));
                break;
            }
            Ok(_) => {}
            Err(_) => {
                state.misc.with(k, |s| s.add("socket_error", 1));
                break;
            }
        }
    }
    state.closed.fetch_add(1, Ordering::Relaxed);
}

fn current(state: &State) -> &StepState {
    let n = state.current.load(Ordering::Relaxed);
    &state.steps[n.min(state.steps.len().saturating_sub(1))]
}

/// Times and counts one of our messages; checks its id against the last one.
/// Returns the id.
fn on_message(k: usize, text: &str, now: Instant, state: &State, order: &mut Order) -> Option<i64> {
    let (step, micros) = ws::body_with_marker(text, MARKER).and_then(parse_body)?;
    let id = ws::message_id(text)?;
    let step_state = state.steps.get(step)?;
    let latency = (now - state.epoch).saturating_sub(Duration::from_micros(micros));
    let seen = order.see(id);
    step_state.stats.with(k, |s| {
        s.record("delivery", latency);
        match seen {
            Seen::Next => {}
            Seen::Repeat => s.add("id_repeats", 1),
            Seen::Gap => s.add("id_gaps", 1),
        }
    });
    step_state.received.fetch_add(1, Ordering::Relaxed);
    Some(id)
}

fn send_read(member: &Member, state: &State, id: i64) {
    let frame = format!(r#"{{"type":"read","room":"{}","id":{id}}}"#, member.room);
    if member.writer.try_send(Message::text(frame)).is_ok() {
        current(state).reads_sent.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_order_pass_and_repeats_and_gaps_are_told_apart() {
        let mut o = Order::default();
        assert_eq!(
            o.see(5),
            Seen::Next,
            "the first id is where a socket starts"
        );
        assert_eq!(o.see(6), Seen::Next);
        assert_eq!(o.see(6), Seen::Repeat);
        assert_eq!(o.see(3), Seen::Repeat);
        assert_eq!(o.see(9), Seen::Gap);
        assert_eq!(o.see(10), Seen::Next, "a gap moves the last id on");
    }
}

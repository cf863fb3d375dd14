//! What a socket sends: frames encoded straight into a buffer that the
//! connection's response body hands to actix-http, bounded in bytes.
//!
//! actix-ws's `Session` queues each frame as a message in a channel of 32 and
//! encodes it when the body is polled: per frame a permit taken and given back
//! (a lock in tokio's semaphore), a queue entry, a wake of the body and a move
//! of the message. A `perf` of a replica at 30,000 deliveries/s put that path at
//! about 6 % of its samples, and more with read receipts and typing mixed in,
//! where each message comes with two more frames. Here a frame costs a copy
//! into the buffer; the socket's task and the connection's run on the same
//! actix worker, so the buffer is shared without atomics.
//!
//! The bound is in bytes: a socket that stops reading fills actix-http's write
//! buffer, the body stops being polled, and past [`Outbound::new`]'s limit a
//! write waits, as it waited for a place in actix-ws's channel (which bounded
//! messages, not bytes: 32 frames of up to 24 KiB each).

use std::{
    cell::RefCell,
    future::poll_fn,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll, Waker},
};

use actix_http::ws::{CloseReason, OpCode, Parser};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::{Bytes, BytesMut};

/// A control frame's payload is at most 125 bytes (RFC 6455, 5.5); a close
/// frame's reason comes after its 2-byte code.
const MAX_CONTROL_PAYLOAD: usize = 125;
const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

fn control(payload: &[u8]) -> &[u8] {
    &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)]
}

/// The connection is gone, or a close frame has been sent.
#[derive(Debug)]
pub struct Closed;

#[derive(Default)]
struct Shared {
    buf: BytesMut,
    /// The body's task, waiting for bytes.
    reader: Option<Waker>,
    /// The socket's task, waiting for room.
    writer: Option<Waker>,
    /// A close frame was written, or the socket's task ended: the body ends
    /// once the buffer is out.
    closing: bool,
    /// The body was dropped: the connection is gone.
    gone: bool,
}

impl Shared {
    fn wake_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.wake();
        }
    }

    /// Nothing more will be written: the body ends once the buffer is out.
    fn end(&mut self) {
        self.closing = true;
        self.wake_reader();
    }
}

/// The socket task's end.
pub struct Outbound {
    shared: Rc<RefCell<Shared>>,
    limit: usize,
}

/// The response body's end. It keeps actix-ws's own body alive, unpolled:
/// dropping that is what tells actix-ws's `MessageStream` (the client's
/// frames) that the connection is gone.
pub struct Body {
    shared: Rc<RefCell<Shared>>,
    _replaced: BoxBody,
}

impl Outbound {
    /// A writer that waits once `limit` bytes are buffered, and the body that
    /// replaces `replaced`, actix-ws's.
    pub fn new(limit: usize, replaced: BoxBody) -> (Self, Body) {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let body = Body {
            shared: Rc::clone(&shared),
            _replaced: replaced,
        };
        (Self { shared, limit }, body)
    }

    pub async fn text(&mut self, frame: &str) -> Result<(), Closed> {
        self.frame(OpCode::Text, frame.as_bytes()).await
    }

    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Closed> {
        self.frame(OpCode::Ping, control(payload)).await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Closed> {
        self.frame(OpCode::Pong, control(payload)).await
    }

    /// Sends a close frame; nothing can be sent after it.
    pub async fn close(&mut self, reason: Option<CloseReason>) -> Result<(), Closed> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        let reason = reason.map(|mut reason| {
            if let Some(text) = reason.description.as_mut() {
                let mut end = text.len().min(MAX_CLOSE_REASON);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            reason
        });
        let mut shared = self.shared.borrow_mut();
        Parser::write_close(&mut shared.buf, reason, false);
        shared.end();
        Ok(())
    }

    async fn frame(&mut self, op: OpCode, payload: &[u8]) -> Result<(), Closed> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        let mut shared = self.shared.borrow_mut();
        Parser::write_message(&mut shared.buf, payload, op, true, false);
        shared.wake_reader();
        Ok(())
    }

    fn poll_room(&self, cx: &Context<'_>) -> Poll<Result<(), Closed>> {
        let mut shared = self.shared.borrow_mut();
        if shared.gone || shared.closing {
            return Poll::Ready(Err(Closed));
        }
        if shared.buf.len() < self.limit {
            return Poll::Ready(Ok(()));
        }
        shared.writer = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Outbound {
    /// The socket's task is done: the body ends after what is buffered, which
    /// ends the connection.
    fn drop(&mut self) {
        self.shared.borrow_mut().end();
    }
}

impl MessageBody for Body {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let mut shared = self.shared.borrow_mut();
        if !shared.buf.is_empty() {
            // Taken whole, not split off: a split buffer keeps its allocation
            // for the next frames, and an idle socket held 1.3 KiB more for it
            // (chat-idle: 23.2 KiB per socket, 22.0 taken, 21.9 through
            // actix-ws, which takes it too).
            let bytes = std::mem::take(&mut shared.buf).freeze();
            shared.wake_writer();
            return Poll::Ready(Some(Ok(bytes)));
        }
        if shared.closing {
            return Poll::Ready(None);
        }
        shared.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Body {
    /// The connection is gone: a waiting write fails.
    fn drop(&mut self) {
        let mut shared = self.shared.borrow_mut();
        shared.gone = true;
        shared.wake_writer();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn next(body: &mut Body) -> Poll<Option<Bytes>> {
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(body)
            .poll_next(&mut cx)
            .map(|b| b.map(|r| r.unwrap()))
    }

    fn ready<T>(future: impl Future<Output = T>) -> Option<T> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        }
    }

    #[test]
    fn frames_go_out_together_as_unmasked_websocket_frames() {
        let (mut out, mut body) = Outbound::new(1024, BoxBody::new(()));
        assert!(next(&mut body).is_pending());
        ready(out.text("hi")).unwrap().unwrap();
        ready(out.pong(b"p")).unwrap().unwrap();
        ready(out.ping(&[7; 200])).unwrap().unwrap();
        let Poll::Ready(Some(bytes)) = next(&mut body) else {
            panic!("the frames are out")
        };
        assert_eq!(&bytes[..7], b"\x81\x02hi\x8a\x01p");
        assert_eq!(&bytes[7..9], b"\x89\x7d", "a ping cut to 125 bytes");
        assert_eq!(bytes.len(), 9 + 125);
        assert!(next(&mut body).is_pending());
    }

    #[test]
    fn a_full_buffer_makes_the_writer_wait_until_the_body_takes_it() {
        let (mut out, mut body) = Outbound::new(8, BoxBody::new(()));
        ready(out.text("0123456789")).unwrap().unwrap();
        assert!(ready(out.text("more")).is_none(), "over the limit: waits");
        assert!(matches!(next(&mut body), Poll::Ready(Some(_))));
        ready(out.text("more")).unwrap().unwrap();
    }

    #[test]
    fn the_body_ends_after_a_close_frame_and_writes_after_it_fail() {
        let (mut out, mut body) = Outbound::new(1024, BoxBody::new(()));
        let reason = CloseReason {
            code: actix_http::ws::CloseCode::Away,
            description: Some("é".repeat(100)),
        };
        ready(out.close(Some(reason))).unwrap().unwrap();
        assert!(ready(out.text("late")).unwrap().is_err());
        let Poll::Ready(Some(bytes)) = next(&mut body) else {
            panic!("the close frame is out")
        };
        assert_eq!(bytes[0], 0x88);
        assert!(usize::from(bytes[1]) <= 125, "a control frame's length");
        assert_eq!(&bytes[2..4], &1001u16.to_be_bytes());
        assert!(matches!(next(&mut body), Poll::Ready(None)));
    }

    #[test]
    fn a_gone_connection_fails_writes_and_a_finished_task_ends_the_body() {
        let (mut out, body) = Outbound::new(1024, BoxBody::new(()));
        drop(body);
        assert!(ready(out.text("x")).unwrap().is_err());

        let (mut out, mut body) = Outbound::new(1024, BoxBody::new(()));
        ready(out.text("last")).unwrap().unwrap();
        drop(out);
        assert!(matches!(next(&mut body), Poll::Ready(Some(_))));
        assert!(matches!(next(&mut body), Poll::Ready(None)));
    }
}

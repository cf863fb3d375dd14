//! Socket options for the services' accepted connections.

use std::any::Any;

use actix_web::dev::Extensions;

/// For `HttpServer::on_connect`: turns Nagle's algorithm off on every accepted
/// TCP connection. actix-web 4.18 leaves it on, so a small frame written while an
/// earlier one is unacknowledged waits for the client's delayed ACK: a chat
/// message to a socket whose last server frame was a pong arrived after ~40 ms on
/// the other replica instead of ~3 ms (measured with two replicas on loopback).
pub fn no_delay(connection: &dyn Any, _: &mut Extensions) {
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Err(e) = tcp.set_nodelay(true)
    {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
    }
}

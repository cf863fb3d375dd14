//! `GET /v1/limits`: the limits a chat client needs, from the running
//! configuration rather than constants copied into the client.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use super::{
    AppState,
    history::{DEFAULT_LIMIT, MAX_LIMIT, MIN_LIMIT},
};
use crate::domain::rules::{MAX_CLIENT_ID_CHARS, TYPING_EVERY};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Longest message, in Unicode scalar values (`MAX_MESSAGE_CHARS`).
    max_message_chars: usize,
    /// Largest incoming frame; a larger one closes the socket with 1009 (`MAX_FRAME_BYTES`).
    max_frame_bytes: usize,
    /// Messages per second a socket may send (`CHAT_RATE`) ...
    chat_rate: u32,
    /// ... and the burst above it (`CHAT_BURST`), before `rate_limited`.
    chat_burst: u32,
    /// Longest `client_id`, in characters.
    max_client_id_chars: usize,
    /// Typing notices closer together than this, per socket, are ignored.
    typing_interval_ms: u64,
    /// Rooms one socket may have joined at once (`CHAT_MAX_ROOMS_PER_SOCKET`).
    max_rooms_per_socket: usize,
    /// Sockets one user may hold on one server (`CHAT_MAX_SOCKETS_PER_USER`).
    max_sockets_per_user: usize,
    /// Rooms one user may be a member of (`CHAT_MAX_MEMBERSHIPS`): a join past
    /// it still delivers, but the room is not added to `GET /v1/rooms`.
    max_memberships: usize,
    /// `limit` of `GET /v1/rooms/{room}/messages`.
    history_limit: HistoryLimit,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryLimit {
    min: i64,
    max: i64,
    default: i64,
}

/// The limits a client needs, as configured.
#[utoipa::path(
    tag = "limits",
    responses((status = 200, description = "The service's limits", body = Limits))
)]
#[get("/limits")]
pub async fn limits(state: web::Data<AppState>) -> HttpResponse {
    let limits = &state.sockets.limits;
    HttpResponse::Ok().json(Limits {
        max_message_chars: limits.max_message_chars,
        max_frame_bytes: limits.max_frame_bytes,
        chat_rate: limits.rate_per_sec,
        chat_burst: limits.burst,
        max_client_id_chars: MAX_CLIENT_ID_CHARS,
        typing_interval_ms: u64::try_from(TYPING_EVERY.as_millis()).unwrap_or(u64::MAX),
        max_rooms_per_socket: limits.max_rooms_per_socket,
        max_sockets_per_user: limits.max_sockets_per_user,
        max_memberships: limits.max_memberships,
        history_limit: HistoryLimit {
            min: MIN_LIMIT,
            max: MAX_LIMIT,
            default: DEFAULT_LIMIT,
        },
    })
}

//! `GET /v1/rooms`: the caller's rooms with unread counts; `GET
//! /v1/rooms/{room}/presence`: who is in a room now, on any replica.

use actix_web::{HttpResponse, get, web};
use auth::Authenticated;
use serde::Serialize;

use super::{
    AppState,
    errors::{PresenceErrors, RoomsErrors},
};
use crate::{
    domain::{RoomName, frames::StoredFrame},
    error::ApiError,
};

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoomsBody<'a> {
    /// The room with the newest message first.
    rooms: Vec<RoomView<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoomView<'a> {
    #[schema(value_type = RoomName)]
    room: &'a str,
    /// The room's newest message id (0 for an empty room).
    last_id: i64,
    /// The user's read marker.
    read_id: i64,
    /// Stored messages after `read_id` that others sent (exact up to 999, then 999).
    #[schema(minimum = 0, maximum = 999)]
    unread: i64,
    #[schema(required = true)]
    last_message: Option<StoredFrame<'a>>,
}

/// The caller's rooms (memberships), with read markers and unread counts.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's rooms", body = RoomsBody), RoomsErrors)
)]
#[get("/rooms")]
#[tracing::instrument(skip(state, caller), fields(user = %caller.0.sub))]
pub async fn list(
    caller: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rooms = state.store.rooms_of(caller.0.sub).await?;
    Ok(HttpResponse::Ok().json(RoomsBody {
        rooms: rooms
            .iter()
            .map(|r| RoomView {
                room: &r.room,
                last_id: r.last_id,
                read_id: r.read_id,
                unread: r.unread,
                last_message: r.last_message.as_ref().map(StoredFrame::of),
            })
            .collect(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PresenceBody {
    users: Vec<PresentUser>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PresentUser {
    user_id: uuid::Uuid,
    /// Display name.
    user: String,
}

/// Users with at least one socket joined to the room, on any replica.
#[utoipa::path(
    tag = "rooms",
    params(("room" = inline(RoomName), Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "Who is present", body = PresenceBody), PresenceErrors)
)]
#[get("/rooms/{room}/presence")]
#[tracing::instrument(skip(state, caller), fields(user = %caller.0.sub))]
pub async fn presence(
    caller: Authenticated,
    room: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let room = RoomName::parse(&room)?;
    if !room.admits(caller.0.sub) {
        return Err(ApiError::Forbidden);
    }
    let mut users = state
        .presence
        .read(room.as_str())
        .await
        .map_err(ApiError::Redis)?;
    users.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(HttpResponse::Ok().json(PresenceBody {
        users: users
            .into_iter()
            .map(|(user_id, user)| PresentUser { user_id, user })
            .collect(),
    }))
}

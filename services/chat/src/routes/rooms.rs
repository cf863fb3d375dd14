//! `GET /v1/rooms`: the caller's rooms with unread counts; `GET
//! /v1/rooms/{room}/presence`: who is in a room now, on any replica.

use actix_web::{HttpResponse, web};
use auth::Authenticated;
use serde::Serialize;

use super::AppState;
use crate::{
    domain::{RoomName, ServerFrame},
    error::ApiError,
};

#[derive(Serialize)]
struct RoomsBody<'a> {
    rooms: Vec<RoomView<'a>>,
}

#[derive(Serialize)]
struct RoomView<'a> {
    room: &'a str,
    last_id: i64,
    read_id: i64,
    unread: i64,
    last_message: Option<ServerFrame<'a>>,
}

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
                last_message: r.last_message.as_ref().map(ServerFrame::message),
            })
            .collect(),
    }))
}

#[derive(Serialize)]
struct PresenceBody {
    users: Vec<PresentUser>,
}

#[derive(Serialize)]
struct PresentUser {
    user_id: uuid::Uuid,
    user: String,
}

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

//! `GET /v1/rooms/{room}/messages?before&after&limit`: a page of stored messages, oldest first.

use actix_web::{HttpResponse, get, web};
use auth::Authenticated;
use serde::{Deserialize, Serialize};

use super::{AppState, errors::HistoryErrors};
use crate::{
    domain::{RoomName, frames::StoredFrame},
    error::ApiError,
    store::Page,
};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MIN_LIMIT: i64 = 1;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page back: messages with a smaller id.
    before: Option<i64>,
    /// Catch up: messages with a greater id.
    after: Option<i64>,
    /// Messages in the page (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HistoryBody<'a> {
    /// Oldest first.
    messages: Vec<StoredFrame<'a>>,
}

/// A page of a room's stored messages, oldest first: with neither `before` nor
/// `after`, the newest `limit`.
#[utoipa::path(
    tag = "rooms",
    params(("room" = inline(RoomName), Path), HistoryQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The page", body = HistoryBody), HistoryErrors)
)]
#[get("/rooms/{room}/messages")]
#[tracing::instrument(skip(state, caller, query), fields(user = %caller.0.sub))]
pub async fn messages(
    caller: Authenticated,
    room: web::Path<String>,
    query: web::Query<HistoryQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let room = RoomName::parse(&room)?;
    if !room.admits(caller.0.sub) {
        return Err(ApiError::Forbidden);
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(MIN_LIMIT..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be between {MIN_LIMIT} and {MAX_LIMIT}"
        )));
    }
    let page = Page {
        before: query.before,
        after: query.after,
        limit,
    };
    let stored = state.store.page(room.as_str(), page).await?;
    Ok(HttpResponse::Ok().json(HistoryBody {
        messages: stored.iter().map(StoredFrame::of).collect(),
    }))
}

//! `GET /v1/rooms/{room}/messages?before&after&limit`: a page of stored messages, oldest first.

use actix_web::{HttpResponse, web};
use auth::Authenticated;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::{
    domain::{RoomName, ServerFrame},
    error::ApiError,
    store::Page,
};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct HistoryBody<'a> {
    messages: Vec<ServerFrame<'a>>,
}

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
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let page = Page {
        before: query.before,
        after: query.after,
        limit,
    };
    let stored = state.store.page(room.as_str(), page).await?;
    Ok(HttpResponse::Ok().json(HistoryBody {
        messages: stored.iter().map(ServerFrame::message).collect(),
    }))
}

//! The WebSocket handshake. Everything is checked before the upgrade, so a
//! refused client gets an HTTP error with the contract's JSON body, never a
//! socket that opens and then closes.

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};
use auth::{AuthError, bearer_token};
use serde::Deserialize;

use super::{
    AppState,
    errors::{LobbySocketErrors, RoomSocketErrors},
};
use crate::{domain::RoomName, error::ApiError, socket};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    /// Browsers cannot set headers on a WebSocket, so the token may come here
    /// (described as the `token` security scheme).
    #[param(ignore)]
    token: Option<String>,
    /// Replay the URL room's stored messages after this id (reconnecting clients).
    #[param(minimum = 0)]
    since: Option<i64>,
}

/// Opens a socket in `lobby`. The first frame it receives is `joined`; the
/// frames are described in `chat.frames.schema.json`. Also served without the
/// trailing slash.
#[utoipa::path(
    tag = "sockets",
    params(WsQuery),
    security(("token" = []), ("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (with `Upgrade: websocket`)"),
        LobbySocketErrors,
    )
)]
#[get("/ws/chat/")]
pub async fn lobby_socket(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    lobby(req, body, query, state).await
}

/// Opens a socket in `{room}`, as `/ws/chat/` does in `lobby`. A direct room
/// admits only its two users.
#[utoipa::path(
    tag = "sockets",
    params(("room" = inline(RoomName), Path), WsQuery),
    security(("token" = []), ("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (with `Upgrade: websocket`)"),
        RoomSocketErrors,
    )
)]
#[get("/ws/chat/{room}/")]
pub async fn room_socket(
    req: HttpRequest,
    body: web::Payload,
    room: web::Path<String>,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    self::room(req, body, room, query, state).await
}

/// `/ws/chat`: the lobby without the trailing slash.
pub async fn lobby(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    connect(&req, body, &query, &state, None).await
}

/// `/ws/chat/{room}`: a room without the trailing slash.
pub async fn room(
    req: HttpRequest,
    body: web::Payload,
    room: web::Path<String>,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    connect(&req, body, &query, &state, Some(&room)).await
}

fn origin_allowed(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    if state.origins.allows(origin) {
        Ok(())
    } else {
        Err(ApiError::OriginNotAllowed(
            origin.unwrap_or_default().to_owned(),
        ))
    }
}

async fn connect(
    req: &HttpRequest,
    body: web::Payload,
    query: &WsQuery,
    state: &AppState,
    room: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    // Origin, then the token, then the room: nothing about rooms is revealed to
    // a caller who may not connect at all.
    origin_allowed(req, state)?;
    let token = query
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .or_else(|| bearer_token(req))
        .ok_or(AuthError::Missing)?;
    let claims = state.auth.authenticate(token).await?;
    let room = room.map_or_else(|| Ok(RoomName::lobby()), RoomName::parse)?;
    if !room.admits(claims.sub) {
        return Err(ApiError::Forbidden);
    }
    if query.since.is_some_and(|s| s < 0) {
        return Err(ApiError::InvalidRequest(
            "since must not be negative".into(),
        ));
    }
    let admission = socket::Admission::take(&state.sockets, &claims)
        .map_err(|_| ApiError::TooManySockets(state.sockets.limits.max_sockets_per_user))?;
    // actix-ws answers the handshake and decodes the client's frames; what
    // the socket sends goes through its own body (`socket/outbound.rs`).
    let (response, _session, stream) = actix_ws::handle(req, body)
        .map_err(|e| ApiError::InvalidRequest(format!("expected a WebSocket upgrade: {e}")))?;
    let (response, replaced) = response.into_parts();
    let (session, body) = socket::Outbound::new(socket::SEND_BUFFER_BYTES, replaced);
    let response = response.set_body(body).map_into_boxed_body();
    let stream = stream.max_frame_size(state.sockets.limits.max_frame_bytes);
    tracing::debug!(
        user = %claims.sub,
        room = %room,
        client_ip = ?state.proxies.client_ip(req),
        "socket accepted"
    );
    socket::spawn(admission, claims, room, query.since, session, stream);
    Ok(response)
}

//! The errors each route answers with, as the API description lists them:
//! built from the very errors the handlers return.

use auth::AuthError;
use platform::http_error::{InvalidRequest, NoSuchRoute};

use crate::{domain::room::InvalidRoom, error::ApiError, store::StoreError};

fn invalid_room() -> ApiError {
    ApiError::InvalidRoom(InvalidRoom("Lobby".into()))
}

fn history_down() -> ApiError {
    ApiError::Unavailable(StoreError::Connection("down".into()))
}

platform::error_responses!(pub RoomsErrors = [
    AuthError::Missing,
    AuthError::Revoked,
    AuthError::Unavailable,
    history_down(),
]);

platform::error_responses!(pub HistoryErrors = [
    InvalidRequest("the query string does not parse".into()),
    ApiError::InvalidRequest("limit must be between 1 and 100".into()),
    invalid_room(),
    AuthError::Missing,
    AuthError::Revoked,
    ApiError::Forbidden,
    NoSuchRoute,
    AuthError::Unavailable,
    history_down(),
]);

platform::error_responses!(pub PresenceErrors = [
    invalid_room(),
    AuthError::Missing,
    AuthError::Revoked,
    ApiError::Forbidden,
    NoSuchRoute,
    AuthError::Unavailable,
    ApiError::Redis(anyhow::anyhow!("down")),
]);

platform::error_responses!(pub LobbySocketErrors = [
    InvalidRequest("the query string does not parse".into()),
    ApiError::InvalidRequest("expected a WebSocket upgrade, or since was negative".into()),
    AuthError::Missing,
    AuthError::Revoked,
    ApiError::OriginNotAllowed("https://elsewhere.example".into()),
    ApiError::TooManySockets(32),
    AuthError::Unavailable,
]);

platform::error_responses!(pub RoomSocketErrors = [
    InvalidRequest("the query string does not parse".into()),
    ApiError::InvalidRequest("expected a WebSocket upgrade, or since was negative".into()),
    invalid_room(),
    AuthError::Missing,
    AuthError::Revoked,
    ApiError::Forbidden,
    ApiError::OriginNotAllowed("https://elsewhere.example".into()),
    NoSuchRoute,
    ApiError::TooManySockets(32),
    AuthError::Unavailable,
]);

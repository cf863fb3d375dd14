//! Signing in with a code: the guess, the user, the new login, in as few round
//! trips as the deployment allows.

use std::net::IpAddr;

use super::{
    sessions::{Sessions, TokenPair},
    users::Users,
    verification::Codes,
};
use crate::error::ApiError;

/// The parts a sign-in uses, borrowed from the application state.
#[derive(Clone, Copy)]
pub struct SignIn<'a> {
    pub codes: &'a Codes,
    pub users: &'a Users,
    pub sessions: &'a Sessions,
}

impl SignIn<'_> {
    /// A correct code proves the address: its user (created on first success)
    /// gets a new login. On one Redis node the login's session is stored by the
    /// guess itself, before PostgreSQL is asked for the user: a login whose
    /// user cannot be read or created then has a session nobody holds a token
    /// for, which expires unused.
    pub async fn confirm(
        &self,
        email: &str,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<TokenPair, ApiError> {
        let login = self.sessions.new_login();
        let proven = self.codes.confirm(email, code, client, &login).await?;
        let user = match self.users.verified(&proven.email).await {
            Ok(user) => user,
            Err(e) => {
                self.codes.release(&proven).await;
                return Err(e);
            }
        };
        if proven.session_stored {
            self.sessions.started(user, &login)
        } else {
            self.sessions
                .start(user, &login, proven.place.as_ref())
                .await
        }
    }
}

//! The store's own errors, sorted by what a caller can do about them.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection, or it was lost: nothing was done (retry on a new one).
    #[error("no database connection: {0}")]
    Connection(String),
    /// Serialization failure, deadlock, lock or statement timeout: retry.
    #[error("database contention: {0}")]
    Contention(String),
    /// The connection was lost while committing and it cannot be told whether
    /// the commit happened: retrying could store the batch twice.
    #[error("commit outcome unknown: {0}")]
    Indeterminate(String),
    /// Anything else: the statement or the data it carried was refused.
    #[error(transparent)]
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match e {
            Error::DatabaseError(Kind::SerializationFailure, info) => {
                Self::Contention(info.message().to_owned())
            }
            Error::DatabaseError(Kind::UnableToSendCommand | Kind::ClosedConnection, info) => {
                Self::Connection(info.message().to_owned())
            }
            Error::BrokenTransactionManager => Self::Connection(e.to_string()),
            // diesel-async keeps the SQLSTATE to itself; these are PostgreSQL's own
            // message texts for 40P01, 55P03, 57014 and 57P01 (lc_messages C/en).
            Error::DatabaseError(Kind::Unknown, ref info) => {
                let message = info.message();
                if message.starts_with("deadlock detected")
                    || message.contains("due to lock timeout")
                    || message.contains("due to statement timeout")
                {
                    Self::Contention(message.to_owned())
                } else if message.starts_with("terminating connection") {
                    Self::Connection(message.to_owned())
                } else {
                    Self::Query(e)
                }
            }
            other => Self::Query(other),
        }
    }
}

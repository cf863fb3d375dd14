//! What a transport answers when a mail could not be handed over.

/// A send failure, and whether trying again later may succeed.
#[derive(Debug)]
pub struct SendFailure {
    pub transient: bool,
    pub reason: String,
}

impl SendFailure {
    pub fn transient(reason: String) -> Self {
        Self {
            transient: true,
            reason,
        }
    }
}

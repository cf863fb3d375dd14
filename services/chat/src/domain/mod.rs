//! The chat's rules, free of I/O: room names and who may use them, the frame
//! format, message validation and the rate limit.

pub mod close;
pub mod frame_error;
pub mod frames;
pub mod message;
pub mod rate;
pub mod room;
pub mod rules;

pub use close::SocketClose;
pub use frame_error::{ErrorCode, FrameError};
pub use frames::{ClientFrame, ServerFrame};
pub use message::{NewMessage, StoredMessage};
pub use room::RoomName;

//! Processes: the signal state children inherit, spawning, and finding
//! every descendant at shutdown.

pub mod command;
pub mod reaper;
pub mod signals;
pub mod tree;
pub mod users;

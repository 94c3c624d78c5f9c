//! Network protocols, sans-IO: parsers and wire formats over bytes.

pub mod client;
pub mod dns;
pub mod http;
pub mod server;

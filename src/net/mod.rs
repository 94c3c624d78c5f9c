//! Networking: sans-IO protocols (`http`, `dns`), the loop-driven
//! `server`, `client` and `resolver` built on them, and `interfaces`
//! (which local address to advertise).

pub mod client;
pub mod dns;
pub mod http;
pub mod interfaces;
pub mod ip;
pub mod resolver;
pub mod server;

//! Listening sockets: inetd-style accept and systemd socket activation.

use alloc::string::String;

/// Where a job listens: `tcp://HOST:PORT` (IPv4 or `[IPv6]`) or
/// `unix:///path`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Listen {
    Tcp { ip: crate::sys::net::Ip, port: u16 },
    Unix { path: String },
}

impl Listen {
    /// Parses a listen URI; the error says what is wrong, for the config's
    /// message.
    pub fn parse(text: &str) -> Result<Listen, String> {
        Err(alloc::format!(
            "{text:?}: listen addresses are not supported yet"
        ))
    }
}

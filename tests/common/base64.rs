//! Base64 in tests: tug's own (`tug::base64`, strict standard alphabet with
//! padding, as etcd and Consul's KV use), plus a panicking text decoder.
//! Every value the harness encodes goes through a real etcd, so a fault in
//! it would not pass unnoticed.

pub use tug::base64::{decode, encode};

/// Decodes to text (lossy UTF-8); panics on bad base64.
pub fn decode_str(text: &str) -> String {
    let bytes = decode(text).unwrap_or_else(|e| panic!("bad base64 {text:?}: {e}"));
    String::from_utf8_lossy(&bytes).into_owned()
}

//! Chaperone's configuration (garywiz/chaperone 0.3.9), read as Chaperone
//! read it: its YAML (`config::yaml`), its environment expansion
//! ([`expand`]).

pub mod expand;

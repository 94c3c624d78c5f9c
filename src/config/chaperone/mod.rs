//! Chaperone's configuration (garywiz/chaperone 0.3.9), read as Chaperone
//! read it: its YAML (`config::yaml`), the files of a config directory
//! merged ([`load`]), its sections and keys typed ([`schema`]), its
//! environment layers and expansion language ([`expand`]).

pub mod expand;
pub mod load;
pub mod schema;

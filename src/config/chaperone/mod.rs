//! Chaperone's configuration (garywiz/chaperone 0.3.9), read as Chaperone
//! read it: its YAML (`config::yaml`), the files of a config directory
//! merged ([`load`]), its sections and keys typed ([`schema`]), its
//! environment layers and expansion language ([`expand`]). All sans-IO:
//! the caller lists the directory, reads the files and runs backticks.
//!
//! Not here yet (the wiring): reading `--config` (a file or a directory,
//! `_CHAP_CONFIG_DIR`), building the layers (process, settings, each
//! service and logging section) and expanding each key in its own layer
//! (uid and gid in the parent's), `enabled` through [`schema::boolean`],
//! `port` as an int, and the mapping onto tug's jobs, dependency graph and
//! log router.

pub mod expand;
pub mod io;
pub mod load;
pub mod map;
pub mod schema;

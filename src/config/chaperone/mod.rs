//! Chaperone's configuration (garywiz/chaperone 0.3.9), read as Chaperone
//! read it: its YAML (`config::yaml`), the files of a config directory
//! merged ([`load`]), its sections and keys typed ([`schema`]), its
//! environment layers and expansion language ([`expand`]). All sans-IO:
//! the caller lists the directory, reads the files and runs backticks.
//!
//! The rest is [`map`] (the layers expanded per key, the start order, the
//! mapping onto tug's config text, checked by `config::parse` like any
//! other) and [`io`], the edge: detection by content, reading a file or a
//! directory, passwd, the PATH search and `/bin/sh` for backticks.
//! `config::load` and `config::render` pick this front-end by content.
//!
//! The `chaperone` personality's command line is in `cli` (`--config`,
//! `--show-dependencies`, the command as CONSOLE: tug's main job; README
//! lists what it accepts and refuses).
//!
//! Not here yet: the options that change the mapping (`--user`, `--task`,
//! `--disable-services`, … are refused by name), `_CHAP_OPTIONS`, CONSOLE in group IDLE, ignore_failures /
//! startup_pause / idle_delay semantics, a logging section's `extended`,
//! `overwrite`, uid and gid, a missing config path as an empty config.

pub mod expand;
pub mod io;
pub mod load;
pub mod map;
pub mod schema;

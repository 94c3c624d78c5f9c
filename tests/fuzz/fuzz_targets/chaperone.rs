//! The Chaperone front-end whole (merge, schema, layers, expansion, start
//! order, mapping): any text must give tug's config text or errors, never
//! a panic; the text it gives must always be JSON5 that `config::parse`
//! reads (its checks may still refuse it: a cycle, a bad selector), and
//! the mapping must be deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::config::chaperone::Options;
use tug::config::chaperone::expand::Shell;
use tug::config::chaperone::load::load;
use tug::config::chaperone::map::{Io, Passwd, to_tug};

struct Echo;
impl Shell for Echo {
    fn run(&mut self, cmd: &str, _: Option<(u32, u32)>) -> String {
        cmd.chars().rev().collect()
    }
}

fn user(u: &str) -> Option<Passwd> {
    (u == "www").then(|| (33, 33, "www".into(), "/var/www".into()))
}

fn found(p: &str, _: &str) -> bool {
    !p.starts_with('x')
}

/// The command line's options, from the text's length: CONSOLE, --user,
/// --log-level, the switches, on and off.
fn options(text: &str) -> Options {
    let n = text.len();
    Options {
        command: if n & 1 == 1 { vec!["echo".into(), "$(X) $(_CHAP_SERVICE)".into()] } else { vec![] },
        user: (n & 2 == 2).then(|| "www".into()),
        log_level: (n & 4 == 4).then(|| "info".into()),
        exitkills: n & 8 == 8,
        no_console_log: n & 16 == 16,
        disable_services: n & 32 == 32,
        no_syslog: n & 64 == 64,
        ..Default::default()
    }
}

fn map(text: &str) -> Option<Result<String, Vec<String>>> {
    let c = load(&[("c.conf", text)]).ok()?;
    let env = vec![("PATH".to_string(), "/bin".to_string()), ("X".into(), "1".into())];
    let mut io = Io {
        sh: &mut Echo,
        user: &user,
        found: &found,
    };
    Some(to_tug(&c, &["c.conf"], env, &options(text), &mut io).map(|m| m.text))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(first) = map(text) else { return };
    assert_eq!(Some(&first), map(text).as_ref());
    if let Ok(out) = first {
        assert!(tug::config::json5::parse(&out).is_ok(), "not JSON5:\n{out}");
        let _ = tug::config::parse("t", &out);
    }
});

//! Chaperone's environment expansion: any variables and text must expand
//! or give an error, never panic or run away. The input's lines are
//! `NAME=VALUE` for the process environment, then `+NAME=VALUE` lines set
//! in a layer over it, and the last line is a config value to expand.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::rc::Rc;
use tug::config::chaperone::expand::{Env, Shell, expand};

/// Prints the command back, reversed, so outputs can hold any text.
struct Rev(usize);

impl Shell for Rev {
    fn run(&mut self, cmd: &str, _user: Option<(u32, u32)>) -> String {
        self.0 += 1;
        cmd.chars().rev().collect()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines: Vec<&str> = text.split('\n').collect();
    let value = lines.pop().unwrap_or("");
    let (mut root, mut set) = (Vec::new(), Vec::new());
    for l in lines {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        match k.strip_prefix('+') {
            Some(k) => set.push((k.to_string(), v.to_string())),
            None => root.push((k.to_string(), v.to_string())),
        }
    }
    let mut sh = Rev(0);
    let root = Rc::new(Env::root(root));
    let env = Env::layer(&root, &[], None, &set, &[]);
    let Ok(all) = env.expanded(&mut sh) else {
        return;
    };
    for w in all.windows(2) {
        assert!(w[0].0 < w[1].0);
    }
    let before = sh.0;
    if let Ok(out) = expand(value, &all, None, &mut sh)
        && !value.contains('$')
    {
        assert_eq!(out, value);
        assert_eq!(sh.0, before);
    }
});

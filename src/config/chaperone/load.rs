//! Chaperone's config as a whole: the files of a config directory (or one
//! file), read in byte order of their names and merged as Chaperone
//! merged them. Sans-IO: the caller lists the directory and reads the
//! files.
//!
//! Merging, file by file: a `NAME.service` replaces any earlier one of that
//! name whole; `settings` and `NAME.logging` are merged one level deep (a
//! later key replaces an earlier one, `env_set` key by key). Inside one
//! file a key given twice takes the last value (PyYAML's dict). A file
//! whose top level is a list makes each item a section with no keys. An
//! empty file (or only comments) adds nothing; Chaperone failed on it with
//! "'NoneType' object has no attribute 'items'".

use super::schema::{Dec, Logging, Service, Settings, is_upper};
use crate::config::yaml::{self, Node, Value};
use crate::json5::Pos;
use crate::suggest::closest;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Where a value was written: the file (an index into the files given to
/// [`load`]) and the line:column.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(Debug))]
pub struct Spot {
    pub file: usize,
    pub pos: Pos,
}

#[derive(Clone, Default, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct Config {
    pub settings: Settings,
    /// In the order of their (last) definitions.
    pub services: Vec<Service>,
    pub logging: Vec<Logging>,
    /// What loads but does not do what it seems to (complete lines).
    pub warnings: Vec<String>,
}

/// Whether Chaperone reads a config directory's entry called `name`.
pub fn wanted(name: &str) -> bool {
    name.ends_with(".conf") || name.ends_with(".yaml")
}

/// `FILE:LINE:COL: MSG`, the form of every line the merge reports: one
/// copy of the prefix's formatting.
#[inline(never)]
fn at(file: &str, pos: Pos, msg: core::fmt::Arguments) -> String {
    format!("{file}:{pos}: {msg}")
}

/// One section as a file gave it.
struct Sec<'a> {
    file: usize,
    name: &'a str,
    at: Node,
    body: Option<&'a Node>,
}

/// Parses, merges and checks `files` (name for messages, text), given in
/// reading order. Errors are complete lines: `file:line:col: …`.
// Not inlined: measured smaller (opt-level z, LTO).
#[inline(never)]
pub fn load(files: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let names: Vec<&str> = files.iter().map(|f| f.0).collect();
    let mut errs = Vec::new();
    let mut trees = Vec::new();
    for (name, text) in files {
        match yaml::parse(text) {
            Ok(t) => trees.push(t),
            Err(e) => errs.push(format!("{name}:{e}")),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut secs = Vec::new();
    let mut warnings = Vec::new();
    for (file, tree) in trees.iter().enumerate() {
        let here = |pos| Node {
            pos,
            value: Value::Null,
        };
        match &tree.value {
            Value::Null => {}
            Value::Map(entries) => {
                for (i, e) in entries.iter().enumerate() {
                    if let Some(l) = entries[i + 1..].iter().find(|l| l.key == e.key) {
                        warnings.push(at(
                            names[file],
                            e.key_pos,
                            format_args!(
                                "warning: '{}' is given again at line {}: only that \
                                 one counts (as in Chaperone)",
                                e.key, l.key_pos.line
                            ),
                        ));
                        continue;
                    }
                    let (name, body) = (e.key.as_str(), Some(&e.value));
                    let at = here(e.key_pos);
                    secs.push(Sec {
                        file,
                        name,
                        at,
                        body,
                    });
                }
            }
            Value::Seq(items) => {
                for item in items {
                    match &item.value {
                        Value::Str(name) => secs.push(Sec {
                            file,
                            name,
                            at: here(item.pos),
                            body: None,
                        }),
                        _ => errs.push(at(
                            names[file],
                            item.pos,
                            format_args!("a top-level list holds section names"),
                        )),
                    }
                }
            }
            _ => errs.push(at(
                names[file],
                tree.pos,
                format_args!(
                    "expected sections (settings, NAME.service, NAME.logging), found {}",
                    tree.value.kind()
                ),
            )),
        }
    }
    let mut config = Config::default();
    for (i, sec) in secs.iter().enumerate() {
        let mut dec = Dec {
            file: sec.file,
            name: sec.name,
            errs: &mut errs,
            files: &names,
        };
        let section = |suffix: &str| sec.name.len() > suffix.len() && sec.name.ends_with(suffix);
        let (service, logging) = (section(".service"), section(".logging"));
        if (service || logging) && is_upper(&sec.name[..sec.name.rfind('.').unwrap_or(0)]) {
            dec.errs.push(at(
                names[sec.file],
                sec.at.pos,
                format_args!(
                    "all-uppercase names such as '{}' are reserved for the system",
                    sec.name
                ),
            ));
        } else if service {
            // Only the last definition counts.
            if secs[i + 1..].iter().all(|s| s.name != sec.name)
                && let Some(s) = dec.service(&sec.at, sec.body)
            {
                config.services.push(s);
            }
        } else if logging {
            let l = match config.logging.iter().position(|l| l.name == sec.name) {
                Some(i) => &mut config.logging[i],
                None => {
                    config.logging.push(Logging {
                        name: sec.name.into(),
                        ..Logging::default()
                    });
                    config.logging.last_mut().unwrap()
                }
            };
            l.at = Spot {
                file: sec.file,
                pos: sec.at.pos,
            };
            dec.logging(sec.body, l);
        } else if sec.name == "settings" {
            dec.settings(sec.body, &mut config.settings);
        } else if sec.name.find(".logging").is_some_and(|i| i > 0) {
            // Chaperone's schema took `^.+\.logging` without an end: such a
            // section passed and was never used.
            warnings.push(at(
                names[sec.file],
                sec.at.pos,
                format_args!(
                    "warning: '{}' is not used (a logging section's name ends in .logging)",
                    sec.name
                ),
            ));
        } else {
            let meant = match sec.name.rsplit_once('.') {
                Some((base, kind)) => {
                    closest(kind, &["service", "logging"]).map(|k| format!("{base}.{k}"))
                }
                None => closest(sec.name, &["settings"]).map(String::from),
            };
            let hint = meant.map_or(String::new(), |m| format!(" (did you mean '{m}'?)"));
            dec.errs.push(at(
                names[sec.file],
                sec.at.pos,
                format_args!(
                    "unknown section '{}'{hint}: sections are settings, NAME.service \
                     and NAME.logging",
                    sec.name
                ),
            ));
        }
    }
    if errs.is_empty() {
        config.warnings = warnings;
        Ok(config)
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::chaperone::schema::{Kind, Scalar};

    // Shaped like chaperone-docker's baseimage and lamp directories.
    const START: &str = "# 010-start.conf\n\
settings: {\n\
  env_set: {\n\
  'LANG': 'en_US.UTF-8',\n\
  'PATH': '$(APPS_DIR)/bin:/usr/local/bin:/bin',\n\
  # 'SECURE_ROOT': '1',\n\
  'APPS_DIR': '$(_CHAP_CONFIG_DIR:-/)',\n\
  },\n\
}\n\
\n\
startup.service: {\n\
  type: oneshot,\n\
  process_timeout: 600,\t\t# ten minutes\n\
  command: '/bin/bash $(APPS_DIR)/etc/startup.sh',\n\
  before: 'default,database,application',\n\
  service_groups: 'INIT',\n\
}\n\
\n\
console.logging: {\n\
  enabled: true,\n\
  stdout: true,\n\
  selector: '*.warn;authpriv,auth.!*;daemon.!warn',\n\
}\n";

    const APACHE: &str = "settings: {\n\
  env_set: {\n\
    HTTPD_SERVER_NAME: apache,\n\
  }  \n\
}\n\
apache2.service: {\n\
  command: \"/usr/sbin/apache2 -f $(APPS_DIR)/etc/apache2.conf -DFOREGROUND\",\n\
  restart: true,\n\
  uid: \"$(USER:-www-data)\",\n\
  env_set: { APACHE_LOCK_DIR: /tmp, APACHE_LOG_DIR: \"$(APPS_DIR)/var/log/apache2\" },\n\
  after: database,\n\
}\n\
apache2.logging: {\n\
  selector: 'local1.*;*.!err',\n\
  file: '$(APPS_DIR)/var/log/apache2/apache-%d.log',\n\
}\n\
apache2.logging: {\n\
  selector: 'local1.err',\n\
  stderr: true,\n\
}\n";

    const LATER: &str = "startup.service:\n  command: /bin/true\n\
console.logging: {selector: '*.err'}\n\
cron.service: {type: cron, interval: \"* * * * * */10\", command: \"echo x\", kill_signal: SIGQUIT,\n\
  enabled: \"$(ENABLE_CRON1:-false)\", port: 8080, restart_delay: 5, startup_pause: 0.5}\n";

    #[test]
    fn directory_merged() {
        let files = [
            ("010-start.conf", START),
            ("120-apache2.conf", APACHE),
            ("200-x.yaml", LATER),
        ];
        let c = load(&files).unwrap();
        let set: Vec<String> = c.settings.env.set.iter().map(|v| v.v.0.clone()).collect();
        assert_eq!(set, ["LANG", "PATH", "APPS_DIR", "HTTPD_SERVER_NAME"]);
        let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["apache2.service", "startup.service", "cron.service"]
        );
        // Replaced whole: the earlier `before` and `type` are gone.
        let startup = &c.services[1];
        assert_eq!(startup.command.v, "/bin/true");
        assert_eq!(
            (startup.kind, startup.before.is_none()),
            (Kind::Simple, true)
        );
        assert_eq!(
            startup.command.at,
            Spot {
                file: 2,
                pos: Pos { line: 2, col: 12 }
            }
        );
        let apache = &c.services[0];
        assert_eq!(
            apache.uid.as_ref().unwrap().v,
            Scalar::Str("$(USER:-www-data)".into())
        );
        assert_eq!(apache.env.set.len(), 2);
        assert_eq!(apache.after.as_ref().unwrap().v, "database");
        let cron = &c.services[2];
        assert_eq!(cron.kind, Kind::Cron);
        assert_eq!(cron.kill_signal.as_ref().unwrap().v, 3);
        assert_eq!(cron.port.as_ref().unwrap().v, Scalar::Int(8080));
        assert_eq!(cron.startup_pause.as_ref().unwrap().v, 0.5);
        assert_eq!(cron.restart_delay.as_ref().unwrap().v, 5);
        // Merged key by key: stdout stays, selector is the later one.
        let console = &c.logging[0];
        assert_eq!(console.name, "console.logging");
        assert!(console.stdout.as_ref().unwrap().v);
        assert_eq!(console.selector.as_ref().unwrap().v, "*.err");
        // Twice in one file: only the second counts (no `file`).
        let apache = &c.logging[1];
        assert_eq!(apache.selector.as_ref().unwrap().v, "local1.err");
        assert!(apache.file.is_none() && apache.stderr.is_some());
        assert_eq!(
            c.warnings,
            [
                "120-apache2.conf:13:1: warning: 'apache2.logging' is given again at line 17: \
              only that one counts (as in Chaperone)"
            ]
        );
    }

    #[test]
    fn special_files() {
        assert_eq!(
            load(&[("a.conf", "# nothing\n"), ("b.conf", "")]).unwrap(),
            Config::default()
        );
        let c = load(&[("l.conf", "- settings\n- x.logging\n- y.loggingz\n")]).unwrap();
        assert_eq!(c.logging.len(), 1);
        assert_eq!(
            c.warnings,
            [
                "l.conf:3:3: warning: 'y.loggingz' is not used (a logging section's name ends in \
              .logging)"
            ]
        );
        let mut names: Vec<String> = ["b.conf", "a.yaml", "B.conf", "a.conf", "é.conf"]
            .iter()
            .map(|s| String::from(*s))
            .collect();
        crate::sort::small(&mut names, |a, b| a < b);
        assert_eq!(names, ["B.conf", "a.conf", "a.yaml", "b.conf", "é.conf"]);
        assert!(wanted("x.conf") && wanted("x.yaml") && !wanted("x.yml") && !wanted("conf"));
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            (
                "a.service: {command: x, restart: \"true\"}",
                "1:34: a.service.restart: expected bool, found str",
            ),
            (
                "a.service: {command: x, env_set: {PORT: 8080}}",
                "1:41: a.service.env_set.PORT: expected str, found int (quote the value)",
            ),
            (
                "a.service: {command: x, after: [b, c]}",
                "1:32: a.service.after: expected str, found list",
            ),
            (
                "a.service: {command: x, kill_signal: 9}",
                "1:38: a.service.kill_signal: expected str, found int (quote the value)",
            ),
            (
                "a.service: {command: x, kill_signal: TERM}",
                "1:38: a.service.kill_signal: 'TERM' is not a signal (SIGTERM, \"15\")",
            ),
            (
                "a.service: {command: x, restart_delay: 0.5}",
                "1:40: a.service.restart_delay: expected int, found float",
            ),
            (
                "settings: {shutdown_timeout: \"5\"}",
                "1:30: settings.shutdown_timeout: expected int or float, found str",
            ),
            (
                "x.logging: {filter: '*.*'}",
                "1:13: x.logging: unknown key 'filter' (did you mean 'selector'?)",
            ),
            (
                "a.service: {command: x, service_group: g}",
                "1:25: a.service: unknown key 'service_group' (did you mean 'service_groups'?)",
            ),
            (
                "a.service: {bin: /x}",
                "1:13: a.service: unknown key 'bin' (did you mean 'command'?)",
            ),
            (
                "a.service: {comand: /x}",
                "1:13: a.service: unknown key 'comand' (did you mean 'command'?)",
            ),
            (
                "a.service: {command: x, type: daemon}",
                "1:31: a.service.type: expected one of simple, forking, oneshot, notify, inetd, cron",
            ),
            (
                "a.service: {command: x, stdout: file}",
                "1:33: a.service.stdout: expected 'log' or 'inherit'",
            ),
            (
                "a.service: {type: simple}",
                "1:1: a.service.command: a service needs a command",
            ),
            (
                "a.service: {command: x, gid: 5}",
                "1:1: a.service.gid: cannot specify 'gid' without 'uid'",
            ),
            (
                "a.service: {command: x, after: 'b, FOO'}",
                "1:1: a.service.after: 'FOO' is not a recognized system name",
            ),
            (
                "a.service: {command: x, after: IDLE}",
                "1:1: a.service.after: cannot start after the service group IDLE",
            ),
            (
                "a.service: {command: x, before: INIT}",
                "1:1: a.service.before: cannot start before the service group INIT",
            ),
            (
                "a.service: {command: x, service_groups: 'x,FOO'}",
                "1:1: a.service.service_groups: unrecognized system group name 'FOO'",
            ),
            (
                "a.service: [x]",
                "1:12: a.service: expected a dictionary, found list",
            ),
            (
                "A.service: {command: x}",
                "1:1: all-uppercase names such as 'A.service' are reserved for the system",
            ),
            (
                "foo: {}",
                "1:1: unknown section 'foo': sections are settings, NAME.service and NAME.logging",
            ),
            (
                "x.servce: {}",
                "1:1: unknown section 'x.servce' (did you mean 'x.service'?): sections are settings, NAME.service and NAME.logging",
            ),
            (
                "setting: {}",
                "1:1: unknown section 'setting' (did you mean 'settings'?): sections are settings, NAME.service and NAME.logging",
            ),
            (
                "just text",
                "1:1: expected sections (settings, NAME.service, NAME.logging), found str",
            ),
            ("- [x]", "1:3: a top-level list holds section names"),
            (
                "a: &x 1",
                "1:4: '&' starts an anchor, which is not supported: quote the value",
            ),
            (
                "a.service: {command: x, uid: [1], uid: 1, env_set: {A: 1, A: '1'}, restart: 5}",
                "1:77: a.service.restart: expected bool, found int",
            ),
            (
                "settings: {env_inherit: '*'}",
                "1:25: settings.env_inherit: expected a list of str, found str",
            ),
        ];
        let mut bad = Vec::new();
        for (text, want) in cases {
            let got = match load(&[("t.conf", text)]) {
                Ok(_) => String::from("ok"),
                Err(e) => e.join("\n"),
            };
            if got != format!("t.conf:{want}") {
                bad.push(format!("{text:?}\n  got  {got}\n  want t.conf:{want}"));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        // Both typos of one file, and the other file's, in one go.
        let e = load(&[
            ("a.conf", "x.service: {command: x, restrat: true, uid: [1]}"),
            ("b.conf", "y.logging: {stdot: true}"),
        ])
        .unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("a.conf:1:25")
                && e[2].starts_with(
                    "b.conf:1:13: y.logging: unknown key 'stdot' (did you mean 'stdout'?)"
                ),
            "{e:?}"
        );
    }
}

#[cfg(test)]
mod compat {
    use super::*;
    use crate::config::chaperone::schema::Kind;

    /// Chaperone's own el-tests configs (tests/compat/chaperone): each
    /// loads, with the services and kinds it declares.
    #[test]
    fn chaperone_el_tests_load() {
        let files: [(&str, &str, usize); 7] = [
            (
                "basic-1",
                include_str!("../../../tests/compat/chaperone/el-tests/basic-1.conf"),
                1,
            ),
            (
                "simple-1",
                include_str!("../../../tests/compat/chaperone/el-tests/simple-1.conf"),
                5,
            ),
            (
                "cron-1",
                include_str!("../../../tests/compat/chaperone/el-tests/cron-1.conf"),
                11,
            ),
            (
                "exitkills-1",
                include_str!("../../../tests/compat/chaperone/el-tests/exitkills-1.conf"),
                2,
            ),
            (
                "fork-1",
                include_str!("../../../tests/compat/chaperone/el-tests/fork-1.conf"),
                6,
            ),
            (
                "inetd-1",
                include_str!("../../../tests/compat/chaperone/el-tests/inetd-1.conf"),
                2,
            ),
            (
                "notify-1",
                include_str!("../../../tests/compat/chaperone/el-tests/notify-1.conf"),
                5,
            ),
        ];
        for (name, text, services) in files {
            let c = load(&[(name, text)]).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(c.services.len(), services, "{name}");
            assert_eq!(c.logging.len(), 1, "{name}");
            assert_eq!(c.logging[0].selector.as_ref().unwrap().v, "*.debug");
        }
        let cron = load(&[("cron-1", files[2].1)]).unwrap();
        let kinds: Vec<Kind> = cron.services.iter().map(|s| s.kind).collect();
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Cron).count(), 5);
        let inetd = load(&[("inetd-1", files[5].1)]).unwrap();
        assert_eq!(
            inetd.services[1].after.as_ref().unwrap().v,
            "inetd1.service"
        );
    }
}

//! `user` / `group` of a job, resolved from /etc/passwd and /etc/group
//! directly: a static binary has no NSS, and scratch images often have no
//! such files at all (then only numeric ids work).

use crate::num::dec;
use crate::quote::q;
use crate::sys::fd::read_file;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary one plus every group listing the user.
    pub groups: Vec<u32>,
    pub name: String,
    pub home: String,
}

/// Resolves `user` (name or number) and an optional `group` override.
pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Identity, String> {
    let passwd = text_of(c"/etc/passwd");
    let groups = text_of(c"/etc/group");
    resolve_in(&passwd, &groups, user, group)
}

/// A file's text ("" when it cannot be read).
pub fn text_of(path: &core::ffi::CStr) -> String {
    read_file(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The first seven `:`-separated fields of a line (then ""), and how many
/// fields it has.
#[inline(never)]
fn fields(line: &str) -> ([&str; 7], usize) {
    let mut f = [""; 7];
    let mut n = 0;
    for part in line.split(':') {
        if let Some(slot) = f.get_mut(n) {
            *slot = part;
        }
        n += 1;
    }
    (f, n)
}

pub fn resolve_in(
    passwd: &str,
    group_db: &str,
    user: Option<&str>,
    group: Option<&str>,
) -> Result<Identity, String> {
    let mut id = match user {
        Some(u) => lookup_user(passwd, u)?,
        // Only a group given: keep the current user, change the group.
        None => Identity {
            uid: crate::sys::process::getuid(),
            gid: 0,
            groups: Vec::new(),
            name: String::new(),
            home: String::new(),
        },
    };
    if let Some(g) = group {
        id.gid = lookup_group(group_db, g)?;
        id.groups = alloc::vec![id.gid];
    } else if user.is_some() {
        id.groups.push(id.gid);
        for line in group_db.lines() {
            let (f, n) = fields(line);
            if n >= 4
                && f[3].split(',').any(|m| m == id.name)
                && let Some(gid) = dec::<u32>(f[2])
                && !id.groups.contains(&gid)
            {
                id.groups.push(gid);
            }
        }
    }
    Ok(id)
}

/// The passwd entry of `user` (a name or number) in `passwd`.
pub fn lookup_user(passwd: &str, user: &str) -> Result<Identity, String> {
    let numeric = dec::<u32>(user);
    for line in passwd.lines() {
        let (f, n) = fields(line);
        if n < 7 {
            continue;
        }
        let (Some(uid), Some(gid)) = (dec::<u32>(f[2]), dec::<u32>(f[3])) else {
            continue;
        };
        if f[0] == user || numeric == Some(uid) {
            return Ok(Identity {
                uid,
                gid,
                groups: Vec::new(),
                name: f[0].to_string(),
                home: f[5].to_string(),
            });
        }
    }
    match numeric {
        // A bare uid with no passwd entry: its own gid, home /.
        Some(uid) => Ok(Identity {
            uid,
            gid: uid,
            groups: Vec::new(),
            name: user.to_string(),
            home: "/".to_string(),
        }),
        None => Err(format!(
            "unknown user {user} (not in /etc/passwd)",
            user = q(&user)
        )),
    }
}

fn lookup_group(db: &str, group: &str) -> Result<u32, String> {
    if let Some(gid) = dec::<u32>(group) {
        return Ok(gid);
    }
    for line in db.lines() {
        let (f, n) = fields(line);
        if n >= 3 && f[0] == group {
            if let Some(gid) = dec(f[2]) {
                return Ok(gid);
            }
            break;
        }
    }
    Err(format!(
        "unknown group {group} (not in /etc/group)",
        group = q(&group)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\nbroken line\n";
    const GROUP: &str =
        "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwww:x:33:app,other\ndocker:x:999:app\n";

    #[test]
    fn names_numbers_and_supplementary_groups() {
        let id = resolve_in(PASSWD, GROUP, Some("app"), None).unwrap();
        assert_eq!(
            (id.uid, id.gid, id.home.as_str()),
            (1000, 1000, "/home/app")
        );
        assert_eq!(id.groups, [1000, 33, 999]);
        let id = resolve_in(PASSWD, GROUP, Some("65534"), Some("www")).unwrap();
        assert_eq!((id.uid, id.gid, id.name.as_str()), (65534, 33, "nobody"));
        assert_eq!(id.groups, [33]);
        let id = resolve_in("", "", Some("4242"), Some("77")).unwrap();
        assert_eq!((id.uid, id.gid), (4242, 77));
        assert!(resolve_in(PASSWD, GROUP, Some("ghost"), None).is_err());
        assert!(resolve_in(PASSWD, GROUP, Some("app"), Some("ghosts")).is_err());
    }
}

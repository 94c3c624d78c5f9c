//! The environment tug was started with, read once and never changed:
//! children get an environment built per spawn, so tug's own stays as the
//! container runtime gave it.

use alloc::vec::Vec;
use core::ffi::{CStr, c_char};

pub struct Environ {
    /// "NAME=value" entries, in the order the kernel gave them.
    vars: Vec<&'static CStr>,
}

impl Environ {
    pub fn new(vars: Vec<&'static CStr>) -> Environ {
        Environ { vars }
    }

    /// The value of NAME. A value that itself contains '=' keeps everything
    /// after the first '='.
    pub fn get(&self, name: &str) -> Option<&'static str> {
        self.vars.iter().find_map(|v| {
            let s = v.to_str().ok()?;
            let (k, val) = s.split_once('=')?;
            (k == name).then_some(val)
        })
    }

    /// Every (NAME, value) pair that is valid UTF-8, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.vars
            .iter()
            .filter_map(|v| v.to_str().ok()?.split_once('='))
    }

    /// A NULL-terminated envp array for execve, pointing into our strings.
    pub fn envp(&self) -> Vec<*const c_char> {
        let mut p: Vec<*const c_char> = self.vars.iter().map(|v| v.as_ptr()).collect();
        p.push(core::ptr::null());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_everything_after_the_first_equals() {
        let env = Environ::new(vec![c"A=1", c"OPTS=-Dx=y=z", c"EMPTY="]);
        assert_eq!(env.get("A"), Some("1"));
        assert_eq!(env.get("OPTS"), Some("-Dx=y=z"));
        assert_eq!(env.get("EMPTY"), Some(""));
        assert_eq!(env.get("MISSING"), None);
        assert_eq!(env.envp().len(), 4);
    }
}

//! Mounts for tug as a VM's init: the pseudo-filesystems at boot, and
//! unmounting (or read-only remounts) at shutdown.

use super::{Result, check};
use alloc::ffi::CString;
use core::ffi::CStr;

fn dev_of(path: &CStr) -> Option<u64> {
    super::file::stat(path).ok().map(|s| s.dev)
}

/// Mounts `fstype` (also the source's name) on `target` unless a
/// filesystem is mounted there already, creating the directory if it is
/// missing. A mount point is a directory whose device differs from its
/// parent's: a test that needs no /proc. Returns whether it mounted.
pub fn mount_missing(fstype: &CStr, target: &CStr, parent: &CStr, data: &CStr) -> Result<bool> {
    // SAFETY: target is NUL-terminated; EEXIST is the common case.
    unsafe { libc::mkdir(target.as_ptr(), 0o755) };
    if dev_of(target).is_some_and(|d| Some(d) != dev_of(parent)) {
        return Ok(false);
    }
    let flags = libc::MS_NOSUID
        | if fstype == c"devtmpfs" {
            0
        } else {
            libc::MS_NODEV
        };
    // SAFETY: every pointer is a NUL-terminated string that outlives the
    // call; the kernel copies them.
    check(unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    })?;
    Ok(true)
}

/// Unmounts `target`, or when it is busy (the root) remounts it
/// read-only, so nothing is left to write back at power-off.
pub fn unmount_or_freeze(target: &CString) -> Result<()> {
    // SAFETY: target is NUL-terminated.
    if unsafe { libc::umount2(target.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    // SAFETY: as above; a remount takes no source, type or data.
    check(unsafe {
        libc::mount(
            core::ptr::null(),
            target.as_ptr(),
            core::ptr::null(),
            libc::MS_REMOUNT | libc::MS_RDONLY,
            core::ptr::null(),
        )
    })
    .map(drop)
}

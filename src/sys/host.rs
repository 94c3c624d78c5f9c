//! Facts about this host: its name (uname), the addresses of its network
//! interfaces (getifaddrs) and entropy (getrandom) for DNS query IDs.

use super::net::Ip;
use super::{Errno, Result, check};
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::CStr;

/// The kernel's node name (what `hostname` prints; in a container, the
/// container's). Empty if uname fails, which it cannot on Linux.
pub fn hostname() -> String {
    // SAFETY: all-zero is a valid utsname.
    let mut u: libc::utsname = unsafe { core::mem::zeroed() };
    // SAFETY: u is a valid utsname for uname to fill.
    if unsafe { libc::uname(&mut u) } < 0 {
        return String::new();
    }
    // uname NUL-terminates every field.
    let bytes: Vec<u8> = u
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every IPv4 and IPv6 address of every interface, as (name, address), in
/// the order the kernel lists them. Names are what getifaddrs reports:
/// musl gives an IPv4 address its label, so an alias shows as `eth0:1`.
pub fn interface_addresses() -> Result<Vec<(String, Ip)>> {
    let mut list: *mut libc::ifaddrs = core::ptr::null_mut();
    // SAFETY: list is a valid out-pointer; freed below with freeifaddrs.
    check(unsafe { libc::getifaddrs(&mut list) })?;
    let mut out = Vec::new();
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned, alive
        // until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr of at least its family's
        // size (the kernel's, copied by libc); the family says which.
        let ip = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sa = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                    Ip::V4(sa.sin_addr.s_addr.to_ne_bytes())
                }
                libc::AF_INET6 => {
                    let sa = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                    Ip::V6(sa.sin6_addr.s6_addr)
                }
                _ => continue,
            }
        };
        // SAFETY: ifa_name is a NUL-terminated string inside the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) };
        out.push((String::from_utf8_lossy(name.to_bytes()).into_owned(), ip));
    }
    // SAFETY: list came from getifaddrs and is freed exactly once; no
    // reference into it outlives this call.
    unsafe { libc::freeifaddrs(list) };
    Ok(out)
}

/// 64 unpredictable bits that never block: GRND_INSECURE (Linux 5.6+) is
/// fine before the pool is seeded (a VM's PID 1 at boot); older kernels get
/// GRND_NONBLOCK, and if that finds the pool empty, the clock.
pub fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    for flags in [libc::GRND_INSECURE, libc::GRND_NONBLOCK] {
        // SAFETY: buf is valid for 8 writable bytes.
        let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n == buf.len() as isize {
            return u64::from_ne_bytes(buf);
        }
        if n < 0 && Errno::last() != Errno(libc::EINVAL) {
            break;
        }
    }
    // Mix the clock (splitmix64) so successive calls still differ.
    let mut z = super::time::now_ns().wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_facts() {
        let name = hostname();
        assert!(!name.is_empty());
        let want = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(name, want.trim_end());
        let addrs = interface_addresses().unwrap();
        assert!(
            addrs.iter().any(|(_, ip)| *ip == Ip::V4([127, 0, 0, 1])),
            "{addrs:?}"
        );
        assert_ne!(random_u64(), random_u64());
    }
}

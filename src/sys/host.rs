//! Facts about this host: its name (uname), the addresses of its network
//! interfaces (getifaddrs) and entropy (getrandom) for DNS query IDs.

use super::net::Ip;
use super::{Errno, Result, check};
use alloc::string::String;
use alloc::vec::Vec;

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
    c_text(&u.nodename.map(|c| c as u8))
}

/// Every IPv4 and IPv6 address of every interface, as (name, address), in
/// the order the kernel lists them, as getifaddrs gives them: the name is
/// the address's label if it has one (an IPv4 alias shows as `eth0:1`),
/// else its link's; the address is the local one (of a point-to-point
/// link, not the peer's). Read over rtnetlink, as musl does, but without
/// musl's getifaddrs: its list comes from malloc, which tug does not link
/// (sys::heap).
pub fn interface_addresses() -> Result<Vec<(String, Ip)>> {
    // SAFETY: plain socket creation; the fd is owned by Fd.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    })?;
    let sock = super::fd::Fd::from_raw(fd);
    let mut links: Vec<(u32, String)> = Vec::new();
    dump(&sock, libc::RTM_GETLINK, |kind, body| {
        // ifinfomsg: family, pad, type (2), index (4), flags, change.
        if kind != libc::RTM_NEWLINK || body.len() < 16 {
            return;
        }
        let index = u32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
        if let Some(name) = attr(&body[16..], libc::IFLA_IFNAME) {
            links.push((index, c_text(name)));
        }
    })?;
    let mut out = Vec::new();
    dump(&sock, libc::RTM_GETADDR, |kind, body| {
        // ifaddrmsg: family, prefixlen, flags, scope, index (4).
        if kind != libc::RTM_NEWADDR || body.len() < 8 {
            return;
        }
        let index = u32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
        let attrs = &body[8..];
        let Some(addr) = attr(attrs, libc::IFA_LOCAL).or_else(|| attr(attrs, libc::IFA_ADDRESS))
        else {
            return;
        };
        let ip = match (i32::from(body[0]), addr.len()) {
            (libc::AF_INET, 4) => Ip::V4([addr[0], addr[1], addr[2], addr[3]]),
            (libc::AF_INET6, 16) => {
                let mut a = [0; 16];
                a.copy_from_slice(addr);
                Ip::V6(a)
            }
            _ => return,
        };
        let Some((_, link)) = links.iter().find(|(i, _)| *i == index) else {
            return;
        };
        let name = attr(attrs, libc::IFA_LABEL).map_or_else(|| link.clone(), c_text);
        out.push((name, ip));
    })?;
    Ok(out)
}

/// A NUL-terminated attribute's text.
fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The value of the first attribute of `kind` in a run of rtattrs.
fn attr(mut attrs: &[u8], kind: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let ty = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            return None;
        }
        if ty == kind {
            return Some(&attrs[4..len]);
        }
        attrs = attrs.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    None
}

/// One rtnetlink dump request of `kind` (all families), each answer's type
/// and body passed to `each`, until the kernel says it is done.
fn dump(sock: &super::fd::Fd, kind: u16, mut each: impl FnMut(u16, &[u8])) -> Result<()> {
    // nlmsghdr (len, type, flags, seq, pid) and an rtgenmsg, padded.
    let mut req = [0u8; 20];
    req[..4].copy_from_slice(&20u32.to_ne_bytes());
    req[4..6].copy_from_slice(&kind.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: req is valid for its length; the socket is the kernel's.
    super::check_long(
        unsafe { libc::send(sock.raw(), req.as_ptr().cast(), req.len(), 0) } as libc::c_long,
    )?;
    let mut buf = alloc::vec![0u8; 16 << 10];
    loop {
        // SAFETY: buf is valid for buf.len() writable bytes.
        let n = unsafe { libc::recv(sock.raw(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let n = super::check_long(n as libc::c_long)? as usize;
        if n == 0 {
            return Err(Errno(libc::EIO));
        }
        let mut msgs = &buf[..n];
        while msgs.len() >= 16 {
            let len = u32::from_ne_bytes([msgs[0], msgs[1], msgs[2], msgs[3]]) as usize;
            let ty = u16::from_ne_bytes([msgs[4], msgs[5]]);
            if len < 16 || len > msgs.len() {
                return Err(Errno(libc::EIO));
            }
            match i32::from(ty) {
                libc::NLMSG_DONE => return Ok(()),
                libc::NLMSG_ERROR => {
                    let code = msgs
                        .get(16..20)
                        .map_or(0, |e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]));
                    return Err(Errno(if code < 0 { -code } else { libc::EIO }));
                }
                _ => each(ty, &msgs[16..len]),
            }
            msgs = msgs.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        }
    }
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

    /// The netlink reading lists what the C library's getifaddrs lists
    /// (glibc here: the same names and local addresses).
    #[test]
    fn interfaces_as_getifaddrs_lists_them() {
        let mut ours = interface_addresses().unwrap();
        let mut theirs = Vec::new();
        let mut list: *mut libc::ifaddrs = core::ptr::null_mut();
        // SAFETY: list is a valid out-pointer; freed below.
        assert_eq!(unsafe { libc::getifaddrs(&mut list) }, 0);
        let mut cur = list;
        while !cur.is_null() {
            // SAFETY: a node of the list, alive until freeifaddrs; its
            // address is a sockaddr of the family it names, its name a
            // NUL-terminated string.
            unsafe {
                let ifa = &*cur;
                cur = ifa.ifa_next;
                if ifa.ifa_addr.is_null() {
                    continue;
                }
                let ip = match i32::from((*ifa.ifa_addr).sa_family) {
                    libc::AF_INET => Ip::V4(
                        (*ifa.ifa_addr.cast::<libc::sockaddr_in>())
                            .sin_addr
                            .s_addr
                            .to_ne_bytes(),
                    ),
                    libc::AF_INET6 => Ip::V6(
                        (*ifa.ifa_addr.cast::<libc::sockaddr_in6>())
                            .sin6_addr
                            .s6_addr,
                    ),
                    _ => continue,
                };
                let name = core::ffi::CStr::from_ptr(ifa.ifa_name);
                theirs.push((String::from(name.to_str().unwrap()), ip));
            }
        }
        // SAFETY: list came from getifaddrs, freed once, not used after.
        unsafe { libc::freeifaddrs(list) };
        ours.sort_by_key(|(n, ip)| alloc::format!("{n} {ip:?}"));
        theirs.sort_by_key(|(n, ip)| alloc::format!("{n} {ip:?}"));
        assert_eq!(ours, theirs);
    }
}

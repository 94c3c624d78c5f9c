//! The binary's allocator: size classes over mmap, for one thread.
//!
//! Why not musl's malloc: Rust tells the allocator each block's size and
//! alignment again when it frees or grows it, so a block needs no header
//! and a free block is just a link in its class's list. That takes ~1 KB
//! of code where mallocng takes ~8.5 KB (it must find a block's size from
//! the pointer alone, for C). Nothing in musl that tug calls allocates
//! (sys::fd lists directories with getdents64 and sys::host reads the
//! interfaces over netlink, not opendir and getifaddrs), so musl's
//! allocator is not linked at all: `make build` fails if it is (the
//! symbols would clash).
//!
//! The contract:
//! - A request of at most `SMALL_MAX` bytes (alignment at most 16) gets a
//!   block of its class: 16-byte steps up to 128, then four steps per
//!   doubling (at most 25% unused). Blocks are cut from 64 KiB mappings
//!   and, once freed, kept on their class's list for the next request of
//!   that class; they are not returned to the kernel. tug's steady state
//!   reuses the same few hundred blocks, so this bounds its memory at its
//!   peak, as mallocng does for small blocks in practice.
//! - Anything larger (a log ring, the syslog socket's 256 KiB buffer), or
//!   aligned to more than 16, is its own mapping: returned to the kernel on
//!   free, grown with mremap, and zero from the kernel (a zeroed large
//!   block costs no memory until it is written).
//! - One thread: the state is behind a flag that aborts on a second
//!   entrant (there is none: no threads, no signal handlers that run Rust;
//!   a forked child has its own copy).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, Ordering};

const ALIGN: usize = 16;
const SMALL_MAX: usize = 32 << 10;
const CHUNK: usize = 64 << 10;
const PAGE: usize = 4096;
/// 8 classes of 16-byte steps up to 128, then 4 per doubling up to 32 KiB.
const CLASSES: usize = 8 + 4 * 8;

/// A block's class and the size of that class; None for a large block.
fn class(size: usize, align: usize) -> Option<(usize, usize)> {
    if align > ALIGN || size > SMALL_MAX {
        return None;
    }
    let size = size.max(1);
    if size <= 128 {
        let i = (size - 1) / 16;
        return Some((i, (i + 1) * 16));
    }
    // size in (2^(b-1), 2^b], cut into four steps of 2^(b-3).
    let b = (usize::BITS - (size - 1).leading_zeros()) as usize;
    let base = 1 << (b - 1);
    let step = 1 << (b - 3);
    let k = (size - 1 - base) / step;
    Some((8 + (b - 8) * 4 + k, base + (k + 1) * step))
}

fn pages(size: usize) -> usize {
    size.div_ceil(PAGE) * PAGE
}

struct State {
    free: [*mut u8; CLASSES],
    /// The unused rest of the newest chunk.
    next: usize,
    end: usize,
}

pub struct Heap {
    busy: AtomicBool,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached inside `with`, which holds `busy` for
// the whole access and aborts rather than share it.
unsafe impl Sync for Heap {}

impl Heap {
    pub const fn new() -> Heap {
        Heap {
            busy: AtomicBool::new(false),
            state: UnsafeCell::new(State {
                free: [null_mut(); CLASSES],
                next: 0,
                end: 0,
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        if self.busy.swap(true, Ordering::Acquire) {
            super::rt::abort();
        }
        // SAFETY: `busy` was false and is now ours: no other reference to
        // the state exists until it is released below.
        let r = f(unsafe { &mut *self.state.get() });
        self.busy.store(false, Ordering::Release);
        r
    }
}

impl Default for Heap {
    fn default() -> Heap {
        Heap::new()
    }
}

/// A fresh private mapping (zero-filled), or null.
fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping touches no existing memory.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        null_mut()
    } else {
        p.cast()
    }
}

// SAFETY (whole impl): a small block is handed out by one class at a time
// (from a chunk's unused rest or its class's free list) and goes back to
// the list of the class its layout names, which is the class it came from
// (GlobalAlloc passes the same layout to dealloc); a large block is its
// own mapping of `pages(size)` bytes, unmapped once.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((i, size)) = class(layout.size(), layout.align()) else {
            // mmap aligns to pages; a larger alignment is never asked for.
            return if layout.align() > PAGE {
                null_mut()
            } else {
                map(pages(layout.size()))
            };
        };
        self.with(|s| {
            let head = s.free[i];
            if !head.is_null() {
                // SAFETY: a free block holds the next free block's address
                // in its first word (written by dealloc, 16-aligned).
                s.free[i] = unsafe { head.cast::<*mut u8>().read() };
                return head;
            }
            if s.end - s.next < size {
                let chunk = map(CHUNK);
                if chunk.is_null() {
                    return null_mut();
                }
                s.next = chunk as usize;
                s.end = s.next + CHUNK;
            }
            let p = s.next as *mut u8;
            s.next += size;
            p
        })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, passed on.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() && class(layout.size(), layout.align()).is_some() {
            // SAFETY: p is valid for layout.size() bytes. (A large block is
            // fresh from mmap: zero already.)
            unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match class(layout.size(), layout.align()) {
            Some((i, _)) => self.with(|s| {
                // SAFETY: the block is ours again, at least 16 bytes and
                // 16-aligned: its first word links it into the list.
                unsafe { ptr.cast::<*mut u8>().write(s.free[i]) };
                s.free[i] = ptr;
            }),
            None => {
                // SAFETY: a large block is a mapping of exactly that length.
                unsafe { libc::munmap(ptr.cast(), pages(layout.size())) };
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class(layout.size(), layout.align());
        let new = class(new_size, layout.align());
        match (old, new) {
            // The block already has room for the new size.
            (Some((i, _)), Some((j, _))) if i == j => return ptr,
            // Both large: the kernel moves the pages, nothing is copied.
            (None, None) if layout.align() <= ALIGN => {
                // SAFETY: ptr is a mapping of pages(layout.size()) bytes.
                let p = unsafe {
                    libc::mremap(
                        ptr.cast(),
                        pages(layout.size()),
                        pages(new_size),
                        libc::MREMAP_MAYMOVE,
                    )
                };
                return if p == libc::MAP_FAILED {
                    null_mut()
                } else {
                    p.cast()
                };
            }
            _ => {}
        }
        // SAFETY: GlobalAlloc's contract: new_size is valid with align.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as alloc; the old block stays valid until freed below.
        let p = unsafe { self.alloc(new_layout) };
        if !p.is_null() {
            // SAFETY: both blocks hold at least the smaller size; they are
            // distinct blocks, and the old one is freed exactly once.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn classes_hold_their_sizes() {
        let mut last = (0, 0);
        for size in 1..=SMALL_MAX {
            let (i, c) = class(size, 8).unwrap();
            assert!(c >= size && c % 16 == 0, "{size} -> {c}");
            // At most a quarter unused above 128 bytes.
            assert!(size <= 128 || (c - size) * 4 <= c, "{size} -> {c}");
            assert!(i < CLASSES);
            if c != last.1 {
                assert_eq!(i, if size == 1 { 0 } else { last.0 + 1 }, "{size}");
                last = (i, c);
            }
        }
        assert_eq!(last, (CLASSES - 1, SMALL_MAX));
        assert_eq!(class(SMALL_MAX + 1, 8), None);
        assert_eq!(class(64, 32), None);
    }

    #[test]
    fn blocks_are_reused_and_kept_apart() {
        let heap = Heap::new();
        let small = Layout::from_size_align(40, 8).unwrap();
        let large = Layout::from_size_align(100_000, 8).unwrap();
        // SAFETY: every block is used within its layout and freed once,
        // with the layout it was made (or grown) with.
        unsafe {
            let blocks: Vec<*mut u8> = (0..5000).map(|_| heap.alloc(small)).collect();
            for (k, &b) in blocks.iter().enumerate() {
                assert_eq!(b as usize % 16, 0);
                core::ptr::write_bytes(b, k as u8, 40);
            }
            for (k, &b) in blocks.iter().enumerate() {
                assert!((0..40).all(|o| *b.add(o) == k as u8), "block {k}");
            }
            let last = blocks[4999];
            heap.dealloc(last, small);
            assert_eq!(heap.alloc(small), last);
            for &b in &blocks {
                heap.dealloc(b, small);
            }
            // Grown within its class: the same block; past it: moved, kept.
            let p = heap.alloc(small);
            core::ptr::write_bytes(p, 7, 40);
            assert_eq!(heap.realloc(p, small, 48), p);
            let q = heap.realloc(p, Layout::from_size_align(48, 8).unwrap(), 70_000);
            assert!((0..40).all(|o| *q.add(o) == 7));
            let r = heap.realloc(q, Layout::from_size_align(70_000, 8).unwrap(), 200_000);
            assert!((0..40).all(|o| *r.add(o) == 7));
            let s = heap.realloc(r, Layout::from_size_align(200_000, 8).unwrap(), 20);
            assert!((0..20).all(|o| *s.add(o) == 7));
            heap.dealloc(s, Layout::from_size_align(20, 8).unwrap());
            let z = heap.alloc_zeroed(large);
            assert!((0..100_000).all(|o| *z.add(o) == 0));
            heap.dealloc(z, large);
            let reused = heap.alloc_zeroed(small);
            assert!((0..40).all(|o| *reused.add(o) == 0));
            heap.dealloc(reused, small);
            let aligned = Layout::from_size_align(64, 64).unwrap();
            let a = heap.alloc(aligned);
            assert_eq!(a as usize % 64, 0);
            heap.dealloc(a, aligned);
        }
    }
}

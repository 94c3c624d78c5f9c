//! What `std` would otherwise provide the binary: the allocator, abort,
//! the program's arguments and the link to musl. tug is `no_std` because
//! std alone costs ~377 KB on musl (see README, "Binary size"); with these
//! few lines it is ~20 KB.
//!
//! The binary (main.rs) still defines the symbols that must be its own
//! (`main`, the panic handler, the unwinder stubs, the `#[global_allocator]`
//! static): the library is also linked into the test harnesses, which have
//! std's. Everything those need that is unsafe is here.

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{CStr, c_char};

/// musl's malloc returns memory aligned for any type up to 16 bytes.
const MALLOC_ALIGN: usize = 16;

/// musl's allocator, for the binary's `#[global_allocator]`.
pub struct Malloc;

// SAFETY (whole impl): every pointer handed out comes from musl's allocator
// and is freed by it exactly once, as GlobalAlloc's contract requires.
unsafe impl GlobalAlloc for Malloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: plain malloc; null on failure is what GlobalAlloc wants.
            unsafe { libc::malloc(layout.size()).cast() }
        } else {
            // SAFETY: align is a power of two >= size_of::<usize>() here.
            unsafe { libc::aligned_alloc(layout.align(), layout.size()).cast() }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: plain calloc. musl skips the memset for memory fresh
            // from mmap, so a large zeroed buffer (the syslog socket's
            // 256 KiB) costs no RSS until it is written.
            unsafe { libc::calloc(1, layout.size()).cast() }
        } else {
            // SAFETY: as alloc, then zeroed in full.
            let p = unsafe { self.alloc(layout) };
            if !p.is_null() {
                // SAFETY: p is valid for layout.size() bytes.
                unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
            }
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: ptr came from malloc/aligned_alloc/realloc above.
        unsafe { libc::free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: ptr came from malloc with a compatible alignment.
            unsafe { libc::realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: the default path copies into a fresh aligned block.
            let new =
                unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
            if !new.is_null() {
                // SAFETY: both blocks are valid for the smaller size.
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            new
        }
    }
}

/// Ends the process at once (SIGABRT), as a bug should.
pub fn abort() -> ! {
    // SAFETY: abort never returns and needs no preconditions.
    unsafe { libc::abort() }
}

/// The `argv` or `envp` that the C runtime passes to `main`: a
/// NULL-terminated array of NUL-terminated strings that live as long as
/// the process. The field is private and there is no constructor, so a
/// value exists only where the C runtime made one (main's parameters):
/// that is what makes `strings` safe to call.
#[repr(transparent)]
pub struct Argv(*const *const c_char);

impl Argv {
    /// The strings, in order.
    pub fn strings(&self) -> Vec<&'static CStr> {
        let mut out = Vec::new();
        if self.0.is_null() {
            return out;
        }
        let mut i = 0;
        loop {
            // SAFETY: an Argv comes from the C runtime only (see the type):
            // a NULL-terminated array, read up to its NULL.
            let p = unsafe { *self.0.add(i) };
            if p.is_null() {
                return out;
            }
            // SAFETY: each entry is a NUL-terminated string living forever.
            out.push(unsafe { CStr::from_ptr(p) });
            i += 1;
        }
    }
}

// The libc crate without std does not ask the linker for libc itself.
#[cfg(target_env = "musl")]
#[link(name = "c", kind = "static", modifiers = "-bundle")]
unsafe extern "C" {}
// A host (glibc) build only serves `cargo test`, which builds every binary.
#[cfg(not(target_env = "musl"))]
#[link(name = "c")]
unsafe extern "C" {}

//! What `std` would otherwise provide: the allocator, the panic handler and
//! the link to musl. tug is `no_std` because std alone costs ~377 KB on
//! musl (see README, "Binary size"); with these few lines it is ~20 KB.

use tug::sys::fd::write_all;
extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};

/// musl's malloc returns memory aligned for any type up to 16 bytes.
const MALLOC_ALIGN: usize = 16;

struct Musl;

// SAFETY (whole impl): every pointer handed out comes from musl's allocator
// and is freed by it exactly once, as GlobalAlloc's contract requires.
unsafe impl GlobalAlloc for Musl {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: plain malloc; null on failure is what GlobalAlloc wants.
            unsafe { libc::malloc(layout.size()).cast() }
        } else {
            // SAFETY: align is a power of two >= size_of::<usize>() here.
            unsafe { libc::aligned_alloc(layout.align(), layout.size()).cast() }
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

#[global_allocator]
static ALLOCATOR: Musl = Musl;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // A bug, not an expected error. Say where, then abort: a PID 1 that
    // unwinds or hangs is worse than one that dies loudly.
    let msg = alloc::format!("tug: internal error: {info}\n");
    write_all(2, msg.as_bytes());
    // SAFETY: abort never returns and needs no preconditions.
    unsafe { libc::abort() }
}

// The prebuilt liballoc was compiled with unwinding and references these
// two symbols; with panic=abort nothing ever calls them.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    // SAFETY: abort never returns and needs no preconditions.
    unsafe { libc::abort() }
}

// The libc crate without std does not ask the linker for libc itself.
#[cfg(target_env = "musl")]
#[link(name = "c", kind = "static", modifiers = "-bundle")]
unsafe extern "C" {}
// A host (glibc) build only serves `cargo test`, which builds every binary.
#[cfg(not(target_env = "musl"))]
#[link(name = "c")]
unsafe extern "C" {}

//! The tug binary: the C entry point and the runtime glue a `no_std`
//! executable must define itself (its allocator, panic handler and
//! unwinder stubs). Everything else is in the library (lib.rs), the
//! unsafe parts of this glue in sys::rt.
//!
//! No `unsafe` code here but the `#[unsafe(no_mangle)]` attribute on the
//! three C symbols, which must be this crate's: the library is also linked
//! into the test harnesses, which have std's `main` and personality
//! routine (the same symbols in the library would clash there).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

use core::ffi::c_int;
use tug::sys::heap::Heap;
use tug::sys::rt::{Argv, abort};

#[global_allocator]
static ALLOCATOR: Heap = Heap::new();

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // A bug, not an expected error. Say where, then abort: a PID 1 that
    // unwinds or hangs is worse than one that dies loudly.
    let msg = alloc::format!("tug: internal error: {info}\n");
    tug::sys::fd::write_all(2, msg.as_bytes());
    abort()
}

// musl's crt calls `main` with the kernel's argv and envp, which Argv
// reads (the reason it is sound is in sys::rt).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, argv: Argv, envp: Argv) -> c_int {
    tug::run(&argv.strings(), tug::env::Environ::new(envp.strings()))
}

// The prebuilt liballoc was compiled with unwinding and references these
// two symbols; with panic=abort nothing ever calls them.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    abort()
}

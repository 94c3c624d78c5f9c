//! The tug binary: the runtime glue a `no_std` executable needs, and the
//! C entry point. Everything else is in the library (lib.rs).

#![no_std]
#![no_main]

mod rt;

use core::ffi::{c_char, c_int};

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // SAFETY: musl's crt passes the kernel's argv and envp, which are
    // NULL-terminated and live until the process exits.
    let (args, vars) = unsafe { (tug::c_strings(argv), tug::c_strings(envp)) };
    tug::run(&args, tug::env::Environ::new(vars))
}

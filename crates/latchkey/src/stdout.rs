//! What the command-line tools print for a script to read: one line at a time on stdout,
//! and never a panic when the reader has gone away.
//!
//! `println!` panics when stdout is a closed pipe (`latchkey reg get my-app | head -1`):
//! Rust ignores SIGPIPE, so the write fails with `EPIPE` instead of ending the process as
//! it would end a C tool. A reader that stopped reading wants no more output, so the rest
//! is dropped and the command finishes with its own exit code.

use std::fmt::Display;
use std::io::Write;

/// Prints `text` and a newline on stdout; a failed write (the reader went away) is
/// dropped.
pub fn line(text: impl Display) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `println!` through [`line`]: `out!("{id}")`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}

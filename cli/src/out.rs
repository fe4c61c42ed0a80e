//! Printing that never panics. `println!` panics when stdout is a closed pipe
//! (`edgeflag publish … | head -1`), which would stop a publish half-way through
//! its environments. These macros write to the locked stream and ignore a closed
//! reader: the work goes on and the exit status is the command's own. Any other
//! write error (a full disk behind `> file`) is remembered and, once the command
//! is done, reported by `main`, which then exits 1.

use std::io::{ErrorKind, Write};
use std::sync::OnceLock;

/// The first write error other than a closed pipe, if any.
static FAILED: OnceLock<String> = OnceLock::new();

/// Writes to stdout, ignoring a closed pipe.
pub(crate) fn stdout(args: std::fmt::Arguments<'_>) {
    let result = std::io::stdout().lock().write_fmt(args);
    remember("stdout", result);
}

/// Writes to stderr, ignoring a closed pipe.
pub(crate) fn stderr(args: std::fmt::Arguments<'_>) {
    let result = std::io::stderr().lock().write_fmt(args);
    remember("stderr", result);
}

/// Records `result`'s error unless it is a closed pipe.
pub(crate) fn remember(stream: &str, result: std::io::Result<()>) {
    if let Err(e) = result {
        if e.kind() != ErrorKind::BrokenPipe {
            let _ = FAILED.set(format!("writing to {stream}: {e}"));
        }
    }
}

/// The first write error other than a closed pipe.
pub(crate) fn failure() -> Option<&'static str> {
    FAILED.get().map(String::as_str)
}

/// `print!` to stdout without panicking on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!($($arg)*))
    };
}

/// `println!` to stdout without panicking on a closed pipe.
macro_rules! outln {
    () => {
        $crate::out::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` without panicking on a closed pipe.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

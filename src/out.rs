//! Everything dwb prints goes through here: stdout (`out!`, `outln!`) and
//! stderr (`errout!`, `errln!`).
//!
//! `println!` panics when stdout is a closed pipe (`dwb run sync | head -1`)
//! or a full disk (`>/dev/full`), and a panic exits 101: a run that applied
//! every change would report failure. Here a failed write stops the output
//! instead: nothing more is written, a full disk (or any error other than a
//! closed pipe) is said once on stderr, and the command's own exit code stands.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STOPPED: AtomicBool = AtomicBool::new(false);

/// Prints to stdout; stops quietly once stdout failed.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write_fmt(format_args!($($arg)*)) };
}

/// Prints a line to stdout; stops quietly once stdout failed.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::write_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to stderr. Unlike `eprint!`, a failed write (stderr a closed pipe,
/// `2>&1 | head -1`, or a full disk) is ignored, never a panic: messages are
/// lost, the command's work and exit code are not.
#[macro_export]
macro_rules! errout {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), "{}", format_args!($($arg)*));
    }};
}

/// Prints a line to stderr, ignoring a failed write (see `errout!`).
#[macro_export]
macro_rules! errln {
    () => { $crate::errout!("\n") };
    ($($arg:tt)*) => { $crate::errout!("{}\n", format_args!($($arg)*)) };
}

/// Writes formatted text to stdout (use `out!` / `outln!`).
pub fn write_fmt(args: std::fmt::Arguments<'_>) {
    with_stdout(|w| w.write_fmt(args));
}

/// Writes bytes to stdout, e.g. a completion script generated into a buffer.
pub fn write_bytes(bytes: &[u8]) {
    with_stdout(|w| w.write_all(bytes));
}

/// Hands a locked stdout to `write` (a report streamed change by change);
/// an error stops the output as for `out!`.
pub fn with_stdout(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    if stopped() {
        return;
    }
    let mut lock = std::io::stdout().lock();
    // Flushed at once: an error shows here, not in the runtime's silent flush at exit.
    if let Err(e) = write(&mut lock).and_then(|()| lock.flush()) {
        stop(&e);
    }
}

/// True once a write to stdout failed: later output is dropped.
pub fn stopped() -> bool {
    STOPPED.load(Ordering::Relaxed)
}

fn stop(e: &std::io::Error) {
    if STOPPED.swap(true, Ordering::Relaxed) {
        return;
    }
    // A reader that has seen enough (`| head`) is not an error worth a word.
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        let _ = writeln!(std::io::stderr(), "dwb: stdout: {e}; output stopped");
    }
}

//! Standard output and standard error that a closed pipe cannot crash: `sigil verify … | head -1`
//! ends quietly with the command's own exit code. A write to a closed pipe is dropped (and the
//! stream marked closed); any other write error (a full disk behind a redirection) is kept and
//! turns the command's exit code into 3 at the end, so no output is silently lost.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static OUT_CLOSED: AtomicBool = AtomicBool::new(false);
static ERR_CLOSED: AtomicBool = AtomicBool::new(false);
static FAILED: Mutex<Option<String>> = Mutex::new(None);

fn note(result: io::Result<()>, closed: &AtomicBool, stream: &str) {
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => closed.store(true, Ordering::Relaxed),
        Err(e) => {
            let mut f = FAILED.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert_with(|| format!("cannot write to standard {stream}: {e}"));
        }
    }
}

/// Writes bytes to standard output.
pub fn out_bytes(bytes: &[u8]) {
    if OUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = io::stdout().lock();
    note(
        o.write_all(bytes).and_then(|()| o.flush()),
        &OUT_CLOSED,
        "output",
    );
}

/// Writes formatted text to standard output.
pub fn out(args: fmt::Arguments<'_>) {
    if OUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = io::stdout().lock();
    note(o.write_fmt(args), &OUT_CLOSED, "output");
}

/// Writes formatted text to standard error.
pub fn err(args: fmt::Arguments<'_>) {
    if ERR_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut e = io::stderr().lock();
    note(e.write_fmt(args), &ERR_CLOSED, "error");
}

/// Flushes standard output; the first write error that was not a closed pipe, if any.
pub fn finish() -> Option<String> {
    if !OUT_CLOSED.load(Ordering::Relaxed) {
        note(io::stdout().lock().flush(), &OUT_CLOSED, "output");
    }
    FAILED.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// `print!` that survives a closed standard output.
macro_rules! out {
    ($($t:tt)*) => { $crate::console::out(format_args!($($t)*)) };
}

/// `println!` that survives a closed standard output.
macro_rules! outln {
    () => { $crate::console::out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::console::out(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` that survives a closed standard error.
macro_rules! errln {
    () => { $crate::console::err(format_args!("\n")) };
    ($($t:tt)*) => { $crate::console::err(format_args!("{}\n", format_args!($($t)*))) };
}
